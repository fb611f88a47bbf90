/**
 * The Broker interface: everything the hub needs from the outside world to act as one hub
 * across processes. A broker stores each channel's position and bounded history, assigns
 * offsets atomically, remembers idempotency keys, fans publications out between processes and
 * keeps presence. It is asynchronous and may fail (requests then reject with a retryable
 * `DUPLEX_HUB_BROKER_UNAVAILABLE` HubError) or lose its data (the next message of a channel
 * then starts a new epoch). `memoryBroker()` is the one-process implementation; every broker
 * passes the shared conformance suite test/hub/broker-suite.ts.
 */
import type { JsonValue, StreamPosition } from '../wire/messages.js';

/** BrokerPublication is one stored message of a channel. */
export interface BrokerPublication {
  offset: number;
  epoch: string;
  /** The JSON payload (absent for a binary message). */
  data?: JsonValue;
  /** The binary payload, when the message is binary. */
  binary?: Uint8Array;
  /** The publishing user's id (client publishes of authenticated users). */
  from?: string;
  /** The publisher's conflation key, for the `conflate` slow-consumer policy. */
  conflationKey?: string;
}

/** PublishInput is what the hub asks a broker to store and fan out. */
export interface PublishInput {
  data?: JsonValue;
  binary?: Uint8Array;
  from?: string;
  conflationKey?: string;
  /** A publish with a key already stored on the channel within the idempotency window is not stored again. */
  idempotencyKey?: string;
}

/** HistoryPolicy bounds a channel's stored history. */
export interface HistoryPolicy {
  /** Messages kept; 0 keeps none (offsets are still assigned). */
  size: number;
  /** Age in ms after which a message is dropped from the history. */
  ttlMs: number;
}

/** PublishResult is the position the broker assigned; `duplicate` when the idempotency key was already stored. */
export interface PublishResult extends StreamPosition {
  duplicate: boolean;
}

/** HistoryQuery selects publications of a channel. */
export interface HistoryQuery {
  /** Only publications after this position. */
  since?: StreamPosition;
  /** At most this many (the newest ones, or with `since` the oldest after it). */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}

/** HistoryResult is what a history read found. */
export interface HistoryResult {
  /** The channel's position at the time of the read. */
  position: StreamPosition;
  /** Oldest first unless `reverse`. */
  publications: BrokerPublication[];
  /**
   * With `since`: true when `since` is in the current epoch and the history still holds every
   * publication after it (so the result, without `limit`, is exactly what was missed). Without
   * `since`: true.
   */
  complete: boolean;
}

/** PresenceEntry is one connection in a channel's presence. */
export interface PresenceEntry {
  /** The hub's connection id (unique across processes). */
  client: string;
  user: string;
  info?: JsonValue;
}

/** BrokerState is whether the broker can serve requests. */
export type BrokerState = 'up' | 'down';

/**
 * BrokerListener receives what a broker delivers to its process: publications of the channels
 * this instance subscribed to (in offset order per channel), presence changes (join with a
 * user's first connection, leave with the last one, or when entries expired), and state changes.
 * Methods on one object, so the hub passes itself and no closures.
 */
export interface BrokerListener {
  onPublication(channel: string, publication: BrokerPublication): void;
  onJoin(channel: string, member: { user: string; info?: JsonValue }): void;
  onLeave(channel: string, member: { user: string; info?: JsonValue }): void;
  onBrokerState(state: BrokerState): void;
}

/**
 * Broker is the hub's only way to other processes. Channels are subscribed once per process
 * (not per client); the hub fans out to its own connections.
 */
export interface Broker {
  /** attach sets the listener of this instance (one hub per broker instance). */
  attach(listener: BrokerListener): void;
  /**
   * publish atomically assigns the next offset (starting a new epoch when the channel's log was
   * lost), stores the message within the history bounds, and hands it to every subscribed
   * instance. With an `idempotencyKey` already stored, it stores nothing and resolves with the
   * original position and `duplicate: true`.
   */
  publish(channel: string, input: PublishInput, history: HistoryPolicy): Promise<PublishResult>;
  /** subscribe starts delivering the channel's publications and presence events to this instance's listener. */
  subscribe(channel: string): Promise<void>;
  /** unsubscribe stops it. */
  unsubscribe(channel: string): Promise<void>;
  /** position reads the channel's current position (offset 0 and a fresh epoch for a channel never used). */
  position(channel: string): Promise<StreamPosition>;
  /** history reads stored publications. */
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  /** presenceAdd adds or refreshes a connection's entry; it expires after `ttlMs` unless refreshed again. */
  presenceAdd(channel: string, entry: PresenceEntry, ttlMs: number): Promise<void>;
  /** presenceRemove removes a connection's entry. */
  presenceRemove(channel: string, client: string): Promise<void>;
  /** presenceList lists the live entries of a channel, one per connection. */
  presenceList(channel: string): Promise<PresenceEntry[]>;
  /** close releases the broker's resources; later calls reject. */
  close(): Promise<void>;
}
