/** FlowControl is what a MessageQueue pauses when its consumer falls behind. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Queue limits: reading pauses at either bound and resumes once the consumer caught up. */
const MAX_MESSAGES = 16;
const MAX_BYTES = 1024 * 1024;

/**
 * MessageQueue is the bounded buffer behind `for await (const message of socket)`. When
 * it holds MAX_MESSAGES messages or MAX_BYTES bytes it pauses reading from the socket, so
 * a slow loop pushes back on the peer through TCP instead of growing memory.
 */
export class MessageQueue<T> implements AsyncIterableIterator<T> {
  readonly #flow: FlowControl;
  readonly #onDetach: () => void;
  readonly #items: Array<{ value: T; size: number }> = [];
  #bytes = 0;
  #paused = false;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: unknown;

  constructor(flow: FlowControl, onDetach: () => void) {
    this.#flow = flow;
    this.#onDetach = onDetach;
  }

  /** push adds one message; `size` is its payload length in bytes. */
  push(value: T, size: number): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve({ value, done: false });
      return;
    }
    this.#items.push({ value, size });
    this.#bytes += size;
    if (!this.#paused && (this.#items.length >= MAX_MESSAGES || this.#bytes >= MAX_BYTES)) {
      this.#paused = true;
      this.#flow.pause();
    }
  }

  /** end finishes the iteration once the queued messages are consumed; with an error, the loop throws it. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      this.#settleEnd(waiter);
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item) {
      this.#bytes -= item.size;
      if (this.#paused && this.#items.length < MAX_MESSAGES / 2 && this.#bytes < MAX_BYTES / 2) {
        this.#paused = false;
        this.#flow.resume();
      }
      return Promise.resolve({ value: item.value, done: false });
    }
    if (this.#ended) return new Promise((resolve, reject) => this.#settleEnd({ resolve, reject }));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** return detaches the loop (on `break`): reading resumes, the socket stays open. */
  return(): Promise<IteratorResult<T>> {
    this.#detach();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settleEnd(waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }): void {
    const error = this.#error;
    this.#error = undefined;
    this.#detach();
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }

  #detach(): void {
    this.#ended = true;
    this.#items.length = 0;
    this.#bytes = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#flow.resume();
    }
    this.#onDetach();
  }
}
