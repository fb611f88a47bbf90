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
 * pinging only idle connections keeps busy ones free of probes. The clock is injectable.
 */
export class Heartbeat {
  readonly #options: HeartbeatOptions;
  readonly #target: HeartbeatTarget;
  readonly #now: () => number;
  #lastSeen: number;
  #pingSentAt = -1;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeartbeatOptions, target: HeartbeatTarget, now: () => number = Date.now) {
    this.#options = options;
    this.#target = target;
    this.#now = now;
    this.#lastSeen = now();
    this.#schedule(options.interval);
  }

  /** touch records that the peer sent something. Called for every chunk, so it only stores a number. */
  touch(): void {
    this.#lastSeen = this.#now();
  }

  /** stop cancels the heartbeat for good. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(this.#tick, Math.max(1, ms));
    this.#timer.unref();
  }

  #tick = (): void => {
    const now = this.#now();
    const answered = this.#lastSeen >= this.#pingSentAt;
    if (this.#pingSentAt >= 0 && !answered && !this.#target.isPaused()) {
      this.#timer = undefined;
      this.#target.terminate();
      return;
    }
    this.#pingSentAt = -1;
    const idle = now - this.#lastSeen;
    if (this.#target.isPaused()) {
      this.#schedule(this.#options.interval);
    } else if (idle < this.#options.interval) {
      this.#schedule(this.#options.interval - idle);
    } else {
      this.#pingSentAt = now;
      this.#target.ping();
      this.#schedule(this.#options.timeout);
    }
  };
}
