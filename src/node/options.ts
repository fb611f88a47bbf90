import type { Agent, Server as HttpServer, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { InvalidArgumentError, type PerMessageDeflateOptions } from '../protocol/index.js';
import { type Clock, realClock } from './clock.js';
import type { HandshakeRate } from './connection-limits.js';
import type { OfferedProtocols } from './offered-protocols.js';
import { checkServerOptionNames } from './option-names.js';
import { fromVerifyClient } from './verify-client.js';

export type { HandshakeRate } from './connection-limits.js';
export type { OfferedProtocols } from './offered-protocols.js';

/** MiB is one mebibyte, the unit of the size defaults below. */
const MiB = 1024 * 1024;

/**
 * HeartbeatOptions configures keep-alive probing. A connection from which no byte arrived
 * for `interval` ms is pinged; when still nothing arrives within `timeout` ms more, it is
 * terminated (closed locally with 1006, no close handshake). Any incoming byte counts as a
 * sign of life, so a slow peer that is busy sending a large message is never killed.
 */
export interface HeartbeatOptions {
  /** Idle time before a ping is sent. @default 30_000 */
  interval: number;
  /** Time allowed for any answer after the ping. @default 30_000 */
  timeout: number;
}

/** SocketOptions are the settings shared by both ends of a connection. */
export interface SocketOptions {
  /** Largest message accepted, after reassembly and after inflation; bigger ones close with 1009. @default 16 MiB */
  maxPayload?: number;
  /** Time to wait for the peer's close frame (and, for a client, the server's FIN) after ours, before the TCP connection is destroyed. @default 5_000 */
  closeTimeout?: number;
  /**
   * Send-buffer limit of one socket, the guard against a peer that stops reading. A send
   * (or an automatic pong) that finds more than this many bytes still waiting in the
   * socket (each waiting frame counted as its bytes plus 192, what it costs in memory)
   * fails the connection loudly: an `error` event with a BufferFullError
   * (`DUPLEX_BUFFER_FULL`), close 1008 `send buffer full` with `wasClean: false`; no more
   * data is queued, and the socket is destroyed when the peer does not finish the close
   * handshake within `closeTimeout`. A sender that waits for `drain` whenever `send`
   * returns false never comes near it, whatever it sends in total. One message is always
   * accepted on top of an almost full buffer, so memory per socket stays below about
   * `maxBufferedAmount` plus one message. @default 64 MiB
   */
  maxBufferedAmount?: number;
  /** Keep-alive probing, or `false` to switch it off. @default server { interval: 30_000, timeout: 30_000 }, client false */
  heartbeat?: HeartbeatOptions | false;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, `false` to switch it off, or
   * the settings. A server accepts the first acceptable offer of a client; a client offers
   * it in its handshake. Compression costs CPU and, with context takeover, memory per
   * connection (about 44 KiB measured, see docs/api.md); inflated messages are bounded by
   * `maxPayload` while inflating, so a compression bomb closes with 1009. @default true
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * The time source of the heartbeat, the close timeout and the server's handshake
   * timeout: tests pass a fake clock to move time by hand. @default the real clock
   */
  clock?: Clock;
  /**
   * Answer every ping with a pong, as RFC 6455 5.5.2 requires. `false` leaves it to the
   * application (its `ping` listener calls `pong`), as ws's option of the same name. @default true
   */
  autoPong?: boolean;
  /**
   * Skip the UTF-8 check of received text and close reasons (ws's option of the same name).
   * Only for a trusted peer: invalid UTF-8 then reaches the application. @default false
   */
  skipUTF8Validation?: boolean;
}

/** TlsOptions are the TLS settings a `wss:` client passes on to node:tls. */
export type TlsOptions = Pick<
  TlsConnectionOptions,
  | 'ca'
  | 'cert'
  | 'key'
  | 'passphrase'
  | 'pfx'
  | 'rejectUnauthorized'
  | 'servername'
  | 'ciphers'
  | 'minVersion'
  | 'maxVersion'
  | 'checkServerIdentity'
>;

/** WebSocketOptions are the Node-specific options of a client `WebSocket` (third constructor argument). */
export interface WebSocketOptions extends SocketOptions, TlsOptions {
  /**
   * Extra request headers, e.g. `Authorization`. They cannot set the handshake's own
   * headers (Connection, Upgrade, Sec-WebSocket-Key, -Version, -Protocol, -Extensions, in any
   * spelling): those are dropped. `Host` may be set (a virtual host); `origin` wins over an
   * `Origin` header. @default {}
   */
  headers?: Record<string, string>;
  /** Value of the `Origin` header; none is sent when absent (a Node client is not a browser). @default undefined */
  origin?: string;
  /** Time from the constructor to an open connection (TCP, TLS and the HTTP upgrade); then it fails with 1006. @default 10_000 */
  handshakeTimeout?: number;
  /**
   * Follow 3xx redirects of the upgrade request (to ws:, wss:, http: or https: URLs). When
   * a redirect leaves the origin (scheme, host and port), the `Authorization` and `Cookie`
   * headers and the URL's credentials are not sent on. @default false
   */
  followRedirects?: boolean;
  /** Most redirects followed before the handshake fails with DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS. @default 10 */
  maxRedirects?: number;
  /** The http.Agent of the upgrade request (a proxy agent, say). @default none: a fresh connection */
  agent?: Agent;
  /** Makes the TCP (or TLS) connection of the upgrade request, as node:http's option of the same name. */
  createConnection?: (options: object, callback: (error: Error | null, socket: Duplex) => void) => Duplex;
  /** Accepted for ws compatibility; Duplex dispatches events as they arrive either way. */
  allowSynchronousEvents?: boolean;
}

/** AuthenticateRefusal is what `authenticate` returns to refuse a client with an HTTP status. */
export interface AuthenticateRefusal {
  /** HTTP status of the refusal, e.g. 401 or 403. */
  status: number;
  /** Plain-text body. @default the status text */
  body?: string;
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>;
}

/**
 * AuthenticateResult: `true` or nothing accepts, `false` refuses with 401, an
 * `AuthenticateRefusal` refuses with its status, body and headers.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing accepts the client
export type AuthenticateResult = boolean | AuthenticateRefusal | AuthenticateAcceptance | undefined | void;

/**
 * AuthenticateAcceptance accepts a client and hands what `authenticate` learned (the user,
 * the session) to the connection: the `connection` listener gets `context` as its third
 * argument, and `ws.context` holds it for the connection's life.
 */
export interface AuthenticateAcceptance {
  accept: true;
  context?: unknown;
}

/** VerifyClientInfo is what ws's `verifyClient` hook receives. */
export interface VerifyClientInfo {
  /** The Origin header (Sec-WebSocket-Origin for version 8 clients, as ws), undefined when absent. */
  origin: string;
  /** Whether the connection is TLS. */
  secure: boolean;
  req: IncomingMessage;
}

/** VerifyClientCallback answers an asynchronous `verifyClient`: accept, or refuse with a status (401 by default). */
export type VerifyClientCallback = (
  result: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

/** VerifyClient is ws's admission hook: synchronous `(info) => boolean`, or `(info, callback) => void`. */
// biome-ignore lint/suspicious/noConfusingVoidType: the callback form returns nothing
export type VerifyClient = (info: VerifyClientInfo, callback: VerifyClientCallback) => boolean | void;

/** WebSocketServerOptions configure a `WebSocketServer`. Give exactly one of `port`, `server` or `noServer`. */
export interface WebSocketServerOptions extends SocketOptions {
  /** Standalone mode: the port of the HTTP server the WebSocketServer creates (0 picks a free one). */
  port?: number;
  /** Standalone mode: the address to listen on. @default all interfaces (as node:net) */
  host?: string;
  /** Standalone mode: listen backlog. @default node:net's */
  backlog?: number;
  /** Attached mode: an existing http or https server whose `upgrade` events this server handles. */
  server?: HttpServer | HttpsServer;
  /** noServer mode: no HTTP server at all; the application calls `handleUpgrade`. */
  noServer?: boolean;
  /** Only upgrades whose request path (before `?`) equals this are handled. @default every path */
  path?: string;
  /**
   * Origins (scheme://host[:port], compared case-insensitively) allowed to connect; others
   * get 403. Requests without an `Origin` header (non-browser clients) are always allowed,
   * and so are same-origin requests (Origin host equal to the Host header). @default []
   */
  allowedOrigins?: string[];
  /**
   * Skips the origin check entirely, so any web page may open a connection with the
   * user's cookies (cross-site WebSocket hijacking). Only for public, unauthenticated
   * endpoints. @default false
   */
  dangerouslyAllowAnyOrigin?: boolean;
  /**
   * Decides whether a client may connect, after the origin check. May be async. Exceptions
   * refuse with 500. `{ accept: true, context }` hands `context` to the connection.
   */
  authenticate?: (req: IncomingMessage) => AuthenticateResult | Promise<AuthenticateResult>;
  /**
   * ws's admission hook, honoured as ws does (sync or with a callback; a refusal answers
   * `code`, 401 by default). It runs where `authenticate` would, after the origin check;
   * give one or the other, not both.
   */
  verifyClient?: VerifyClient;
  /** Keep every open connection in `clients` (`false`: the set stays empty and `close()` leaves connections alone). @default true */
  clientTracking?: boolean;
  /** Accepted for ws compatibility; Duplex dispatches events as they arrive either way. */
  allowSynchronousEvents?: boolean;
  /**
   * Picks the subprotocol from the client's offer (in its order), or `false` for none.
   * Returning a protocol that was not offered refuses the client with 500.
   * @default the first protocol offered
   */
  handleProtocols?: (protocols: OfferedProtocols, req: IncomingMessage) => string | false;
  /**
   * Time from the first byte of the request to the 101 response, including `authenticate`.
   * Standalone servers also apply it to the HTTP request head (a client that dribbles its
   * request is destroyed); for an attached server, set the http server's own
   * `headersTimeout`/`requestTimeout`. @default 10_000
   */
  handshakeTimeout?: number;
  /**
   * Most connections open at once, handshakes in progress included; more are refused with
   * 503 and `Retry-After` (DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS). @default Infinity (the
   * process's file descriptor limit)
   */
  maxConnections?: number;
  /**
   * Most connections open at once from one client address (an IPv6 address counts by its
   * /64); more are refused with 429 and `Retry-After`. Behind a proxy every client has the
   * proxy's address: leave it off there and limit in the proxy. @default Infinity
   */
  maxConnectionsPerAddress?: number;
  /**
   * Handshakes one client address may start: a token bucket of `burst`, refilled at
   * `perSecond`; more are refused with 429 and `Retry-After` (DUPLEX_HANDSHAKE_RATE_LIMITED).
   * @default false (no rate limit)
   */
  handshakeRate?: HandshakeRate | false;
}

/** ResolvedSocketOptions are SocketOptions with every default filled in. */
export interface ResolvedSocketOptions {
  maxPayload: number;
  closeTimeout: number;
  maxBufferedAmount: number;
  heartbeat: HeartbeatOptions | false;
  /** permessage-deflate settings, or false when switched off. */
  perMessageDeflate: PerMessageDeflateOptions | false;
  clock: Clock;
  autoPong: boolean;
  skipUTF8Validation: boolean;
}

/** ResolvedServerOptions are WebSocketServerOptions with every default filled in. */
export interface ResolvedServerOptions extends ResolvedSocketOptions {
  mode: 'standalone' | 'attached' | 'noServer';
  port: number;
  host: string | undefined;
  backlog: number | undefined;
  server: HttpServer | HttpsServer | undefined;
  path: string | undefined;
  allowedOrigins: Set<string>;
  dangerouslyAllowAnyOrigin: boolean;
  /** `authenticate`, or ws's `verifyClient` in its shape. */
  authenticate: WebSocketServerOptions['authenticate'];
  clientTracking: boolean;
  handleProtocols: WebSocketServerOptions['handleProtocols'];
  handshakeTimeout: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  handshakeRate: HandshakeRate | false;
}

/** DEFAULTS holds the documented defaults in one place. */
export const DEFAULTS = {
  maxPayload: 16 * MiB,
  closeTimeout: 5_000,
  maxBufferedAmount: 64 * MiB,
  handshakeTimeout: 10_000,
  heartbeat: { interval: 30_000, timeout: 30_000 },
  maxConnections: Number.POSITIVE_INFINITY,
  maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
  handshakeRate: false,
} as const;

/** countLimit checks a connection count: a positive integer, or Infinity for none. */
function countLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer or Infinity, got ${String(value)}`);
  }
  return value;
}

function resolveHandshakeRate(value: HandshakeRate | false | undefined): HandshakeRate | false {
  if (value === undefined) return DEFAULTS.handshakeRate;
  if (value === false) return false;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`handshakeRate must be { perSecond, burst } or false, got ${String(value)}`);
  }
  const perSecond = positive('handshakeRate.perSecond', value.perSecond, 1);
  const burst = countLimit('handshakeRate.burst', value.burst, Math.max(1, Math.ceil(perSecond)));
  return { perSecond, burst };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function resolveHeartbeat(value: HeartbeatOptions | false | undefined, fallback: HeartbeatOptions | false) {
  if (value === undefined) return fallback;
  if (value === false) return false;
  return {
    interval: positive('heartbeat.interval', value.interval, DEFAULTS.heartbeat.interval),
    timeout: positive('heartbeat.timeout', value.timeout, DEFAULTS.heartbeat.timeout),
  };
}

/** resolveSocketOptions fills in the defaults shared by both ends; `heartbeat` differs per role. */
export function resolveSocketOptions(
  user: SocketOptions,
  heartbeat: HeartbeatOptions | false,
): ResolvedSocketOptions {
  return {
    maxPayload: positive('maxPayload', user.maxPayload, DEFAULTS.maxPayload),
    closeTimeout: positive('closeTimeout', user.closeTimeout, DEFAULTS.closeTimeout),
    maxBufferedAmount: positive('maxBufferedAmount', user.maxBufferedAmount, DEFAULTS.maxBufferedAmount),
    heartbeat: resolveHeartbeat(user.heartbeat, heartbeat),
    perMessageDeflate: resolveDeflate(user.perMessageDeflate),
    clock: user.clock ?? realClock,
    autoPong: user.autoPong !== false,
    skipUTF8Validation: user.skipUTF8Validation === true,
  };
}

function integerIn(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `perMessageDeflate.${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
}

function booleanOption(name: string, value: boolean | undefined): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`perMessageDeflate.${name} must be a boolean, got ${String(value)}`);
  }
}

/**
 * resolveDeflate checks the permessage-deflate settings once: `true` or nothing means the
 * defaults of the core (docs/design/permessage-deflate-api.md), `false` switches it off.
 */
export function resolveDeflate(
  value: boolean | PerMessageDeflateOptions | undefined,
): PerMessageDeflateOptions | false {
  if (value === undefined || value === true) return {};
  if (value === false) return false;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`perMessageDeflate must be a boolean or an object, got ${String(value)}`);
  }
  booleanOption('serverNoContextTakeover', value.serverNoContextTakeover);
  booleanOption('clientNoContextTakeover', value.clientNoContextTakeover);
  integerIn('serverMaxWindowBits', value.serverMaxWindowBits, 8, 15);
  integerIn('clientMaxWindowBits', value.clientMaxWindowBits, 8, 15);
  integerIn('threshold', value.threshold, 0, Number.MAX_SAFE_INTEGER);
  integerIn('level', value.level, 0, 9);
  integerIn('memLevel', value.memLevel, 1, 9);
  booleanOption('skipIncompressible', value.skipIncompressible);
  integerIn('asyncThreshold', value.asyncThreshold, 0, Number.MAX_SAFE_INTEGER);
  return { ...value };
}

/** normalizeOrigin lower-cases an origin and drops a trailing slash, so that lists compare reliably. */
export function normalizeOrigin(origin: string): string {
  const lower = origin.trim().toLowerCase();
  return lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** resolveServerOptions checks a WebSocketServer's options once and fills in every default. */
export function resolveServerOptions(user: WebSocketServerOptions): ResolvedServerOptions {
  checkServerOptionNames(user);
  if (user.authenticate !== undefined && user.verifyClient !== undefined) {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      'give authenticate or verifyClient, not both (authenticate can do what verifyClient does)',
    );
  }
  for (const name of ['authenticate', 'verifyClient', 'handleProtocols'] as const) {
    if (user[name] !== undefined && typeof user[name] !== 'function') {
      throw new InvalidArgumentError('DUPLEX_INVALID_OPTION', `${name} must be a function`);
    }
  }
  const modes = [user.port !== undefined, user.server !== undefined, user.noServer === true];
  if (modes.filter(Boolean).length !== 1) {
    throw new TypeError('WebSocketServer needs exactly one of the options port, server or noServer');
  }
  const mode = user.port !== undefined ? 'standalone' : user.server !== undefined ? 'attached' : 'noServer';
  if (mode === 'standalone' && (!Number.isInteger(user.port) || user.port! < 0 || user.port! > 65535)) {
    throw new TypeError(`port must be an integer from 0 to 65535, got ${String(user.port)}`);
  }
  return {
    ...resolveSocketOptions(user, DEFAULTS.heartbeat),
    mode,
    port: user.port ?? 0,
    host: user.host,
    backlog: user.backlog,
    server: user.server,
    path: user.path,
    allowedOrigins: new Set((user.allowedOrigins ?? []).map(normalizeOrigin)),
    dangerouslyAllowAnyOrigin: user.dangerouslyAllowAnyOrigin === true,
    authenticate: user.verifyClient ? fromVerifyClient(user.verifyClient) : user.authenticate,
    clientTracking: user.clientTracking !== false,
    handleProtocols: user.handleProtocols,
    handshakeTimeout: positive('handshakeTimeout', user.handshakeTimeout, DEFAULTS.handshakeTimeout),
    maxConnections: countLimit('maxConnections', user.maxConnections, DEFAULTS.maxConnections),
    maxConnectionsPerAddress: countLimit(
      'maxConnectionsPerAddress',
      user.maxConnectionsPerAddress,
      DEFAULTS.maxConnectionsPerAddress,
    ),
    handshakeRate: resolveHandshakeRate(user.handshakeRate),
  };
}
