import type { IncomingHttpHeaders } from 'node:http';
import { HandshakeError } from '../protocol/index.js';

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

  constructor(status: number, body: string, responseHeaders: IncomingHttpHeaders) {
    super('DUPLEX_HANDSHAKE_UNEXPECTED_STATUS', `server answered ${status} instead of 101`, status);
    this.body = body;
    this.responseHeaders = responseHeaders;
  }
}
