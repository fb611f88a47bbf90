import { HubErrorCode } from '../wire/codes.js';

/** Codes a hub error may carry on the wire (the client-side-only codes are excluded). */
export type HubWireErrorCode = Exclude<
  HubErrorCode,
  | typeof HubErrorCode.OfflineQueueFull
  | typeof HubErrorCode.Disconnected
  | typeof HubErrorCode.Closed
  | typeof HubErrorCode.Aborted
  | typeof HubErrorCode.ValidationFailed
>;

/** Codes that are retryable by default (docs/protocol.md, Errors). */
const RETRYABLE: ReadonlySet<string> = new Set([
  HubErrorCode.Timeout,
  HubErrorCode.RateLimited,
  HubErrorCode.BrokerUnavailable,
]);

/**
 * HubError is an error with a public, stable code: thrown by an RPC handler, `authorize` or a
 * broker, its code and message go to the client as an `error` reply. Any other exception a
 * handler throws becomes `DUPLEX_HUB_INTERNAL` with a generic message (details stay in the
 * server's log), so internals never leak.
 */
export class HubError extends Error {
  readonly code: HubWireErrorCode;
  /** True when the same request may succeed if sent again later. */
  readonly retryable: boolean;

  constructor(
    code: HubWireErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
  }
}

/** brokerUnavailable is the error a broker rejects with when it cannot serve a request (retryable). */
export function brokerUnavailable(message = 'the broker is unavailable', cause?: unknown): HubError {
  return new HubError(HubErrorCode.BrokerUnavailable, message, { retryable: true, cause });
}
