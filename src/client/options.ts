import type { BackoffOptions } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { defaultWebSocket, type WebSocketConstructor } from './transport.js';

/** TokenSource is a fixed token, or a function called for every connection and every refresh. */
export type TokenSource = string | (() => string | Promise<string>);

/** HubClientOptions configure a HubClient; every default is stated here and resolved once. */
export interface HubClientOptions {
  /**
   * The bearer token sent in `connect` (never in the URL). A function is called again for each
   * (re)connection and for each refresh before the hub's `expiresIn` runs out (at 80 % of it);
   * a fixed string cannot be refreshed. @default none (anonymous)
   */
  token?: TokenSource;
  /** The WebSocket class. In Node: `import { WebSocket } from 'duplexjs'`. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Client name and version sent in `connect`, for the hub's logs. */
  name?: string;
  version?: string;
  /** Reconnect backoff: full jitter between 0 and min(maxMs, baseMs * 2^attempt). @default { baseMs: 500, maxMs: 30 000 } */
  backoff?: Partial<BackoffOptions>;
  /** The longest 1012 retry hint honoured (larger hints are capped). @default 300 000 */
  maxRetryAfterMs?: number;
  /**
   * Bounds of the offline queue: publishes, calls, presence and history requests made while the
   * client is not open wait here. Beyond either bound a request is rejected at once with
   * DUPLEX_HUB_OFFLINE_QUEUE_FULL. @default { maxCount: 100, maxBytes: 1 MiB }
   */
  offlineQueue?: { maxCount?: number; maxBytes?: number };
  /**
   * Default deadline of publish, call, presence and history, counted from the call (time in the
   * offline queue included). Infinity for none. @default 30 000
   */
  requestTimeoutMs?: number;
  /** From the start of an attempt (token function included) to the hub's `connected`; then it is dropped and retried. @default 10 000 */
  connectTimeoutMs?: number;
  /** Time and timers, for tests. @default the platform's */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter, for tests. @default Math.random */
  random?: () => number;
}

/** ResolvedOptions are HubClientOptions with every default filled in. */
export interface ResolvedOptions {
  token: TokenSource | undefined;
  WebSocket: WebSocketConstructor;
  name: string | undefined;
  version: string | undefined;
  backoff: BackoffOptions;
  maxRetryAfterMs: number;
  maxQueueCount: number;
  maxQueueBytes: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  clock: Clock;
  random: () => number;
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new TypeError(`HubClient: ${name} must be a positive number, got ${value}`);
  return value;
}

/** resolveOptions fills in the defaults and checks the numbers. */
export function resolveOptions(user: HubClientOptions): ResolvedOptions {
  const WebSocket = user.WebSocket ?? defaultWebSocket();
  if (WebSocket === undefined) {
    throw new TypeError('HubClient: no global WebSocket here; pass one as the WebSocket option');
  }
  const backoff = {
    baseMs: positive('backoff.baseMs', user.backoff?.baseMs ?? 500),
    maxMs: positive('backoff.maxMs', user.backoff?.maxMs ?? 30_000),
  };
  return {
    token: user.token,
    WebSocket,
    name: user.name,
    version: user.version,
    backoff,
    maxRetryAfterMs: positive('maxRetryAfterMs', user.maxRetryAfterMs ?? 300_000),
    maxQueueCount: Math.max(0, user.offlineQueue?.maxCount ?? 100),
    maxQueueBytes: Math.max(0, user.offlineQueue?.maxBytes ?? 1024 * 1024),
    requestTimeoutMs: positive('requestTimeoutMs', user.requestTimeoutMs ?? 30_000),
    connectTimeoutMs: positive('connectTimeoutMs', user.connectTimeoutMs ?? 10_000),
    clock: user.clock ?? systemClock,
    random: user.random ?? Math.random,
  };
}
