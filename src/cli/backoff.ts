/** BackoffOptions shape the reconnect delays of `duplex connect --reconnect`. */
export interface BackoffOptions {
  /** Delay before the first retry. @default 250 ms */
  initialMs?: number;
  /** Longest delay. @default 30 s */
  maxMs?: number;
  /** A number in [0, 1), injected so that tests are exact. @default Math.random */
  random?: () => number;
}

/**
 * backoffDelay is the wait before retry number `attempt` (1, 2, ...): exponential from
 * `initialMs`, doubled per attempt up to `maxMs`, with "equal jitter" (between half and all
 * of it) so that many clients dropped together by one server restart do not come back in
 * lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
