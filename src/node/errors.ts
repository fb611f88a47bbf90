import type { IncomingHttpHeaders } from 'node:http';
import { DuplexError, HandshakeError } from '../protocol/index.js';

/**
 * UnexpectedResponseError is the client-side failure when the server answers the upgrade
 * request with something other than 101 (a refusal by `authenticate`, 403 for a foreign
 * origin, 404 from a plain web server). It carries the HTTP `status`, the response
 * headers and the start of the body, so that applications can show why they were refused.
 */
export class UnexpectedResponseError extends HandshakeError {
  /** The response body, cut at 64 KiB. */
  readonly body: string;
  readonly responseHeaders: IncomingHttpHeaders;

  constructor({
    status,
    body,
    responseHeaders,
  }: {
    status: number;
    body: string;
    responseHeaders: IncomingHttpHeaders;
  }) {
    super('DUPLEX_HANDSHAKE_UNEXPECTED_STATUS', `server answered ${status} instead of 101`, { status });
    this.body = body;
    this.responseHeaders = responseHeaders;
  }
}

/**
 * ConnectionClosedError is what `for await (const message of socket)` throws when the
 * connection ended without a clean closing handshake: the peer dropped TCP, broke the
 * protocol, or the connection was terminated or failed locally. `closeCode`, `reason` and
 * `wasClean` are those of the close event (its `code` is `closeCode` here: `code` is the
 * DUPLEX_* string on every DuplexError, docs/design/errors.md); `cause` is the underlying
 * error, if any.
 */
export class ConnectionClosedError extends DuplexError {
  declare readonly closeCode: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor({
    closeCode,
    reason,
    wasClean,
    cause,
  }: {
    closeCode: number;
    reason: string;
    wasClean: boolean;
    cause?: unknown;
  }) {
    super('DUPLEX_CONNECTION_CLOSED', `connection closed abnormally with ${closeCode}`, { closeCode, cause });
    this.reason = reason;
    this.wasClean = wasClean;
  }
}

/**
 * BufferFullError reports the send-buffer policy: a send found more than
 * `maxBufferedAmount` bytes still waiting for the peer, so the connection is closed with
 * 1008 instead of queuing more. `bufferedAmount` is what was waiting, `limit` the option.
 */
export class BufferFullError extends DuplexError {
  readonly bufferedAmount: number;
  readonly limit: number;

  constructor({ bufferedAmount, limit }: { bufferedAmount: number; limit: number }) {
    super(
      'DUPLEX_BUFFER_FULL',
      `send buffer full: ${bufferedAmount} bytes wait for the peer, over maxBufferedAmount ${limit}; wait for 'drain' when send() returns false`,
      { closeCode: 1008 },
    );
    this.bufferedAmount = bufferedAmount;
    this.limit = limit;
  }
}
