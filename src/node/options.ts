import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { PerMessageDeflateOptions } from '../protocol/index.js';

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
   * Send-buffer limit of one socket. A send (or an automatic pong) that finds more than
   * this many bytes still waiting in the socket closes the connection with 1008
   * `send buffer full`: no more data is queued, and the socket is destroyed when the peer
   * does not finish the close handshake within `closeTimeout`. One message is always
   * accepted on top of an almost full buffer, so memory per socket stays below about
   * `maxBufferedAmount` plus one message. @default 16 MiB
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
  /** Extra request headers, e.g. `Authorization`. They cannot override the handshake headers. @default {} */
  headers?: Record<string, string>;
  /** Value of the `Origin` header; none is sent when absent (a Node client is not a browser). @default undefined */
  origin?: string;
  /** Time from the constructor to an open connection (TCP, TLS and the HTTP upgrade); then it fails with 1006. @default 10_000 */
  handshakeTimeout?: number;
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
export type AuthenticateResult = boolean | AuthenticateRefusal | undefined | void;

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
  /** Decides whether a client may connect, after the origin check. May be async. Exceptions refuse with 500. */
  authenticate?: (req: IncomingMessage) => AuthenticateResult | Promise<AuthenticateResult>;
  /**
   * Picks the subprotocol from the client's offer (in its order), or `false` for none.
   * Returning a protocol that was not offered refuses the client with 500.
   * @default the first protocol offered
   */
  handleProtocols?: (protocols: string[], req: IncomingMessage) => string | false;
  /**
   * Time from the first byte of the request to the 101 response, including `authenticate`.
   * Standalone servers also apply it to the HTTP request head (a client that dribbles its
   * request is destroyed); for an attached server, set the http server's own
   * `headersTimeout`/`requestTimeout`. @default 10_000
   */
  handshakeTimeout?: number;
}

/** ResolvedSocketOptions are SocketOptions with every default filled in. */
export interface ResolvedSocketOptions {
  maxPayload: number;
  closeTimeout: number;
  maxBufferedAmount: number;
  heartbeat: HeartbeatOptions | false;
  /** permessage-deflate settings, or false when switched off. */
  perMessageDeflate: PerMessageDeflateOptions | false;
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
  authenticate: WebSocketServerOptions['authenticate'];
  handleProtocols: WebSocketServerOptions['handleProtocols'];
  handshakeTimeout: number;
}

/** DEFAULTS holds the documented defaults in one place. */
export const DEFAULTS = {
  maxPayload: 16 * MiB,
  closeTimeout: 5_000,
  maxBufferedAmount: 16 * MiB,
  handshakeTimeout: 10_000,
  heartbeat: { interval: 30_000, timeout: 30_000 },
} as const;

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
    authenticate: user.authenticate,
    handleProtocols: user.handleProtocols,
    handshakeTimeout: positive('handshakeTimeout', user.handshakeTimeout, DEFAULTS.handshakeTimeout),
  };
}
