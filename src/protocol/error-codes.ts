/**
 * Every stable DUPLEX_* `code` Duplex's errors carry, in one place, as `as const` tables:
 * ErrorCode for the core (DuplexError and its subclasses: protocol, handshake, connection, API
 * misuse) and HubErrorCode for the hub protocol (HubError, HubClientError; re-exported by
 * src/wire/codes.ts). The error classes take a code of their table, so a code that is not
 * here does not compile; docs/errors.md lists each with its meaning
 * (test/protocol/error-codes.test.ts checks that the doc and the tables agree, both ways).
 * This module imports nothing and uses no Node API: the browser client bundles HubErrorCode.
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
  HandshakeTooManyRedirects: 'DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS',
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

/** HubErrorCode is the stable `code` of a failed hub request, on the wire and on the client's errors. */
export const HubErrorCode = {
  /** The message is not valid JSON, has an unknown type, or a field is missing or of a wrong type. */
  BadRequest: 'DUPLEX_HUB_BAD_REQUEST',
  /** `authorize` refused the action on the channel. */
  Forbidden: 'DUPLEX_HUB_FORBIDDEN',
  /** No such RPC method. */
  MethodNotFound: 'DUPLEX_HUB_METHOD_NOT_FOUND',
  /** The RPC handler did not finish within the call's deadline (server or client side). */
  Timeout: 'DUPLEX_HUB_TIMEOUT',
  /** The call was cancelled (the caller aborted or left). */
  Cancelled: 'DUPLEX_HUB_CANCELLED',
  /** The handler failed without a public error; the message is generic (no internals leak). */
  Internal: 'DUPLEX_HUB_INTERNAL',
  /** The connection sent more messages per second than its limit. */
  RateLimited: 'DUPLEX_HUB_RATE_LIMITED',
  /** The message or its data is larger than the limit. */
  TooLarge: 'DUPLEX_HUB_TOO_LARGE',
  /** The connection already has the maximum number of subscriptions. */
  TooManySubscriptions: 'DUPLEX_HUB_TOO_MANY_SUBSCRIPTIONS',
  /** subscribe on a channel this connection is already subscribed to. */
  AlreadySubscribed: 'DUPLEX_HUB_ALREADY_SUBSCRIBED',
  /** unsubscribe from a channel this connection is not subscribed to. */
  NotSubscribed: 'DUPLEX_HUB_NOT_SUBSCRIBED',
  /** The broker (memory, Redis) failed or is unreachable; retryable. */
  BrokerUnavailable: 'DUPLEX_HUB_BROKER_UNAVAILABLE',
  /** A request other than `connect` came before the connection was authenticated. */
  NotConnected: 'DUPLEX_HUB_NOT_CONNECTED',
  /** `refresh` was refused by `authenticate`. */
  Unauthorized: 'DUPLEX_HUB_UNAUTHORIZED',
  // Client side only (never on the wire):
  /** The request was queued while offline and the offline queue was full. */
  OfflineQueueFull: 'DUPLEX_HUB_OFFLINE_QUEUE_FULL',
  /** The connection dropped while the request was in flight and it is not safe to resend (calls). */
  Disconnected: 'DUPLEX_HUB_DISCONNECTED',
  /** client.close() was called, or the hub closed the connection for good. */
  Closed: 'DUPLEX_HUB_CLOSED',
  /** The AbortSignal given with the request fired. */
  Aborted: 'DUPLEX_HUB_ABORTED',
  /** A channel's runtime validator rejected a received message. */
  ValidationFailed: 'DUPLEX_HUB_VALIDATION_FAILED',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];
