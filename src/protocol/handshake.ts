import * as crypto from 'node:crypto';
import { HandshakeError, InvalidArgumentError } from './errors.js';
import { type ExtensionOffer, parseExtensionHeader } from './extension-header.js';

/** HeaderMap is a parsed header block with lower-case names, as node:http gives it. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** RFC 6455 1.3: the GUID concatenated with Sec-WebSocket-Key before hashing. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A base64 encoding of exactly 16 bytes: 22 significant characters and "==". */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;
/** RFC 7230 token (tchar), the grammar of subprotocol names and extension tokens. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

/** generateKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 4.1). */
export function generateKey(): string {
  return crypto.randomBytes(16).toString('base64');
}

/** computeAccept derives Sec-WebSocket-Accept from a key: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
export function computeAccept(key: string): string {
  return oneShotHash !== undefined
    ? oneShotHash('sha1', key + GUID, 'base64')
    : crypto
        .createHash('sha1')
        .update(key + GUID)
        .digest('base64');
}

/**
 * oneShotHash is `crypto.hash` (Node 20.12 and later): it hashes in one native call, where
 * `createHash` makes a Hash object and an OpenSSL digest context per handshake that live
 * until the next garbage collection (docs/design/idle-memory.md, 2026-11-30).
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string })
  .hash;

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

/** parseTokenList splits a comma-separated header value into its lower-cased tokens. */
export function parseTokenList(value: string | string[] | undefined): string[] {
  return headerText(value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/**
 * hasToken tells whether a comma-separated header value holds `token` (lower-case), as
 * `parseTokenList(value).includes(token)` does, without building the list: the opening
 * handshake asks it twice per connection.
 */
export function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (Array.isArray(value)) return value.some((v) => hasToken(v, token));
  if (value === undefined) return false;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    if (value.slice(start, end).trim().toLowerCase() === token) return true;
    start = end + 1;
  }
  return false;
}

/** parseProtocolList splits Sec-WebSocket-Protocol into its names, keeping their case (they are case-sensitive). */
function parseProtocolList(value: string | string[] | undefined): string[] {
  const names = headerText(value)
    .split(',')
    .map((t) => t.trim());
  if (names.length === 1 && names[0] === '') return [];
  for (const name of names) {
    if (!TOKEN.test(name)) {
      throw new HandshakeError(
        'DUPLEX_HANDSHAKE_BAD_PROTOCOL',
        `invalid subprotocol name ${JSON.stringify(name)}`,
        { status: 400 },
      );
    }
  }
  if (new Set(names).size !== names.length) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_BAD_PROTOCOL', 'a subprotocol is offered twice', {
      status: 400,
    });
  }
  return names;
}

/** ValidatedRequest is what a valid opening handshake request carries (RFC 6455 4.2.1). */
export interface ValidatedRequest {
  key: string;
  /** Offered subprotocols, in the client's order of preference. */
  protocols: string[];
  /** Offered extensions, in the client's order. */
  extensions: ExtensionOffer[];
  origin: string | undefined;
}

/**
 * validateClientRequest checks an opening handshake request against RFC 6455 4.2.1 and
 * returns what it offers, or throws a HandshakeError carrying the HTTP status to answer with.
 */
export function validateClientRequest(req: {
  method: string;
  httpVersion: string;
  headers: HeaderMap;
}): ValidatedRequest {
  const h = req.headers;
  // "An HTTP/1.1 or higher GET request"
  if (req.method !== 'GET') {
    throw new HandshakeError('DUPLEX_HANDSHAKE_METHOD', `method ${req.method} is not GET`, {
      status: 405,
      headers: {
        Allow: 'GET',
      },
    });
  }
  const [major = 0, minor = 0] = req.httpVersion.split('.').map(Number);
  if (!(major > 1 || (major === 1 && minor >= 1))) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_HTTP_VERSION', `HTTP/${req.httpVersion} is older than 1.1`, {
      status: 505,
    });
  }
  // "A |Host| header field containing the server's authority."
  if (!h.host) throw new HandshakeError('DUPLEX_HANDSHAKE_NO_HOST', 'missing Host header', { status: 400 });
  // "An |Upgrade| header field containing the value "websocket", treated as an ASCII case-insensitive value."
  if (!hasToken(h.upgrade, 'websocket')) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_NO_UPGRADE', 'missing "Upgrade: websocket" header', {
      status: 400,
    });
  }
  // "A |Connection| header field that includes the token "Upgrade", treated as an ASCII case-insensitive value."
  if (!hasToken(h.connection, 'upgrade')) {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_NO_CONNECTION_UPGRADE',
      'missing "Connection: Upgrade" header',
      { status: 400 },
    );
  }
  // 4.2.2: on a version it does not understand the server sends "426 Upgrade Required" and the versions it knows.
  if (headerText(h['sec-websocket-version']).trim() !== '13') {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_VERSION',
      'unsupported Sec-WebSocket-Version (only 13 is supported)',
      { status: 426, headers: { 'Sec-WebSocket-Version': '13' } },
    );
  }
  // "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is 16 bytes in length."
  const key = headerText(h['sec-websocket-key']).trim();
  if (!KEY_PATTERN.test(key)) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_BAD_KEY', 'Sec-WebSocket-Key is not 16 bytes in base64', {
      status: 400,
    });
  }
  const protocols = parseProtocolList(h['sec-websocket-protocol']);
  const extensions = parseExtensionHeader(h['sec-websocket-extensions']);
  const origin = headerText(h.origin) || undefined;
  return { key, protocols, extensions, origin };
}

function headerLines(headers: Record<string, string> | undefined): string {
  let out = '';
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!TOKEN.test(name) || HEADER_VALUE_FORBIDDEN.test(value)) {
      throw new InvalidArgumentError(
        'DUPLEX_INVALID_HEADER',
        `invalid response header ${JSON.stringify(name)}`,
      );
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** buildServerResponse returns the whole 101 response head that accepts a handshake, ending with the blank line. */
export function buildServerResponse(opts: {
  key: string;
  protocol?: string | undefined;
  extensions?: string | undefined;
  headers?: Record<string, string> | undefined;
}): string {
  const extra: Record<string, string> = {};
  if (opts.protocol) extra['Sec-WebSocket-Protocol'] = opts.protocol;
  if (opts.extensions) extra['Sec-WebSocket-Extensions'] = opts.extensions;
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${computeAccept(opts.key)}\r\n` +
    headerLines({ ...extra, ...opts.headers }) +
    '\r\n'
  );
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/**
 * buildRejectResponse returns a complete HTTP response that refuses a handshake, to be
 * written as UTF-8 (Content-Length counts the body's UTF-8 bytes); the connection is closed after it.
 */
export function buildRejectResponse(
  status: number,
  opts: { body?: string | undefined; headers?: Record<string, string> | undefined } = {},
): string {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new InvalidArgumentError('DUPLEX_INVALID_STATUS', `refusal status ${status} is not 4xx or 5xx`);
  }
  const phrase = REASONS[status] ?? 'Error';
  const body = opts.body ?? `${phrase}\n`;
  return (
    `HTTP/1.1 ${status} ${phrase}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    headerLines(opts.headers) +
    '\r\n' +
    body
  );
}

/**
 * HANDSHAKE_HEADERS are the request headers the handshake owns (lower case): the caller's
 * `headers` cannot set them, in any spelling, even where this request leaves one out
 * (no subprotocol, no extension offered). Host and Origin are not among them.
 */
const HANDSHAKE_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * clientRequestHeaders returns the headers of a client's upgrade request (Host is left to
 * the HTTP client unless `headers` sets it). Extra `headers` never override the handshake
 * headers; `origin` wins over an Origin header in `headers`.
 */
export function clientRequestHeaders(opts: {
  key: string;
  protocols?: string[] | undefined;
  extensions?: string | undefined;
  origin?: string | undefined;
  headers?: Record<string, string> | undefined;
}): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    const lower = name.toLowerCase();
    if (HANDSHAKE_HEADERS.has(lower) || (opts.origin && lower === 'origin')) continue;
    extra[name] = value;
  }
  const out: Record<string, string> = {
    ...extra,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': opts.key,
    'Sec-WebSocket-Version': '13',
  };
  if (opts.protocols && opts.protocols.length > 0) {
    for (const p of opts.protocols) {
      if (!TOKEN.test(p))
        throw new InvalidArgumentError('DUPLEX_INVALID_PROTOCOL', `invalid subprotocol ${p}`);
    }
    if (new Set(opts.protocols).size !== opts.protocols.length) {
      throw new InvalidArgumentError('DUPLEX_INVALID_PROTOCOL', 'a subprotocol is listed twice');
    }
    out['Sec-WebSocket-Protocol'] = opts.protocols.join(', ');
  }
  if (opts.extensions) out['Sec-WebSocket-Extensions'] = opts.extensions;
  if (opts.origin) out.Origin = opts.origin;
  for (const [name, value] of Object.entries(out)) {
    if (!TOKEN.test(name) || HEADER_VALUE_FORBIDDEN.test(value)) {
      throw new InvalidArgumentError(
        'DUPLEX_INVALID_HEADER',
        `invalid request header ${JSON.stringify(name)}`,
      );
    }
  }
  return out;
}

/**
 * validateServerResponse checks the server's answer to our handshake (RFC 6455 4.1: "If the
 * server's response does not conform ... the client MUST _Fail the WebSocket Connection_")
 * and returns the negotiated subprotocol ('' for none) and extensions.
 */
export function validateServerResponse(
  res: { statusCode: number; headers: HeaderMap },
  expect: { key: string; protocols: string[]; extensionsOffered: string[] },
): { protocol: string; extensions: ExtensionOffer[] } {
  const h = res.headers;
  if (res.statusCode !== 101) {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS',
      `server answered ${res.statusCode} instead of 101`,
      { status: res.statusCode },
    );
  }
  if (!hasToken(h.upgrade, 'websocket')) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_NO_UPGRADE', 'response lacks "Upgrade: websocket"');
  }
  if (!hasToken(h.connection, 'upgrade')) {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_NO_CONNECTION_UPGRADE',
      'response lacks "Connection: Upgrade"',
    );
  }
  if (headerText(h['sec-websocket-accept']).trim() !== computeAccept(expect.key)) {
    throw new HandshakeError('DUPLEX_HANDSHAKE_BAD_ACCEPT', 'Sec-WebSocket-Accept does not match the key');
  }
  const protocol = headerText(h['sec-websocket-protocol']).trim();
  if (protocol !== '' && !expect.protocols.includes(protocol)) {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_BAD_PROTOCOL',
      `server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`,
    );
  }
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensionHeader(h['sec-websocket-extensions']);
  } catch (e) {
    // The same syntax error, as a client-side failure: no HTTP status to answer with.
    throw new HandshakeError('DUPLEX_HANDSHAKE_BAD_EXTENSIONS', (e as Error).message);
  }
  for (const ext of extensions) {
    if (!expect.extensionsOffered.includes(ext.name)) {
      throw new HandshakeError(
        'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
        `server accepted extension ${ext.name}, which was not offered`,
      );
    }
  }
  return { protocol, extensions };
}
