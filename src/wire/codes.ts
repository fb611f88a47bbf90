/**
 * Codes of the hub protocol `duplex.v1`, shared by the hub and HubClient (imports nothing).
 * docs/protocol.md and docs/errors.md list each with its meaning.
 */

/** HubErrorCode is the stable `code` of a failed request, on the wire and on the client's errors. */
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

/**
 * HubCloseCode are the WebSocket close codes the hub uses (4000-4999 is the application range of
 * RFC 6455 7.4.2), plus the standard ones it sends. `reconnect` tells HubClient what to do.
 */
export const HubCloseCode = {
  /** Standard: the hub is shutting down for good. Client: reconnects (another process may answer). */
  GoingAway: 1001,
  /** Standard: the message broke the protocol (bad JSON, unknown type, no connect first). Client: reconnects. */
  PolicyViolation: 1008,
  /** Standard: a message over the size limit. Client: reconnects. */
  MessageTooBig: 1009,
  /** Standard: the hub is restarting; the close reason holds a JSON retry hint `{"retryAfterMs":N}`. Client: reconnects after the hint. */
  ServiceRestart: 1012,
  /** `authenticate` refused the connect token. Client: does not reconnect (state 'closed'). */
  Unauthorized: 4001,
  /** The token expired and no successful `refresh` came in time. Client: reconnects with a fresh token. */
  TokenExpired: 4002,
  /** No `connect` message within the connect timeout. Client: reconnects. */
  ConnectTimeout: 4003,
  /** The slow-consumer policy `close` dropped this connection: it did not read fast enough. Client: reconnects and recovers. */
  SlowConsumer: 4004,
  /** Too many messages over the rate limit. Client: reconnects after backoff. */
  RateLimited: 4005,
  /** The server disconnected the client (hub.disconnect). Client: does not reconnect. */
  Kicked: 4006,
  /** No `pong` to the hub's `ping` in time. Client: reconnects. */
  NoPong: 4007,
} as const;
export type HubCloseCode = (typeof HubCloseCode)[keyof typeof HubCloseCode];
