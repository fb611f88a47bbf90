/**
 * Clock is where HubClient gets time and timers, injectable so that tests fire its timers
 * (backoff, liveness, token refresh, timeouts) exactly. Handles are opaque.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** systemClock is the platform's Date.now, setTimeout and clearTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};
