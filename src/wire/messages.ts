/**
 * The hub's wire protocol, `duplex.v1`: every message a client and the hub exchange, as
 * discriminated unions. This file is shared by `src/hub` (the server) and `src/client`
 * (`HubClient`, browser-safe), so it imports nothing but codes.ts and holds types and plain constants only.
 * docs/protocol.md is the prose version; the two must agree.
 */

import type { HubErrorCode } from './codes.js';

/** SUBPROTOCOL is the WebSocket subprotocol a hub client offers and the hub selects. */
export const SUBPROTOCOL = 'duplex.v1';

/**
 * StreamPosition is a place in a channel's stream: `offset` is the offset of the last message
 * (0 before the first), increasing by one per message within an `epoch`. A new epoch starts
 * whenever the channel's log was lost; offsets from another epoch say nothing about this one.
 */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** JsonValue is what `data` can carry in a JSON frame. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** MemberInfo is one user in a channel's presence, as the hub reports it. */
export interface WirePresenceMember {
  user: string;
  /** What `authenticate` returned as the user's public info, if anything. */
  info?: JsonValue;
  /** How many connections of this user are in the channel (join on the first, leave on the last). */
  connections: number;
}

/**
 * WirePublication is one stored message. When `binary` is true, `data` is absent and the next
 * frame from the same sender is a binary frame that holds the payload.
 */
export interface WirePublication {
  offset: number;
  epoch: string;
  data?: JsonValue;
  binary?: true;
  /** The publisher's user id, when a client published (absent for hub.publish). */
  from?: string;
}

// ---------------------------------------------------------------------------------------------
// Client to hub. Every request carries `id`, a positive integer unique among the client's
// outstanding requests on this connection; the reply carries the same `id`.

export interface ConnectRequest {
  type: 'connect';
  id: number;
  /** Bearer token for `authenticate`. Never put it in the URL: URLs end up in logs. */
  token?: string;
  /** Free-form client name and version, for logs and metrics. */
  name?: string;
  version?: string;
}
export interface RefreshRequest {
  type: 'refresh';
  id: number;
  token: string;
}
export interface SubscribeRequest {
  type: 'subscribe';
  id: number;
  channel: string;
  /**
   * Resubscription: the position of the last message this client has; missed messages follow.
   * On a channel already subscribed, it resyncs the subscription (after a gap).
   */
  since?: StreamPosition;
}
export interface UnsubscribeRequest {
  type: 'unsubscribe';
  id: number;
  channel: string;
}
export interface PublishRequest {
  type: 'publish';
  id: number;
  channel: string;
  data?: JsonValue;
  binary?: true;
  /** Makes a retried publish safe: the same key on the same channel is stored once. */
  idempotencyKey?: string;
  /** On a `conflate` channel, messages with the same key replace each other in slow queues. */
  conflationKey?: string;
}
export interface PresenceRequest {
  type: 'presence';
  id: number;
  channel: string;
}
export interface HistoryRequest {
  type: 'history';
  id: number;
  channel: string;
  /** At most this many publications (the hub also caps it). */
  limit?: number;
  /** Only publications after this position (same epoch required). */
  since?: StreamPosition;
  /** Newest first. */
  reverse?: boolean;
}
export interface CallRequest {
  type: 'call';
  id: number;
  method: string;
  params?: JsonValue;
  /** The caller's deadline in ms; the hub aborts the handler after min(this, its own limit). */
  timeoutMs?: number;
}
/** CancelRequest aborts an outstanding call (the caller gave up); there is no reply. */
export interface CancelRequest {
  type: 'cancel';
  id: number;
}
/** Pong answers the hub's `ping`. */
export interface PongMessage {
  type: 'pong';
}

export type ClientMessage =
  | ConnectRequest
  | RefreshRequest
  | SubscribeRequest
  | UnsubscribeRequest
  | PublishRequest
  | PresenceRequest
  | HistoryRequest
  | CallRequest
  | CancelRequest
  | PongMessage;

// ---------------------------------------------------------------------------------------------
// Hub to client: replies (with the request's `id`) and pushes (without).

export interface ConnectedReply {
  type: 'connected';
  id: number;
  /** The hub's id for this connection. */
  client: string;
  /** The authenticated user id ('' for anonymous). */
  user: string;
  /** Milliseconds until the token expires; the client must `refresh` before then. */
  expiresIn?: number;
  /** The hub sends `ping` every this many ms; a client may reconnect when none came in 2x. */
  pingIntervalMs: number;
  /** Limits the hub enforces on this connection. */
  limits: { maxMessageBytes: number; maxSubscriptions: number };
}
export interface RefreshedReply {
  type: 'refreshed';
  id: number;
  expiresIn?: number;
}
export interface SubscribedReply {
  type: 'subscribed';
  id: number;
  channel: string;
  /**
   * For a resubscription with `since`: true when every missed message follows as `pub` (in
   * order, before any live one); false when that was impossible (history too short, epoch
   * changed), and delivery restarts from the current position. Fresh subscriptions: false.
   */
  recovered: boolean;
  /**
   * Where the `pub` messages that follow continue from: `since` when `recovered` is true, else
   * the channel's position at this moment. The next `pub` has offset `position.offset + 1`.
   */
  position: StreamPosition;
}
export interface UnsubscribedReply {
  type: 'unsubscribed';
  /** Present when answering an `unsubscribe`; absent when the hub ended the subscription. */
  id?: number;
  channel: string;
  /** Why the hub ended it (absent when the client asked). */
  code?: HubErrorCode;
  reason?: string;
}
export interface PublishedReply {
  type: 'published';
  id: number;
  channel: string;
  offset: number;
  epoch: string;
}
export interface PresenceReply {
  type: 'presence';
  id: number;
  channel: string;
  members: WirePresenceMember[];
}
export interface HistoryReply {
  type: 'history';
  id: number;
  channel: string;
  /** The channel's position when read. */
  position: StreamPosition;
  /** Binary publications are each followed by their binary frame, in this array's order. */
  publications: WirePublication[];
}
export interface ResultReply {
  type: 'result';
  id: number;
  result?: JsonValue;
}
export interface ErrorReply {
  type: 'error';
  /** The failed request's id; absent for an error that belongs to no request. */
  id?: number;
  code: HubErrorCode;
  message: string;
  /** True when the same request may succeed if sent again later. */
  retryable?: boolean;
}
/** PubMessage is a live or recovered message on a subscribed channel. */
export interface PubMessage extends WirePublication {
  type: 'pub';
  channel: string;
  /**
   * Set on a `conflate` channel when this message replaced older ones queued for a slow client:
   * the jump in offsets before it is deliberate, not a gap to recover.
   */
  conflated?: true;
}
export interface JoinMessage {
  type: 'join';
  channel: string;
  member: { user: string; info?: JsonValue };
}
export interface LeaveMessage {
  type: 'leave';
  channel: string;
  member: { user: string; info?: JsonValue };
}
export interface PingMessage {
  type: 'ping';
}

export type ServerMessage =
  | ConnectedReply
  | RefreshedReply
  | SubscribedReply
  | UnsubscribedReply
  | PublishedReply
  | PresenceReply
  | HistoryReply
  | ResultReply
  | ErrorReply
  | PubMessage
  | JoinMessage
  | LeaveMessage
  | PingMessage;
