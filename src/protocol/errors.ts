import type { ErrorCode } from './error-codes.js';

/**
 * DuplexError is the base of every error Duplex raises. Each has a stable machine `code`
 * (one of the table in error-codes.ts, documented in docs/errors.md), and where it applies
 * the WebSocket close code to send (`closeCode`) or the HTTP status to answer with (`status`).
 * Constructors take the code and message as Error takes its message, and everything else as
 * an options object (docs/design/errors.md).
 */
export class DuplexError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;
  readonly status: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { closeCode?: number; status?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.closeCode = opts.closeCode;
    this.status = opts.status;
  }
}

/** ProtocolErrorOptions are what a ProtocolError is made of. */
export interface ProtocolErrorOptions {
  /** code is the stable DUPLEX_* code, one of the ErrorCode table (docs/errors.md). */
  code: ErrorCode;
  /** message says what the peer did wrong; it is the reason of our close frame, except with 1011. */
  message: string;
  /** closeCode is the close code the connection is failed with (RFC 6455 7.4.1). @default 1002 */
  closeCode?: number;
  /** cause is the underlying exception, when there is one (an internal error's). */
  cause?: unknown;
}

/**
 * ProtocolError is a violation of RFC 6455 by the peer, or a failure the core turned into
 * one (an internal error, 1011): the connection is failed with `closeCode` (1002 unless
 * the options or a subclass say otherwise).
 */
export class ProtocolError extends DuplexError {
  declare readonly closeCode: number;
  constructor({ code, message, closeCode = 1002, cause }: ProtocolErrorOptions) {
    super(code, message, { closeCode, cause });
  }
}

/** InvalidUtf8Error: a text message or a close reason is not valid UTF-8 (close code 1007). */
export class InvalidUtf8Error extends ProtocolError {
  constructor(where: 'text message' | 'close reason') {
    super({ code: 'DUPLEX_INVALID_UTF8', message: `${where} is not valid UTF-8`, closeCode: 1007 });
  }
}

/** PayloadTooBigError: a frame or message is larger than the configured limit (close code 1009). */
export class PayloadTooBigError extends ProtocolError {
  readonly size: number;
  readonly limit: number;
  constructor({ size, limit }: { size: number; limit: number }) {
    super({
      code: 'DUPLEX_PAYLOAD_TOO_BIG',
      message: `message of at least ${size} bytes exceeds the limit of ${limit} bytes`,
      closeCode: 1009,
    });
    this.size = size;
    this.limit = limit;
  }
}

/**
 * HandshakeError: the opening handshake was refused (server side: answer with `status`) or
 * failed (client side: `status` is the server's HTTP status when it answered something other
 * than 101, and undefined otherwise).
 */
export class HandshakeError extends DuplexError {
  /** Extra response headers to send with the refusal, e.g. `Sec-WebSocket-Version: 13` with 426. */
  readonly headers: Record<string, string>;
  constructor(
    code: ErrorCode,
    message: string,
    opts: { status?: number | undefined; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, message, opts);
    this.headers = opts.headers ?? {};
  }
}

/** InvalidStateError: the API was used in a state that does not allow it (sending after close, for example). */
export class InvalidStateError extends DuplexError {
  constructor(message: string) {
    super('DUPLEX_INVALID_STATE', message);
  }
}

/**
 * InvalidArgumentError: a caller passed a value the API does not accept (a close code that
 * may not be sent, a reason over 123 bytes, an option of the wrong type, out of range or
 * unknown). For an option (`DUPLEX_INVALID_OPTION`), `option` is its name as the caller wrote
 * it, e.g. `heartbeat.interval`.
 */
export class InvalidArgumentError extends DuplexError {
  readonly option: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { option?: string } = {}) {
    super(code, message);
    this.option = opts.option;
  }
}
