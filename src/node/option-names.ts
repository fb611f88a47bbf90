import { InvalidArgumentError } from '../protocol/index.js';
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

/** SERVER_OPTIONS lists every option name a WebSocketServer knows. */
const SERVER_OPTIONS = new Set<string>([
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

/** refuseUnknown throws DUPLEX_INVALID_OPTION for the first option not in `known`, with ws's replacement as a hint. */
function refuseUnknown(what: string, user: object, known: Set<string>, hints: Record<string, string>): void {
  for (const name of Object.keys(user)) {
    if (known.has(name)) continue;
    const hint = hints[name];
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `unknown ${what} option ${JSON.stringify(name)}${hint ? `: ${hint}` : ''}`,
    );
  }
}

/** checkServerOptionNames refuses an option the server does not know, naming it (a typo must not pass silently). */
export function checkServerOptionNames(user: object): void {
  refuseUnknown('WebSocketServer', user, SERVER_OPTIONS, WS_HINTS);
}

/** CLIENT_OPTIONS lists every option name a client WebSocket knows. */
const CLIENT_OPTIONS = new Set<string>([
  'headers',
  'origin',
  'handshakeTimeout',
  'followRedirects',
  'maxRedirects',
  'agent',
  'createConnection',
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
  refuseUnknown('WebSocket', user, CLIENT_OPTIONS, WS_CLIENT_HINTS);
}
