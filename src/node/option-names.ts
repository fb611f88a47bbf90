import { refuseUnknown } from './option-checks.js';
import type { TlsOptions } from './options.js';

/** TLS_OPTION_NAMES are the TLS settings a `wss:` client passes on to node:tls. */
export const TLS_OPTION_NAMES: ReadonlyArray<keyof TlsOptions> = [
  'ca',
  'cert',
  'key',
  'passphrase',
  'pfx',
  'rejectUnauthorized',
  'servername',
  'ciphers',
  'minVersion',
  'maxVersion',
  'checkServerIdentity',
];

/** SERVER_OPTION_NAMES lists every option name a WebSocketServer knows. */
export const SERVER_OPTION_NAMES: ReadonlySet<string> = new Set<string>([
  'port',
  'host',
  'backlog',
  'server',
  'noServer',
  'path',
  'allowedOrigins',
  'dangerouslyAllowAnyOrigin',
  'authenticate',
  'verifyClient',
  'handleProtocols',
  'handshakeTimeout',
  'maxConnections',
  'maxConnectionsPerAddress',
  'handshakeRate',
  'clientTracking',
  'allowSynchronousEvents',
  'maxPayload',
  'closeTimeout',
  'maxBufferedAmount',
  'heartbeat',
  'perMessageDeflate',
  'autoPong',
  'skipUTF8Validation',
  'clock',
]);

/** WS_HINTS says what to use instead of ws options (or near-misses) that Duplex does not take. */
const WS_HINTS: Record<string, string> = {
  WebSocket:
    'Duplex has one WebSocket class; pass per-connection data from authenticate ({ accept: true, context }) and read ws.context',
  maxReceivedFrameSize: 'use maxPayload',
  maxReceivedMessageSize: 'use maxPayload',
  origins: 'use allowedOrigins',
  verifyClients: 'use verifyClient',
  handleProtocol: 'use handleProtocols',
  perMessageDeflateOptions: 'use perMessageDeflate',
  pingInterval: 'use heartbeat: { interval, timeout }',
  pingTimeout: 'use heartbeat: { interval, timeout }',
};

/** checkServerOptionNames refuses an option the server does not know, naming it (a typo must not pass silently). */
export function checkServerOptionNames(user: object): void {
  refuseUnknown('WebSocketServer', user, SERVER_OPTION_NAMES, WS_HINTS);
}

/** CLIENT_OPTION_NAMES lists every option name a client WebSocket knows. */
export const CLIENT_OPTION_NAMES: ReadonlySet<string> = new Set<string>([
  'headers',
  'origin',
  'handshakeTimeout',
  'followRedirects',
  'maxRedirects',
  'agent',
  'createConnection',
  'proxy',
  'allowSynchronousEvents',
  'maxPayload',
  'closeTimeout',
  'maxBufferedAmount',
  'heartbeat',
  'perMessageDeflate',
  'autoPong',
  'skipUTF8Validation',
  'clock',
  ...TLS_OPTION_NAMES,
]);

/** WS_CLIENT_HINTS says what to use instead of ws client options Duplex does not take. */
const WS_CLIENT_HINTS: Record<string, string> = {
  protocolVersion: 'Duplex speaks version 13 (RFC 6455) only; drop the option',
  generateMask: 'masking keys are always fresh random bytes (RFC 6455 5.3)',
  finishRequest: 'set request headers with headers, or the request itself through agent',
  lookup: 'pass createConnection (or an agent) that resolves as you need',
  family: 'pass createConnection (or an agent) that connects as you need',
  localAddress: 'pass createConnection (or an agent) that binds as you need',
  timeout: 'use handshakeTimeout',
};

/**
 * checkClientOptionNames refuses an option a client WebSocket does not know (ws passes
 * unknown options on to http.request; Duplex names them rather than ignoring them).
 */
export function checkClientOptionNames(user: object): void {
  refuseUnknown('WebSocket', user, CLIENT_OPTION_NAMES, WS_CLIENT_HINTS);
}

/** DEFLATE_OPTION_NAMES lists every permessage-deflate setting (PerMessageDeflateOptions). */
export const DEFLATE_OPTION_NAMES: ReadonlySet<string> = new Set<string>([
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
  'threshold',
  'level',
  'memLevel',
  'skipIncompressible',
  'asyncThreshold',
]);

/** WS_DEFLATE_HINTS says what to use instead of ws's perMessageDeflate settings Duplex does not take. */
const WS_DEFLATE_HINTS: Record<string, string> = {
  zlibDeflateOptions: 'use perMessageDeflate.level and perMessageDeflate.memLevel',
  zlibInflateOptions: 'Duplex takes no inflate settings (inflation is bounded by maxPayload); drop it',
  concurrencyLimit:
    "Duplex moves messages from perMessageDeflate.asyncThreshold bytes on to zlib's thread pool; drop it",
};

/** checkDeflateOptionNames refuses a permessage-deflate setting Duplex does not know, naming it. */
export function checkDeflateOptionNames(user: object): void {
  refuseUnknown('perMessageDeflate', user, DEFLATE_OPTION_NAMES, WS_DEFLATE_HINTS);
}
