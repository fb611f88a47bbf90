import type { Agent, Server as HttpServer, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import {
  type ExtensionFactory,
  InvalidArgumentError,
  type PerMessageDeflateOptions,
} from '../protocol/index.js';
import { type Clock, realClock } from './clock.js';
import type { HandshakeRate } from './connection-limits.js';
import { extensionFactories } from './extensions.js';
import type { OfferedProtocols } from './offered-protocols.js';
import {
  boolean,
  fn,
  integerIn,
  invalidOption,
  plainObject,
  positiveNumber,
  string,
  stringList,
  stringRecord,
} from './option-checks.js';
import {
  checkClientOptionNames,
  checkDeflateOptionNames,
  checkServerOptionNames,
  TLS_OPTION_NAMES,
} from './option-names.js';
import { parseProxyUrl } from './proxy.js';
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
  /**
   * An HTTP proxy (`http://[user:password@]host:port`): the connection goes through a CONNECT
   * tunnel (Basic authorization from the URL), TLS of wss: end to end inside it. `proxyFromEnv(url)`
   * picks one from HTTPS_PROXY/HTTP_PROXY/NO_PROXY. Not with `agent` or `createConnection`. @default none
   */
  proxy?: string | URL;
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
  /**
   * Stable code of this refusal for the server's `refused` event (and metrics built on it):
   * upper case, digits and `_`, at most 64 characters, from a small fixed set of your own,
   * e.g. `APP_TOKEN_EXPIRED`. @default 'DUPLEX_HANDSHAKE_REFUSED'
   */
  code?: string;
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
  /** The extensions this end negotiates, in order of preference (permessage-deflate unless switched off). */
  extensions: readonly ExtensionFactory[];
  clock: Clock;
  autoPong: boolean;
  skipUTF8Validation: boolean;
}

/** ResolvedClientOptions are a client WebSocket's options with every default filled in. */
export interface ResolvedClientOptions extends ResolvedSocketOptions {
  headers: Record<string, string> | undefined;
  origin: string | undefined;
  handshakeTimeout: number;
  followRedirects: boolean;
  maxRedirects: number;
  agent: Agent | undefined;
  createConnection: WebSocketOptions['createConnection'];
  /** The parsed `proxy` URL (a CONNECT tunnel), if one was given. */
  proxy: URL | undefined;
  /** The TLS settings given (only those), passed on to node:tls for a `wss:` URL. */
  tls: TlsOptions;
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

/**
 * DEFAULTS holds every documented default of the node layer, in one place: the resolvers
 * below are the only readers (permessage-deflate's own settings default in the core,
 * resolveDeflateOptions).
 */
export const DEFAULTS = {
  maxPayload: 16 * MiB,
  closeTimeout: 5_000,
  maxBufferedAmount: 64 * MiB,
  handshakeTimeout: 10_000,
  /** The server's keep-alive; a client has none unless asked. */
  heartbeat: { interval: 30_000, timeout: 30_000 },
  clientHeartbeat: false,
  perMessageDeflate: true,
  autoPong: true,
  skipUTF8Validation: false,
  clientTracking: true,
  dangerouslyAllowAnyOrigin: false,
  followRedirects: false,
  /** ws's default. */
  maxRedirects: 10,
  allowSynchronousEvents: true,
  /** The server's connection limits (connection-limits.ts): none unless asked. */
  maxConnections: Number.POSITIVE_INFINITY,
  maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
  handshakeRate: false,
} as const;

/** countLimit checks a connection count: a positive integer, or Infinity for none. */
function countLimit(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(name, 'a positive integer or Infinity', value);
  }
  return value;
}

/** resolveHandshakeRate checks `handshakeRate`: false, or { perSecond, burst } (burst defaults to perSecond, rounded up). */
function resolveHandshakeRate(value: unknown): HandshakeRate | false {
  if (value === undefined) return DEFAULTS.handshakeRate;
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption('handshakeRate', 'false or { perSecond, burst }', value);
  }
  const { perSecond: rate, burst: size, ...rest } = value as Partial<HandshakeRate>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw invalidOption(`handshakeRate.${unknown}`, 'absent (unknown setting)', '');
  const perSecond = positiveNumber('handshakeRate.perSecond', rate, 1);
  const burst = countLimit('handshakeRate.burst', size, Math.max(1, Math.ceil(perSecond)));
  return { perSecond, burst };
}

function resolveHeartbeat(value: unknown, fallback: HeartbeatOptions | false): HeartbeatOptions | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption('heartbeat', 'false or { interval, timeout }', value);
  }
  const { interval, timeout, ...rest } = value as Partial<HeartbeatOptions>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw invalidOption(`heartbeat.${unknown}`, 'absent (unknown setting)', '');
  return {
    interval: positiveNumber('heartbeat.interval', interval, DEFAULTS.heartbeat.interval),
    timeout: positiveNumber('heartbeat.timeout', timeout, DEFAULTS.heartbeat.timeout),
  };
}

/** resolveSocketOptions fills in the defaults shared by both ends; `heartbeat` differs per role. */
function resolveSocketOptions(
  user: SocketOptions,
  heartbeat: HeartbeatOptions | false,
): ResolvedSocketOptions {
  const clock = plainObject('clock', user.clock);
  if (clock !== undefined) {
    for (const method of ['now', 'setTimeout', 'clearTimeout'] as const) {
      if (typeof clock[method] !== 'function')
        throw invalidOption('clock', 'a Clock (now, setTimeout, clearTimeout)', clock);
    }
  }
  return {
    maxPayload: positiveNumber('maxPayload', user.maxPayload, DEFAULTS.maxPayload),
    closeTimeout: positiveNumber('closeTimeout', user.closeTimeout, DEFAULTS.closeTimeout),
    maxBufferedAmount: positiveNumber(
      'maxBufferedAmount',
      user.maxBufferedAmount,
      DEFAULTS.maxBufferedAmount,
    ),
    heartbeat: resolveHeartbeat(user.heartbeat, heartbeat),
    extensions: extensionFactories(resolveDeflate(user.perMessageDeflate)),
    clock: clock ?? realClock,
    autoPong: boolean('autoPong', user.autoPong, DEFAULTS.autoPong),
    skipUTF8Validation: boolean('skipUTF8Validation', user.skipUTF8Validation, DEFAULTS.skipUTF8Validation),
  };
}

/**
 * resolveDeflate checks the permessage-deflate settings once: `true` or nothing means the
 * defaults of the core (docs/design/permessage-deflate-api.md), `false` switches it off.
 * Names and booleans are checked here, ranges by the core as the factory is made
 * (deflateFactory, resolveDeflateOptions).
 */
function resolveDeflate(value: unknown): PerMessageDeflateOptions | false {
  if (value === undefined) value = DEFAULTS.perMessageDeflate;
  if (value === true) return {};
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption('perMessageDeflate', 'a boolean or an object', value);
  }
  const options = value as PerMessageDeflateOptions;
  checkDeflateOptionNames(options);
  for (const name of ['serverNoContextTakeover', 'clientNoContextTakeover', 'skipIncompressible'] as const) {
    boolean(`perMessageDeflate.${name}`, options[name], false);
  }
  return { ...options };
}

/** normalizeOrigin lower-cases an origin and drops a trailing slash, so that lists compare reliably. */
export function normalizeOrigin(origin: string): string {
  const lower = origin.trim().toLowerCase();
  return lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** resolveClientOptions checks a client WebSocket's options (its third argument) once and fills in every default. */
export function resolveClientOptions(user: WebSocketOptions | undefined): ResolvedClientOptions {
  if (user === undefined || user === null) user = {};
  if (typeof user !== 'object' || Array.isArray(user)) throw invalidOption('options', 'an object', user);
  checkClientOptionNames(user);
  boolean('allowSynchronousEvents', user.allowSynchronousEvents, DEFAULTS.allowSynchronousEvents);
  const tls: Record<string, unknown> = {};
  for (const name of TLS_OPTION_NAMES) {
    const value = user[name];
    if (value === undefined) continue;
    checkTlsOption(name, value);
    tls[name] = value;
  }
  const agent = plainObject('agent', user.agent);
  const headers = stringRecord('headers', user.headers);
  const origin = string('origin', user.origin);
  checkRequestHeaders(headers, origin);
  return {
    ...resolveSocketOptions(user, DEFAULTS.clientHeartbeat),
    headers,
    origin,
    handshakeTimeout: positiveNumber('handshakeTimeout', user.handshakeTimeout, DEFAULTS.handshakeTimeout),
    followRedirects: boolean('followRedirects', user.followRedirects, DEFAULTS.followRedirects),
    maxRedirects:
      integerIn('maxRedirects', user.maxRedirects, 0, Number.MAX_SAFE_INTEGER) ?? DEFAULTS.maxRedirects,
    agent,
    createConnection: fn('createConnection', user.createConnection),
    proxy: resolveProxy(user, agent),
    tls: tls as TlsOptions,
  };
}

/** HEADER_NAME is an HTTP token (RFC 9110 5.1); HEADER_VALUE bans CR, LF and NUL, which would split the request. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;

/**
 * checkRequestHeaders throws DUPLEX_INVALID_HEADER, at the constructor, for a header name
 * that is not a token or a value (or `origin`) with CR, LF or NUL: such a header could
 * inject lines into the upgrade request, so it is never sent.
 */
export function checkRequestHeaders(
  headers: Record<string, string> | undefined,
  origin: string | undefined,
): void {
  const bad = (what: string, option: string) =>
    new InvalidArgumentError(
      'DUPLEX_INVALID_HEADER',
      `${what} may not be sent (CR, LF, NUL or not a token)`,
      {
        option,
      },
    );
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw bad(`header name ${JSON.stringify(name)}`, 'headers');
    if (!HEADER_VALUE.test(value)) throw bad(`the value of header ${name}`, `headers.${name}`);
  }
  if (origin !== undefined && !HEADER_VALUE.test(origin)) throw bad('origin', 'origin');
}

/** checkTlsOption checks the type of one TLS setting; node:tls checks the contents. */
function checkTlsOption(name: keyof TlsOptions, value: unknown): void {
  switch (name) {
    case 'rejectUnauthorized':
      boolean(name, value, true);
      return;
    case 'checkServerIdentity':
      fn(name, value);
      return;
    case 'passphrase':
    case 'servername':
    case 'ciphers':
    case 'minVersion':
    case 'maxVersion':
      string(name, value);
      return;
    case 'ca':
    case 'cert':
    case 'key':
    case 'pfx': {
      const ok = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v) || typeof v === 'object';
      if (value === null || !(Array.isArray(value) ? value.every(ok) : ok(value))) {
        throw invalidOption(name, 'a string, a Buffer or an array of them', value);
      }
      return;
    }
    default: {
      const never: never = name;
      throw invalidOption(never, 'a known TLS setting', value);
    }
  }
}

/** resolveServerOptions checks a WebSocketServer's options once and fills in every default. */
export function resolveServerOptions(user: WebSocketServerOptions): ResolvedServerOptions {
  if (typeof user !== 'object' || user === null || Array.isArray(user)) {
    throw invalidOption('options', 'an object with port, server or noServer', user);
  }
  checkServerOptionNames(user);
  if (user.authenticate !== undefined && user.verifyClient !== undefined) {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      'give authenticate or verifyClient, not both (authenticate can do what verifyClient does)',
      { option: 'verifyClient' },
    );
  }
  const authenticate = fn('authenticate', user.authenticate);
  const verifyClient = fn('verifyClient', user.verifyClient);
  const noServer = boolean('noServer', user.noServer, false);
  if (user.server !== undefined) {
    const server = plainObject('server', user.server);
    if (typeof server?.on !== 'function') throw invalidOption('server', 'an http or https server', server);
  }
  const modes = [user.port !== undefined, user.server !== undefined, noServer];
  if (modes.filter(Boolean).length !== 1) {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      'WebSocketServer needs exactly one of the options port, server or noServer',
      { option: 'port' },
    );
  }
  const mode = user.port !== undefined ? 'standalone' : user.server !== undefined ? 'attached' : 'noServer';
  const origins = stringList('allowedOrigins', user.allowedOrigins) ?? [];
  boolean('allowSynchronousEvents', user.allowSynchronousEvents, DEFAULTS.allowSynchronousEvents);
  return {
    ...resolveSocketOptions(user, DEFAULTS.heartbeat),
    mode,
    port: integerIn('port', user.port, 0, 65535) ?? 0,
    host: string('host', user.host),
    backlog: integerIn('backlog', user.backlog, 0, Number.MAX_SAFE_INTEGER),
    server: user.server,
    path: string('path', user.path),
    allowedOrigins: new Set(origins.map(normalizeOrigin)),
    dangerouslyAllowAnyOrigin: boolean(
      'dangerouslyAllowAnyOrigin',
      user.dangerouslyAllowAnyOrigin,
      DEFAULTS.dangerouslyAllowAnyOrigin,
    ),
    authenticate: verifyClient ? fromVerifyClient(verifyClient) : authenticate,
    clientTracking: boolean('clientTracking', user.clientTracking, DEFAULTS.clientTracking),
    handleProtocols: fn('handleProtocols', user.handleProtocols),
    handshakeTimeout: positiveNumber('handshakeTimeout', user.handshakeTimeout, DEFAULTS.handshakeTimeout),
    maxConnections: countLimit('maxConnections', user.maxConnections, DEFAULTS.maxConnections),
    maxConnectionsPerAddress: countLimit(
      'maxConnectionsPerAddress',
      user.maxConnectionsPerAddress,
      DEFAULTS.maxConnectionsPerAddress,
    ),
    handshakeRate: resolveHandshakeRate(user.handshakeRate),
  };
}

/** resolveProxy parses the `proxy` option and refuses it beside `agent` or `createConnection`. */
function resolveProxy(user: WebSocketOptions, agent: Agent | undefined): URL | undefined {
  if (user.proxy === undefined) return undefined;
  const proxy = parseProxyUrl(user.proxy);
  if (agent !== undefined || user.createConnection !== undefined) {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      'proxy cannot be combined with agent or createConnection',
      {
        option: 'proxy',
      },
    );
  }
  return proxy;
}
