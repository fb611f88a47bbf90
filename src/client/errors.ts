import { HubErrorCode } from '../wire/codes.js';

/** Codes that are worth trying again later, when the reply did not say. */
const RETRYABLE: ReadonlySet<HubErrorCode> = new Set<HubErrorCode>([
  HubErrorCode.Timeout,
  HubErrorCode.RateLimited,
  HubErrorCode.BrokerUnavailable,
  HubErrorCode.OfflineQueueFull,
  HubErrorCode.Disconnected,
]);

/** HubClientErrorOptions are the details an error may carry besides its code. */
export interface HubClientErrorOptions {
  /** Overrides the code's default (the hub's `retryable` field, when it sent one). */
  retryable?: boolean;
  /** The WebSocket close code, for errors caused by a closed connection. */
  closeCode?: number;
  cause?: unknown;
}

/**
 * HubClientError is every error HubClient reports: a rejected promise, an `error` event. `code`
 * is one of src/wire/codes.ts (the hub's code for a refused request, or a client-side one such
 * as DUPLEX_HUB_OFFLINE_QUEUE_FULL); `retryable` says whether the same request may succeed later.
 */
export class HubClientError extends Error {
  override name = 'HubClientError';
  readonly code: HubErrorCode;
  readonly retryable: boolean;
  /** The WebSocket close code, when a closed connection caused the error. */
  readonly closeCode: number | undefined;

  constructor(code: HubErrorCode, message: string, options: HubClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.closeCode = options.closeCode;
  }
}
