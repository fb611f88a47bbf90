import type { ErrorCode } from '../protocol/index.js';

/**
 * HandshakeRefusal describes one upgrade request that a WebSocketServer refused: the first
 * argument of its `refused` event (and of the Hub's). Every refusal has one, whoever decided it:
 * request validation, the connection limits, the origin policy, `authenticate` or
 * `verifyClient`, a failing hook, the path, the handshake timeout or a server shutting down.
 * It is a plain object, not an Error: a flood of refused handshakes costs no stack traces.
 */
export interface HandshakeRefusal {
  /**
   * Stable machine code: a handshake code of docs/errors.md, or the `code` an
   * `authenticate` refusal gave (an application's own small set, e.g. `APP_TOKEN_EXPIRED`).
   */
  code: string;
  /** The HTTP status written on the wire; with `handedOver`, the one Duplex would have written. */
  status: number;
  /** Why, in words (the response body of Duplex's own refusals, without the newline). */
  message: string;
  /** Headers sent with the refusal beside the standard ones, e.g. `Retry-After`. */
  headers: Record<string, string>;
  /**
   * true when the request went to a `wsClientError` listener, which answers it itself (ws's
   * contract); Duplex then wrote nothing.
   */
  handedOver: boolean;
}

/** RefusalInput is what the server knows of a refusal before it writes it. */
export interface RefusalInput {
  code: ErrorCode | string;
  status: number;
  body?: string | undefined;
  headers?: Record<string, string> | undefined;
}

/** APP_CODE is the shape an application's refusal code must have to be reported as is. */
const APP_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * refusalCode is the code reported for an `authenticate` refusal: the one it gave when that
 * is an upper-case identifier of 64 characters at most, else DUPLEX_HANDSHAKE_REFUSED (the
 * code is a metrics label: its shape is kept tame).
 */
export function refusalCode(code: unknown): string {
  return typeof code === 'string' && APP_CODE.test(code) ? code : 'DUPLEX_HANDSHAKE_REFUSED';
}
