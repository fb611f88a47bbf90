import type { IncomingMessage } from 'node:http';
import type { WebSocketServerOptions } from '../index.js';
import type { JsonValue } from '../wire/messages.js';
import type { Broker } from './broker.js';
import { memoryBroker } from './memory-broker.js';

/** ClientInfo is what hooks and events see of one hub connection. */
export interface ClientInfo {
  /** The hub's id for the connection, unique across processes. */
  readonly id: string;
  /** The authenticated user id; '' for anonymous connections. */
  readonly user: string;
  /** The user's public info from `authenticate` (shown in presence). */
  readonly info: JsonValue | undefined;
}

/** HubAction is what `authorize` is asked about. */
export type HubAction = 'subscribe' | 'publish' | 'presence' | 'history';

/** AuthenticateContext is what `authenticate` gets: the token from the client's `connect` (never from the URL). */
export interface AuthenticateContext {
  token: string | undefined;
  /**
   * The HTTP upgrade request (headers, remote address) at connect; undefined on `refresh` (the
   * hub does not keep requests: they would cost every connection several KB).
   */
  request: IncomingMessage | undefined;
  client: ClientInfo;
}

/** Identity is an accepted client: its user id, public info, and when its token expires (ms on the hub's clock). */
export interface Identity {
  user: string;
  info?: JsonValue;
  expiresAt?: number;
}

/**
 * SlowConsumerPolicy decides what happens to a connection whose outbound buffer (the socket's
 * plus the hub's queue) passed `limits.slowConsumerBytes`:
 * - `close`: close it with 4004; the client reconnects and recovers from history.
 * - `drop-oldest`: queue up to `slowConsumerBytes` more and drop the oldest queued messages of
 *   such channels beyond it; the client sees the offset gap and recovers from history.
 * - `conflate`: like `drop-oldest`, and a queued message is replaced by a newer one with the
 *   same conflation key (default: the channel); the newer one goes out marked `conflated`.
 */
export type SlowConsumerPolicy = 'close' | 'drop-oldest' | 'conflate';

/** ChannelPolicy configures the channels of a namespace or one channel. */
export interface ChannelPolicy {
  /** History kept for recovery and `history` requests. @default { size: 100, ttlMs: 300_000 } */
  history?: { size: number; ttlMs: number };
  /** Track presence (authenticated users only). @default true */
  presence?: boolean;
  /** Send join/leave events to subscribers. @default true */
  joinLeave?: boolean;
  /** @default 'close' */
  slowConsumer?: SlowConsumerPolicy;
}

/** HubLimits bound what one connection may do and hold. Every default is stated here. */
export interface HubLimits {
  /** Largest JSON message or binary payload accepted; larger ones get DUPLEX_HUB_TOO_LARGE, over 4x this the socket closes with 1009. @default 65_536 */
  maxMessageBytes?: number;
  /** Subscriptions per connection. @default 128 */
  maxSubscriptions?: number;
  /** Sustained messages per second per connection (token bucket refill). @default 50 */
  messagesPerSecond?: number;
  /**
   * Token bucket size: messages accepted in a burst. It must hold what a client sends right
   * after a reconnect: `connect`, a resubscribe per subscription (up to maxSubscriptions) and
   * HubClient's offline queue (100 by default). @default 300
   */
  messageBurst?: number;
  /** Messages refused in a row for the rate before the connection is closed with 4005. @default 100 */
  rateLimitCloseAfter?: number;
  /** Outbound bytes (socket buffer plus the hub's queue) that make a slow consumer; memory per connection stays below about twice this. @default 1_048_576 */
  slowConsumerBytes?: number;
  /** Time for the client's `connect` message (close 4003). @default 10_000 */
  connectTimeoutMs?: number;
  /** The hub's `ping` interval; a connection that did not answer the previous one is closed with 4007. @default 25_000 */
  pingIntervalMs?: number;
  /** Longest an RPC handler may run (the caller's `timeoutMs` may shorten it). @default 30_000 */
  callTimeoutMs?: number;
  /** RPC calls in flight per connection; more get DUPLEX_HUB_RATE_LIMITED. @default 32 */
  maxCallsInFlight?: number;
  /** Largest `limit` of a history request, and most messages replayed by a recovery. @default 1_000 */
  maxHistoryLimit?: number;
}

/** HubOptions configure a Hub. Give one of `server` or `noServer` (or `port` for a standalone one). */
export interface HubOptions {
  /** Attach to this HTTP(S) server's upgrades (on `path`). */
  server?: WebSocketServerOptions['server'];
  /** Only upgrades to this path. @default every path */
  path?: string;
  /** No HTTP server: call `hub.handleUpgrade(req, socket, head)`. */
  noServer?: boolean;
  /** Standalone: listen on this port (0: any free one). */
  port?: number;
  /** Standalone: the address to listen on. */
  host?: string;
  /**
   * More WebSocketServer settings (origins, deflate, heartbeat...). The hub sets `maxPayload`,
   * `maxBufferedAmount` and `handleProtocols`; its `authenticate` runs after the hub's check that
   * the client offers `duplex.v1` (an HTTP-level check, e.g. of a cookie; the hub's own
   * `authenticate` below sees the token of the `connect` message).
   */
  websocket?: Omit<WebSocketServerOptions, 'server' | 'path' | 'noServer' | 'port' | 'host'>;
  /** @default memoryBroker() (closed by hub.close(); a broker passed in is left open) */
  broker?: Broker;
  /**
   * authenticate checks the `connect` token and returns the client's identity, or `false`
   * (or throws) to refuse with close 4001. Called again on `refresh`.
   * @default none: every client is anonymous (user '') and never expires
   */
  authenticate?: (context: AuthenticateContext) => Identity | false | null | Promise<Identity | false | null>;
  /**
   * authorize decides each action on a channel; `false` (or a throw) refuses with
   * DUPLEX_HUB_FORBIDDEN. @default without it, clients may subscribe and read history and
   * presence on every channel, and may not publish (only `hub.publish` does). A server that
   * lets clients publish says so here, e.g. `authorize: () => true`.
   */
  authorize?: (client: ClientInfo, action: HubAction, channel: string) => boolean | Promise<boolean>;
  /**
   * Policies by namespace (`chat`, the part before the first ':') or by exact channel
   * (`chat:lobby`, which wins); `*` is the default for everything else.
   */
  channels?: Record<string, ChannelPolicy>;
  limits?: HubLimits;
  /** Presence entries expire after this unless refreshed (the hub refreshes at a third of it). @default 60_000 */
  presenceTtlMs?: number;
  /** The time source in ms for rates, expiries and deadlines. @default Date.now */
  clock?: () => number;
  /** Period of the hub's one shared timer (pings, connect timeouts, token expiry, presence refresh). @default 1_000 */
  tickMs?: number;
}

/** ResolvedPolicy is a ChannelPolicy with its defaults. */
export interface ResolvedPolicy {
  history: { size: number; ttlMs: number };
  presence: boolean;
  joinLeave: boolean;
  slowConsumer: SlowConsumerPolicy;
}

export interface ResolvedHubOptions {
  broker: Broker;
  ownsBroker: boolean;
  authenticate: HubOptions['authenticate'];
  authorize: NonNullable<HubOptions['authorize']>;
  policies: Map<string, ResolvedPolicy>;
  defaultPolicy: ResolvedPolicy;
  limits: Required<HubLimits>;
  presenceTtlMs: number;
  clock: () => number;
  tickMs: number;
}

/** LIMITS holds the documented defaults of HubLimits. */
export const LIMITS: Required<HubLimits> = {
  maxMessageBytes: 65_536,
  maxSubscriptions: 128,
  messagesPerSecond: 50,
  messageBurst: 300,
  rateLimitCloseAfter: 100,
  slowConsumerBytes: 1_048_576,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 25_000,
  callTimeoutMs: 30_000,
  maxCallsInFlight: 32,
  maxHistoryLimit: 1_000,
};

const POLICY: ResolvedPolicy = {
  history: { size: 100, ttlMs: 300_000 },
  presence: true,
  joinLeave: true,
  slowConsumer: 'close',
};

/** readOnlyByDefault is the authorize used without one: reading is allowed, client publishing is not. */
function readOnlyByDefault(_client: ClientInfo, action: HubAction): boolean {
  return action !== 'publish';
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function resolvePolicy(name: string, user: ChannelPolicy, base: ResolvedPolicy): ResolvedPolicy {
  const policy = user.slowConsumer ?? base.slowConsumer;
  if (policy !== 'close' && policy !== 'drop-oldest' && policy !== 'conflate') {
    throw new TypeError(`channels['${name}'].slowConsumer must be close, drop-oldest or conflate`);
  }
  const history = user.history ?? base.history;
  if (!(history.size >= 0) || !(history.ttlMs >= 0)) {
    throw new TypeError(`channels['${name}'].history needs a size and a ttlMs of 0 or more`);
  }
  return {
    history: { size: Math.floor(history.size), ttlMs: history.ttlMs },
    presence: user.presence ?? base.presence,
    joinLeave: user.joinLeave ?? base.joinLeave,
    slowConsumer: policy,
  };
}

/** resolveHubOptions checks a Hub's options once and fills in every default. */
export function resolveHubOptions(user: HubOptions): ResolvedHubOptions {
  const limits = { ...LIMITS };
  for (const key of Object.keys(LIMITS) as Array<keyof HubLimits>) {
    limits[key] = positive(`limits.${key}`, user.limits?.[key], LIMITS[key]);
  }
  const channels = user.channels ?? {};
  const defaultPolicy = resolvePolicy('*', channels['*'] ?? {}, POLICY);
  const policies = new Map<string, ResolvedPolicy>();
  for (const [name, policy] of Object.entries(channels)) {
    if (name !== '*') policies.set(name, resolvePolicy(name, policy, defaultPolicy));
  }
  return {
    broker: user.broker ?? memoryBroker({ clock: user.clock }),
    ownsBroker: user.broker === undefined,
    authenticate: user.authenticate,
    authorize: user.authorize ?? readOnlyByDefault,
    policies,
    defaultPolicy,
    limits,
    presenceTtlMs: positive('presenceTtlMs', user.presenceTtlMs, 60_000),
    clock: user.clock ?? Date.now,
    tickMs: positive('tickMs', user.tickMs, 1_000),
  };
}

/** policyOf finds a channel's policy: the exact channel, else its namespace, else the default. */
export function policyOf(options: ResolvedHubOptions, channel: string): ResolvedPolicy {
  const exact = options.policies.get(channel);
  if (exact) return exact;
  const colon = channel.indexOf(':');
  if (colon !== -1) {
    const ns = options.policies.get(channel.slice(0, colon));
    if (ns) return ns;
  }
  return options.defaultPolicy;
}
