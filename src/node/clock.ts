/**
 * Clock is the time source of the node layer's timers: the heartbeat, the server's
 * handshake timeout and the close timeout. The real one is the default; tests pass a fake
 * one (the `clock` socket option) and move time by hand, so every timeout is exact and
 * instant to test.
 */
export interface Clock {
  /** now is the current time in milliseconds. */
  now(): number;
  /** setTimeout calls `callback` once after `ms` milliseconds; the timer never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** clearTimeout cancels a timer of this clock; undefined and fired timers are ignored. */
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** ClockTimer is a timer handle of one Clock, opaque to everything else. */
export type ClockTimer = object;

/** realClock is Node's time, with unref'd timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
