import type { ClientMessage, ServerMessage } from '../wire/messages.js';
import type { HubClientError } from './errors.js';

/** RequestOptions bound one request in time. */
export interface RequestOptions {
  /**
   * Reject with DUPLEX_HUB_TIMEOUT after this many ms, counted from the call (time in the
   * offline queue included); Infinity for none. @default the client's requestTimeoutMs
   */
  timeoutMs?: number;
  /** Reject with DUPLEX_HUB_ABORTED when it fires (a call in flight is also cancelled on the hub). */
  signal?: AbortSignal;
}

/** RequestKind tells how a request behaves when its connection drops. */
export type RequestKind = 'publish' | 'call' | 'presence' | 'history';

/**
 * Outgoing is one publish, call, presence or history request, from the application's call to its
 * settlement. Publishes (with their idempotency key) and reads are sent again after a reconnect;
 * calls are not (their handlers may have run).
 */
export interface Outgoing {
  readonly kind: RequestKind;
  /** The message; its `id` is set each time it is sent. */
  readonly message: ClientMessage & { id: number };
  /** The payload of a binary publish, sent as the frame right after the message. */
  readonly binary: Uint8Array | undefined;
  /** Bytes it takes in the offline queue (JSON and binary). */
  bytes: number;
  /** Wall time (clock.now) after which it times out; Infinity for never. */
  readonly deadline: number;
  /** The wire id while in flight on the current connection. */
  id: number | undefined;
  settled: boolean;
  /** settle with the hub's reply and any binary frames that followed it. */
  reply(message: ServerMessage, binaries: Uint8Array[]): void;
  fail(error: HubClientError): void;
}

/**
 * OfflineQueue holds the requests made while the client is not open, bounded in count and
 * bytes. `admit` refuses a request beyond either bound (the caller rejects it with
 * DUPLEX_HUB_OFFLINE_QUEUE_FULL). Requests sent again after a drop go back to its front
 * unconditionally: they were admitted once.
 */
export class OfflineQueue {
  #items: Outgoing[] = [];
  #bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  admit(item: Outgoing): boolean {
    if (this.#items.length + 1 > this.maxCount || this.#bytes + item.bytes > this.maxBytes) return false;
    this.#items.push(item);
    this.#bytes += item.bytes;
    return true;
  }

  /** requeue puts requests to send again ahead of the others, in their order. */
  requeue(items: Outgoing[]): void {
    this.#items = [...items, ...this.#items];
    for (const item of items) this.#bytes += item.bytes;
  }

  remove(item: Outgoing): void {
    const index = this.#items.indexOf(item);
    if (index < 0) return;
    this.#items.splice(index, 1);
    this.#bytes -= item.bytes;
  }

  /** drain empties the queue and returns what it held, oldest first. */
  drain(): Outgoing[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
