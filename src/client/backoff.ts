/** BackoffOptions bound the delay before a reconnect attempt. */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay; it doubles per failed attempt. @default 500 */
  baseMs: number;
  /** The largest ceiling. @default 30 000 */
  maxMs: number;
}

/**
 * backoffDelay is the delay before reconnect attempt `attempt` (0 for the first retry after a
 * drop): exponential backoff with full jitter, a uniformly random delay between 0 and
 * min(maxMs, baseMs * 2^attempt), so that clients dropped together do not come back together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 31));
  return Math.floor(random() * ceiling);
}

/**
 * retryAfterHint reads the hub's restart hint, the close reason `{"retryAfterMs":N}` of a 1012
 * close (docs/protocol.md); undefined when the reason is not such a JSON object.
 */
export function retryAfterHint(reason: string): number | undefined {
  if (!reason.startsWith('{')) return undefined;
  try {
    const value = (JSON.parse(reason) as { retryAfterMs?: unknown }).retryAfterMs;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * hintDelay honours a retry hint with jitter: a uniformly random delay between the hint and
 * twice the hint (never earlier than the hub asked), the hint first capped at `maxMs`.
 */
export function hintDelay(hintMs: number, maxMs: number, random: () => number): number {
  const hint = Math.min(hintMs, maxMs);
  return Math.floor(hint + random() * hint);
}
