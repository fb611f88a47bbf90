/**
 * ErrorCode is every stable DUPLEX_* `code` of the core's errors (DuplexError and its
 * subclasses: protocol, handshake, connection, API misuse), in one `as const` table. The error
 * classes take a value of it, so a code that is not here does not compile. The hub's codes are
 * the one other table, HubErrorCode in src/wire/codes.ts (the browser client may import
 * nothing outside src/client and src/wire, so it cannot live here). docs/errors.md lists every
 * code of both; test/protocol/error-codes.test.ts checks that the doc and the tables agree,
 * both ways, and that src/ writes no code outside them.
 */

/** ErrorCode are the codes of DuplexError and its subclasses (docs/errors.md). */
export const ErrorCode = {
  // Protocol errors: the peer broke RFC 6455 or RFC 7692 (ProtocolError, close code in docs/errors.md).
  ReservedBits: 'DUPLEX_RESERVED_BITS',
  ReservedOpcode: 'DUPLEX_RESERVED_OPCODE',
  FragmentedControl: 'DUPLEX_FRAGMENTED_CONTROL',
  ControlTooBig: 'DUPLEX_CONTROL_TOO_BIG',
  UnmaskedFrame: 'DUPLEX_UNMASKED_FRAME',
  MaskedFrame: 'DUPLEX_MASKED_FRAME',
  NonMinimalLength: 'DUPLEX_NON_MINIMAL_LENGTH',
  LengthMsb: 'DUPLEX_LENGTH_MSB',
  UnexpectedContinuation: 'DUPLEX_UNEXPECTED_CONTINUATION',
  UnexpectedDataFrame: 'DUPLEX_UNEXPECTED_DATA_FRAME',
  InvalidClosePayload: 'DUPLEX_INVALID_CLOSE_PAYLOAD',
  InvalidCloseCode: 'DUPLEX_INVALID_CLOSE_CODE',
  InvalidUtf8: 'DUPLEX_INVALID_UTF8',
  DeflateInvalidData: 'DUPLEX_DEFLATE_INVALID_DATA',
  PayloadTooBig: 'DUPLEX_PAYLOAD_TOO_BIG',
  InternalError: 'DUPLEX_INTERNAL_ERROR',
  PingFlood: 'DUPLEX_PING_FLOOD',
  // The connection ended or was failed by Duplex.
  ConnectionClosed: 'DUPLEX_CONNECTION_CLOSED',
  BufferFull: 'DUPLEX_BUFFER_FULL',
  NotSent: 'DUPLEX_NOT_SENT',
  // The opening handshake (HandshakeError).
  HandshakeMethod: 'DUPLEX_HANDSHAKE_METHOD',
  HandshakeHttpVersion: 'DUPLEX_HANDSHAKE_HTTP_VERSION',
  HandshakeNoHost: 'DUPLEX_HANDSHAKE_NO_HOST',
  HandshakeNoUpgrade: 'DUPLEX_HANDSHAKE_NO_UPGRADE',
  HandshakeNoConnectionUpgrade: 'DUPLEX_HANDSHAKE_NO_CONNECTION_UPGRADE',
  HandshakeVersion: 'DUPLEX_HANDSHAKE_VERSION',
  HandshakeBadKey: 'DUPLEX_HANDSHAKE_BAD_KEY',
  HandshakeBadProtocol: 'DUPLEX_HANDSHAKE_BAD_PROTOCOL',
  HandshakeBadExtensions: 'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
  HandshakeUnexpectedStatus: 'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS',
  HandshakeBadAccept: 'DUPLEX_HANDSHAKE_BAD_ACCEPT',
  HandshakeTimeout: 'DUPLEX_HANDSHAKE_TIMEOUT',
  HandshakeProxyRefused: 'DUPLEX_HANDSHAKE_PROXY_REFUSED',
  HandshakeProxyFailed: 'DUPLEX_HANDSHAKE_PROXY_FAILED',
  HandshakeTooManyRedirects: 'DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS',
  // Connection limits of a WebSocketServer (connection-limits.ts), refused before the handshake.
  HandshakeTooManyConnections: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS',
  HandshakeTooManyConnectionsPerAddress: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS_PER_ADDRESS',
  HandshakeRateLimited: 'DUPLEX_HANDSHAKE_RATE_LIMITED',
  // Other refusals a WebSocketServer decides (its `refused` event, src/node/refusal.ts).
  HandshakeShuttingDown: 'DUPLEX_HANDSHAKE_SHUTTING_DOWN',
  HandshakeNotFound: 'DUPLEX_HANDSHAKE_NOT_FOUND',
  HandshakeWrongPath: 'DUPLEX_HANDSHAKE_WRONG_PATH',
  HandshakeOriginNotAllowed: 'DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED',
  HandshakeRefused: 'DUPLEX_HANDSHAKE_REFUSED',
  HandshakeNoSubprotocol: 'DUPLEX_HANDSHAKE_NO_SUBPROTOCOL',
  HandshakeHookFailed: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
  // Misuse of the API (InvalidStateError, InvalidArgumentError).
  InvalidState: 'DUPLEX_INVALID_STATE',
  CloseReasonTooLong: 'DUPLEX_CLOSE_REASON_TOO_LONG',
  ControlPayloadTooBig: 'DUPLEX_CONTROL_PAYLOAD_TOO_BIG',
  InvalidProtocol: 'DUPLEX_INVALID_PROTOCOL',
  InvalidHeader: 'DUPLEX_INVALID_HEADER',
  InvalidStatus: 'DUPLEX_INVALID_STATUS',
  InvalidOption: 'DUPLEX_INVALID_OPTION',
  InvalidUrl: 'DUPLEX_INVALID_URL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
