import { type Clock, type ClockTimer, realClock } from './clock.js';
import type { HeartbeatOptions } from './options.js';

/** HeartbeatTarget is what a Heartbeat probes: the transport of one connection. */
export interface HeartbeatTarget {
  /** Sends a ping frame. */
  ping(): void;
  /** Destroys the connection without a close handshake. */
  terminate(): void;
  /** True while the application has paused reading: unread bytes then prove nothing. */
  isPaused(): boolean;
}

/**
 * Heartbeat detects dead peers. After `interval` ms without a byte from the peer it sends
 * a ping; when nothing at all arrives within `timeout` ms more, it terminates. Counting any
 * byte (not only pongs) keeps a slow peer alive while it streams a large message, and
 * pinging only idle connections keeps busy ones free of probes.
 *
 * A Heartbeat holds no timer of its own: every connection with the same settings joins one
 * HeartbeatWheel, whose single interval timer sweeps them all every quarter of the shorter
 * period. So an idle connection costs a few numbers, not a Timeout and its closures, and
 * each deadline is kept to within that quarter period.
 */
export class Heartbeat {
  readonly #wheel: HeartbeatWheel;
  readonly #target: HeartbeatTarget;
  /** Set by touch, cleared by each sweep: did a byte arrive since the last sweep? */
  #seen = false;
  /** When the peer last sent something, in the wheel's time (HeartbeatWheel#elapsed). */
  #lastSeen: number;
  #pingSentAt = -1;
  #stopped = false;

  constructor(options: HeartbeatOptions, target: HeartbeatTarget, clock: Clock = realClock) {
    this.#wheel = HeartbeatWheel.for(options, clock);
    this.#target = target;
    this.#lastSeen = this.#wheel.elapsed();
    this.#wheel.add(this);
  }

  /** touch records that the peer sent something. Called for every chunk, so it only sets a flag. */
  touch(): void {
    this.#seen = true;
  }

  /** stop cancels the heartbeat for good. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wheel.delete(this);
  }

  /** sweep is the wheel's visit at time `now`; it returns false once the connection was terminated. */
  sweep(now: number, options: HeartbeatOptions): boolean {
    if (this.#seen) {
      this.#seen = false;
      this.#lastSeen = now;
      this.#pingSentAt = -1;
      return true;
    }
    const paused = this.#target.isPaused();
    if (this.#pingSentAt >= 0) {
      if (paused) {
        this.#pingSentAt = -1;
        this.#lastSeen = now;
      } else if (now - this.#pingSentAt >= options.timeout) {
        this.#stopped = true;
        this.#target.terminate();
        return false;
      }
      return true;
    }
    if (now - this.#lastSeen < options.interval) return true;
    if (paused) {
      this.#lastSeen = now;
      return true;
    }
    this.#pingSentAt = now;
    this.#target.ping();
    return true;
  }
}

/**
 * HeartbeatWheel is the one timer behind every Heartbeat with the same interval, timeout
 * and clock: a timer re-armed after each sweep while the wheel has members.
 */
export class HeartbeatWheel {
  static readonly #wheels = new WeakMap<Clock, Map<string, HeartbeatWheel>>();

  /**
   * for returns the shared wheel of these settings, creating it on first use. Wheels stay
   * (an idle one holds no timer), one set per clock.
   */
  static for(options: HeartbeatOptions, clock: Clock): HeartbeatWheel {
    const key = `${options.interval}/${options.timeout}`;
    const wheels = HeartbeatWheel.#wheels.get(clock) ?? new Map<string, HeartbeatWheel>();
    HeartbeatWheel.#wheels.set(clock, wheels);
    const wheel = wheels.get(key) ?? new HeartbeatWheel(options, clock);
    wheels.set(key, wheel);
    return wheel;
  }

  readonly #options: HeartbeatOptions;
  readonly #clock: Clock;
  readonly #period: number;
  /**
   * The clock's time when the wheel was made: the heartbeats count from it, so that their
   * times are small integers (held in the field itself) rather than epoch milliseconds,
   * which V8 boxes in a 16-byte number per field per connection.
   */
  readonly #base: number;
  readonly #members = new Set<Heartbeat>();
  #timer: ClockTimer | undefined;

  private constructor(options: HeartbeatOptions, clock: Clock) {
    this.#options = { interval: options.interval, timeout: options.timeout };
    this.#clock = clock;
    this.#period = Math.max(1, Math.floor(Math.min(options.interval, options.timeout) / 4));
    this.#base = clock.now();
  }

  /**
   * elapsed is the time since the wheel was made, in whole milliseconds: the heartbeats'
   * clock. Math.floor makes it a small integer even where a subtraction of two epoch times
   * would leave a boxed double (V8's interpreter does).
   */
  elapsed(): number {
    return Math.floor(this.#clock.now() - this.#base);
  }

  add(heartbeat: Heartbeat): void {
    this.#members.add(heartbeat);
    if (this.#timer === undefined) this.#timer = this.#clock.setTimeout(this.#sweep, this.#period);
  }

  delete(heartbeat: Heartbeat): void {
    this.#members.delete(heartbeat);
    if (this.#members.size === 0 && this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = this.elapsed();
    for (const heartbeat of this.#members) {
      if (!heartbeat.sweep(now, this.#options)) this.delete(heartbeat);
    }
    if (this.#members.size > 0 && this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(this.#sweep, this.#period);
    }
  };
}
