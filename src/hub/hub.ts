import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type HandshakeRefusal,
  type PreparedMessage,
  prepareMessage,
  type WebSocket,
  WebSocketServer,
} from '../index.js';
import { HubCloseCode } from '../wire/codes.js';
import {
  type JsonValue,
  type PubMessage,
  type StreamPosition,
  SUBPROTOCOL,
  type WirePresenceMember,
  type WirePublication,
} from '../wire/messages.js';
import type {
  BrokerListener,
  BrokerPublication,
  BrokerState,
  HistoryQuery,
  HistoryResult,
  PublishInput,
} from './broker.js';
import { type ChannelHost, LocalChannel, PENDING } from './channel.js';
import { HubConnection } from './connection.js';
import { brokerUnavailable, HubError } from './errors.js';
import {
  type ClientInfo,
  type HubOptions,
  policyOf,
  type ResolvedHubOptions,
  resolveHubOptions,
} from './options.js';
import { channelError } from './validate.js';

/** PresenceMember is one user in a channel's presence. */
export type PresenceMember = WirePresenceMember;

/** MethodContext is the second argument of an RPC handler. */
export interface MethodContext {
  client: ClientInfo;
  /** Fires when the caller cancels, disconnects, or the deadline passes. */
  signal: AbortSignal;
}

/** MethodHandler answers one RPC method; throw a HubError to send a public code. */
export type MethodHandler<P = JsonValue | undefined> = (params: P, context: MethodContext) => unknown;

/** HubEvents types the events of a Hub. */
export interface HubEvents {
  /** A client completed `connect` (authenticated). */
  connect: [client: ClientInfo];
  /** A client's socket closed (after `connect`). */
  disconnect: [client: ClientInfo, code: number, reason: string];
  subscribe: [client: ClientInfo, channel: string];
  unsubscribe: [client: ClientInfo, channel: string];
  /** A message was stored; `client` is the publisher, undefined for `hub.publish`. */
  publish: [channel: string, position: StreamPosition, client: ClientInfo | undefined];
  /** The broker went down or came back. */
  broker: [state: BrokerState];
  /** An exception from a hook, a handler or the broker (the hub keeps running). */
  error: [error: unknown];
  /**
   * An upgrade request was refused before it became a hub connection: its WebSocketServer's
   * `refused` event, passed on as is (docs/api.md). A client that does not offer `duplex.v1`
   * is refused with 400 and DUPLEX_HANDSHAKE_NO_SUBPROTOCOL.
   */
  refused: [refusal: HandshakeRefusal, request: IncomingMessage];
}

/** HubStats is a snapshot of the hub's counters. */
export interface HubStats {
  connections: number;
  channels: number;
  subscriptions: number;
  messagesIn: number;
  messagesOut: number;
  /** Payload bytes of the messages received (UTF-8 JSON text and binary payloads, after inflation). */
  bytesIn: number;
  /** Payload bytes of the messages sent (before compression). */
  bytesOut: number;
  publications: number;
  /** What the hub's per-connection queues hold right now, counted as memory: wire bytes plus ENTRY_OVERHEAD per message. */
  queuedBytes: number;
  /** Messages dropped or replaced for slow consumers (drop-oldest, conflate). */
  dropped: number;
  /** Connections closed as slow consumers (4004). */
  slowClosed: number;
  /** Messages refused for the rate limit. */
  rateLimited: number;
}

/** Counters are the mutable part of HubStats. */
export type Counters = Omit<HubStats, 'connections' | 'channels' | 'subscriptions'>;

/** HubInternals is what a HubConnection uses of its hub (not public API). */
export interface HubInternals {
  readonly options: ResolvedHubOptions;
  readonly counters: Counters;
  readonly methods: Map<string, MethodHandler>;
  prepare(data: Uint8Array): PreparedMessage;
  pubFrames(channel: string, pub: BrokerPublication, conflated: boolean): readonly PreparedMessage[];
  wirePublication(pub: BrokerPublication): WirePublication;
  report(error: unknown): void;
  channelFor(connection: HubConnection, channel: string): Promise<LocalChannel>;
  unsubscribe(connection: HubConnection, channel: string): void;
  subscribed(connection: HubConnection, channel: LocalChannel): void;
  connected(connection: HubConnection): void;
  disconnected(connection: HubConnection, wasOpen: boolean, code: number, reason: string): void;
  presence(channel: string): Promise<PresenceMember[]>;
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  store(channel: string, input: PublishInput, client: ClientInfo | undefined): Promise<StreamPosition>;
}

/** CloseOptions choose how `hub.close()` tells clients. */
export interface CloseOptions {
  /** Close with 1012 (service restart) and a retry hint instead of 1001. @default false */
  restart?: boolean;
  /** The hint sent with 1012 as the reason `{"retryAfterMs":N}`. @default 1_000 */
  retryAfterMs?: number;
  /**
   * Spread of the hint: each client gets `retryAfterMs` plus its own random share of
   * `retryJitterMs`, so that the clients of a restarting process do not all come back in the
   * same instant (a rolling restart moves them to the other processes in a spread). @default 0
   */
  retryJitterMs?: number;
}

const PING = JSON.stringify({ type: 'ping' });

function offersSubprotocol(req: IncomingMessage): boolean {
  const header = req.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((p) => p.trim() === SUBPROTOCOL);
}

/**
 * Hub serves the real-time protocol `duplex.v1` (docs/protocol.md): channels with recovery
 * from history, presence, acknowledged publish, RPC, authentication and authorization, and
 * limits, over Duplex's WebSocketServer, and across processes through its Broker.
 */
export class Hub extends EventEmitter<HubEvents> implements HubInternals, ChannelHost, BrokerListener {
  readonly options: ResolvedHubOptions;
  readonly counters: Counters = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    publications: 0,
    queuedBytes: 0,
    dropped: 0,
    slowClosed: 0,
    rateLimited: 0,
  };
  readonly methods = new Map<string, MethodHandler>();
  readonly #wss: WebSocketServer;
  readonly #connections = new Map<string, HubConnection>();
  readonly #channels = new Map<string, LocalChannel>();
  readonly #timer: NodeJS.Timeout;
  readonly #idPrefix = `${randomBytes(6).toString('base64url')}.`;
  #seq = 0;
  #ping: PreparedMessage;
  #nextPing: number;
  #nextPresence: number;
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions) {
    super();
    this.options = resolveHubOptions(options);
    const limits = this.options.limits;
    this.#wss = new WebSocketServer({
      ...options.websocket,
      server: options.server,
      path: options.path,
      noServer: options.noServer,
      port: options.port,
      host: options.host,
      maxPayload: 4 * limits.maxMessageBytes,
      maxBufferedAmount: Math.max(16 * 1024 * 1024, 4 * limits.slowConsumerBytes),
      authenticate: (req) => {
        if (!offersSubprotocol(req)) {
          return {
            status: 400,
            code: 'DUPLEX_HANDSHAKE_NO_SUBPROTOCOL',
            body: `offer the subprotocol ${SUBPROTOCOL}\n`,
          };
        }
        return options.websocket?.authenticate?.(req) ?? true;
      },
      handleProtocols: (protocols) => (protocols.includes(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.#wss.on('connection', this.#onConnection);
    this.#wss.on('error', (error) => this.report(error));
    this.#wss.on('refused', (refusal, req) => this.emit('refused', refusal, req));
    this.options.broker.attach(this);
    this.#ping = prepareMessage(PING);
    const now = this.options.clock();
    this.#nextPing = now + limits.pingIntervalMs;
    this.#nextPresence = now + this.options.presenceTtlMs / 3;
    this.#timer = setInterval(this.#tick, this.options.tickMs);
    this.#timer.unref();
  }

  /** address is the address of a standalone hub's or the attached server's socket. */
  address(): AddressInfo | string | null {
    return this.#wss.address();
  }

  /** handleUpgrade takes over an HTTP upgrade (noServer mode) and serves the hub on it. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws, request) => this.#onConnection(ws, request));
  }

  /**
   * publish stores a message on a channel and sends it to every subscriber (JSON data, or a
   * Uint8Array as a binary message; the bytes are referenced, do not modify them). Resolves with
   * its position; rejects with a retryable DUPLEX_HUB_BROKER_UNAVAILABLE HubError when the
   * broker failed (nothing was stored).
   */
  async publish(
    channel: string,
    data: JsonValue | Uint8Array,
    options: { idempotencyKey?: string; conflationKey?: string } = {},
  ): Promise<StreamPosition> {
    const problem = channelError(channel);
    if (problem) throw new TypeError(problem);
    const input: PublishInput = {
      idempotencyKey: options.idempotencyKey,
      conflationKey: options.conflationKey,
    };
    if (data instanceof Uint8Array) input.binary = data;
    else {
      if (JSON.stringify(data) === undefined) throw new TypeError('data must be JSON');
      input.data = data;
    }
    return this.store(channel, input, undefined);
  }

  /**
   * method registers (or replaces) an RPC method. `P` types the params for the handler's
   * convenience only: they arrive as the client sent them (any JSON), so check them before use.
   */
  method<P = JsonValue | undefined>(name: string, handler: MethodHandler<P>): this {
    this.methods.set(name, handler as MethodHandler);
    return this;
  }

  /** presence lists a channel's members, one per user with their connection count. */
  async presence(channel: string): Promise<PresenceMember[]> {
    const entries = await this.#broker(() => this.options.broker.presenceList(channel));
    const members = new Map<string, PresenceMember>();
    for (const entry of entries) {
      const member = members.get(entry.user);
      if (member) member.connections++;
      else {
        const m: PresenceMember = { user: entry.user, connections: 1 };
        if (entry.info !== undefined) m.info = entry.info;
        members.set(entry.user, m);
      }
    }
    return [...members.values()];
  }

  /** history reads a channel's stored messages. */
  history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    return this.#broker(() => this.options.broker.history(channel, query));
  }

  /** disconnect closes one client with 4006 (HubClient does not reconnect). */
  disconnect(clientId: string, reason = 'disconnected'): boolean {
    const connection = this.#connections.get(clientId);
    connection?.close(HubCloseCode.Kicked, reason);
    return connection !== undefined;
  }

  /** stats is a snapshot of the hub's counters. */
  stats(): HubStats {
    let subscriptions = 0;
    for (const channel of this.#channels.values()) subscriptions += channel.subscribers.size;
    return {
      connections: this.#connections.size,
      channels: this.#channels.size,
      subscriptions,
      ...this.counters,
    };
  }

  /**
   * close shuts the hub down: no new connections (503), every client gets 1001 (or 1012 with
   * `{"retryAfterMs":N}` when restarting), and it resolves once they are gone. The default
   * broker is closed too; one passed in is left open.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options);
    return this.#closing;
  }

  async #shutdown(options: CloseOptions): Promise<void> {
    clearInterval(this.#timer);
    const code = options.restart ? HubCloseCode.ServiceRestart : HubCloseCode.GoingAway;
    const base = Math.max(0, options.retryAfterMs ?? 1_000);
    const jitter = Math.max(0, options.retryJitterMs ?? 0);
    const reason = (): string =>
      options.restart
        ? JSON.stringify({ retryAfterMs: Math.round(base + Math.random() * jitter) })
        : 'hub shutting down';
    for (const connection of this.#connections.values()) connection.close(code, reason());
    await this.#wss.close();
    for (const channel of this.#channels.values()) channel.close();
    const names = [...this.#channels.keys()];
    this.#channels.clear();
    for (const name of names) await this.options.broker.unsubscribe(name).catch(() => {});
    if (this.options.ownsBroker) await this.options.broker.close();
  }

  // ---- internals (HubInternals, ChannelHost, BrokerListener) ---------------------------------

  get broker() {
    return this.options.broker;
  }

  report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('duplex hub:', error);
  }

  prepare(data: Uint8Array): PreparedMessage {
    return prepareMessage(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { binary: true });
  }

  wirePublication(pub: BrokerPublication): WirePublication {
    const wire: WirePublication = { offset: pub.offset, epoch: pub.epoch };
    if (pub.binary !== undefined) wire.binary = true;
    else wire.data = pub.data ?? null;
    if (pub.from !== undefined) wire.from = pub.from;
    return wire;
  }

  pubFrames(channel: string, pub: BrokerPublication, conflated: boolean): readonly PreparedMessage[] {
    const message: PubMessage = { type: 'pub', channel, ...this.wirePublication(pub) };
    if (conflated) message.conflated = true;
    const header = prepareMessage(JSON.stringify(message));
    return pub.binary === undefined ? [header] : [header, this.prepare(pub.binary)];
  }

  /** fanOut frames one publication once and hands it to every local subscriber. */
  fanOut(channel: LocalChannel, pub: BrokerPublication): void {
    if (channel.subscribers.size === 0) return;
    let frames: readonly PreparedMessage[];
    try {
      frames = this.pubFrames(channel.name, pub, false);
    } catch (error) {
      this.report(error);
      return;
    }
    for (const [connection, state] of channel.subscribers) connection.deliver(channel, state, pub, frames);
  }

  async channelFor(connection: HubConnection, name: string): Promise<LocalChannel> {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = new LocalChannel(this, name, policyOf(this.options, name));
      this.#channels.set(name, channel);
    }
    channel.subscribers.set(connection, PENDING);
    try {
      await channel.ready;
    } catch (error) {
      throw error instanceof HubError ? error : brokerUnavailable(undefined, error);
    }
    return channel;
  }

  subscribed(connection: HubConnection, channel: LocalChannel): void {
    if (connection.user !== '' && channel.policy.presence) {
      this.#presenceAdd(connection, channel.name);
    }
    this.emit('subscribe', connection, channel.name);
  }

  unsubscribe(connection: HubConnection, name: string): void {
    const names = connection.channels;
    const index = names ? names.indexOf(name) : -1;
    if (index === -1) return;
    names!.splice(index, 1);
    if (names!.length === 0) connection.channels = undefined;
    const channel = this.#channels.get(name);
    if (!channel) return;
    const state = channel.subscribers.get(connection);
    const wasLive = state !== undefined && state !== PENDING;
    channel.subscribers.delete(connection);
    if (wasLive && connection.user !== '' && channel.policy.presence) {
      this.options.broker.presenceRemove(name, connection.id).catch((error) => this.report(error));
    }
    if (channel.subscribers.size === 0) {
      channel.close();
      this.#channels.delete(name);
      this.options.broker.unsubscribe(name).catch((error) => this.report(error));
    }
    if (wasLive) this.emit('unsubscribe', connection, name);
  }

  connected(connection: HubConnection): void {
    this.emit('connect', connection);
  }

  disconnected(connection: HubConnection, wasOpen: boolean, code: number, reason: string): void {
    this.#connections.delete(connection.id);
    if (connection.channels) for (const name of [...connection.channels]) this.unsubscribe(connection, name);
    if (wasOpen) this.emit('disconnect', connection, code, reason);
  }

  async store(channel: string, input: PublishInput, client: ClientInfo | undefined): Promise<StreamPosition> {
    const policy = policyOf(this.options, channel);
    const result = await this.#broker(() => this.options.broker.publish(channel, input, policy.history));
    const position = { offset: result.offset, epoch: result.epoch };
    if (!result.duplicate) {
      this.counters.publications++;
      this.emit('publish', channel, position, client);
    }
    return position;
  }

  async #broker<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof HubError) throw error;
      this.report(error);
      throw brokerUnavailable(undefined, error);
    }
  }

  #presenceAdd(connection: HubConnection, channel: string): void {
    const entry = { client: connection.id, user: connection.user, info: connection.info };
    if (entry.info === undefined) delete entry.info;
    this.options.broker
      .presenceAdd(channel, entry, this.options.presenceTtlMs)
      .catch((error) => this.report(error));
  }

  onPublication(channel: string, publication: BrokerPublication): void {
    this.#channels.get(channel)?.receive(publication);
  }

  onJoin(channel: string, member: { user: string; info?: JsonValue }): void {
    this.#presenceEvent('join', channel, member);
  }

  onLeave(channel: string, member: { user: string; info?: JsonValue }): void {
    this.#presenceEvent('leave', channel, member);
  }

  #presenceEvent(type: 'join' | 'leave', name: string, member: { user: string; info?: JsonValue }): void {
    const channel = this.#channels.get(name);
    if (!channel?.policy.joinLeave) return;
    const frame = prepareMessage(JSON.stringify({ type, channel: name, member }));
    for (const [connection, state] of channel.subscribers) {
      if (state !== PENDING) connection.sendPrepared(frame);
    }
  }

  onBrokerState(state: BrokerState): void {
    this.emit('broker', state);
    if (state === 'up') for (const channel of this.#channels.values()) channel.catchUp();
  }

  #onConnection = (ws: WebSocket, request: IncomingMessage): void => {
    if (this.#closing) {
      ws.close(HubCloseCode.GoingAway, 'hub shutting down');
      return;
    }
    const id = `${this.#idPrefix}${(++this.#seq).toString(36)}`;
    this.#connections.set(id, new HubConnection(this, ws, request, id));
  };

  /** #tick is the hub's one timer: connect deadlines, token expiry, pings, presence refresh, queue flushes. */
  #tick = (): void => {
    const now = this.options.clock();
    const limits = this.options.limits;
    const pingDue = now >= this.#nextPing;
    if (pingDue) this.#nextPing = now + limits.pingIntervalMs;
    const presenceDue = now >= this.#nextPresence;
    if (presenceDue) this.#nextPresence = now + this.options.presenceTtlMs / 3;
    for (const connection of this.#connections.values()) {
      if (connection.connecting) {
        if (now >= connection.deadline) connection.close(HubCloseCode.ConnectTimeout, 'no connect in time');
        continue;
      }
      if (!connection.open) continue;
      if (connection.deadline !== 0 && now >= connection.deadline) {
        connection.close(HubCloseCode.TokenExpired, 'token expired');
        continue;
      }
      if (pingDue) {
        if (connection.awaitingPong) {
          connection.close(HubCloseCode.NoPong, 'no pong in time');
          continue;
        }
        connection.awaitingPong = true;
        connection.sendPrepared(this.#ping);
      }
      if (presenceDue && connection.user !== '' && connection.channels) {
        for (const name of connection.channels) {
          const channel = this.#channels.get(name);
          const state = channel?.subscribers.get(connection);
          if (channel?.policy.presence && state !== undefined && state !== PENDING) {
            this.#presenceAdd(connection, name);
          }
        }
      }
      if (connection.queue) connection.flush();
    }
  };
}
