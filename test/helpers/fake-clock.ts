/**
 * fake-clock is a Clock whose time moves only when a test says so: `advance(ms)` runs every
 * timer that falls due on the way, in order, each at its own time. Pass it as the `clock`
 * option, so timeouts are exact and cost no waiting.
 */
import type { Clock, ClockTimer } from 'duplexjs';

interface Pending {
  at: number;
  seq: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  #now = 1_000_000;
  #seq = 0;
  readonly #timers = new Map<ClockTimer, Pending>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer = {};
    this.#timers.set(timer, { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback });
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer !== undefined) this.#timers.delete(timer);
  }

  /** pending is the number of timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** advance moves time forward by `ms`, firing due timers in order (at most 10,000 of them). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let next: [ClockTimer, Pending] | undefined;
      for (const entry of this.#timers) {
        const [, p] = entry;
        if (p.at <= end && (!next || p.at < next[1].at || (p.at === next[1].at && p.seq < next[1].seq))) {
          next = entry;
        }
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
    }
    this.#now = end;
  }
}
