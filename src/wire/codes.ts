/**
 * Codes of the hub protocol `duplex.v1`, shared by the hub and HubClient (imports only the
 * error-code table, which imports nothing).
 * docs/protocol.md and docs/errors.md list each with its meaning.
 */

/**
 * HubErrorCode is the stable `code` of a failed request, on the wire and on the client's
 * errors. It lives with every other code in src/protocol/error-codes.ts (imports nothing, so
 * the browser bundle takes it as it is); docs/errors.md lists each.
 */
export { HubErrorCode } from '../protocol/error-codes.js';

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
