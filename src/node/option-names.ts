import { InvalidArgumentError } from '../protocol/index.js';

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
  for (const name of Object.keys(user)) {
    if (SERVER_OPTIONS.has(name)) continue;
    const hint = WS_HINTS[name];
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `unknown WebSocketServer option ${JSON.stringify(name)}${hint ? `: ${hint}` : ''}`,
    );
  }
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
  for (const name of Object.keys(user)) {
    if (CLIENT_OPTIONS.has(name)) continue;
    const hint = WS_CLIENT_HINTS[name];
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `unknown WebSocket option ${JSON.stringify(name)}${hint ? `: ${hint}` : ''}`,
    );
  }
}
