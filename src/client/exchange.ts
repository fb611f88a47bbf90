import { HubErrorCode } from '../wire/codes.js';
import type { ClientMessage, ServerMessage } from '../wire/messages.js';
import type { Clock } from './clock.js';
import { HubClientError } from './errors.js';
import { OfflineQueue, type Outgoing, type RequestKind, type RequestOptions } from './requests.js';
import { retryableOption } from './subscription-core.js';
import { utf8Length } from './utf8.js';

/** ReplyHandler receives the reply to one request id, with the binary frames that followed it. */
export type ReplyHandler = (reply: ServerMessage, binaries: Uint8Array[]) => void;

/** ExchangeLink is what an Exchange needs of its client's connection. */
export interface ExchangeLink {
  readonly clock: Clock;
  /** open: the hub answered `connected` on the current connection. */
  open(): boolean;
  /** closed: the client ended for good. */
  closed(): boolean;
  /** send writes one frame on the open connection. */
  send(data: string | Uint8Array): void;
  /** maxMessageBytes is the connection's limit (the `connected` reply's `limits`), if known. */
  maxMessageBytes(): number | undefined;
}

/** ExchangeOptions are the resolved request options of the client. */
export interface ExchangeOptions {
  requestTimeoutMs: number;
  maxQueueCount: number;
  maxQueueBytes: number;
}

/**
 * Exchange is a HubClient's request bookkeeping: request ids and reply handlers of the current
 * connection, the requests in flight, the offline queue, and the promises of publish, call,
 * presence and history with their deadlines and AbortSignals. The client tells it when a
 * connection opens (`flush`) and drops (`disconnected`).
 */
export class Exchange {
  readonly #link: ExchangeLink;
  readonly #options: ExchangeOptions;
  readonly #queue: OfflineQueue;
  readonly #inflight = new Set<Outgoing>();
  #replies = new Map<number, ReplyHandler>();
  #nextId = 1;

  constructor(link: ExchangeLink, options: ExchangeOptions) {
    this.#link = link;
    this.#options = options;
    this.#queue = new OfflineQueue(options.maxQueueCount, options.maxQueueBytes);
  }

  /** sendRequest sends a control request (connect, subscribe ...) whose reply goes to `handler`. */
  sendRequest(message: ClientMessage & { id: number }, handler: ReplyHandler): void {
    message.id = this.#nextId++;
    this.#replies.set(message.id, handler);
    this.#link.send(JSON.stringify(message));
  }

  /** take removes and returns the handler of a reply's id. */
  take(id: number | undefined): ReplyHandler | undefined {
    if (id === undefined) return undefined;
    const handler = this.#replies.get(id);
    this.#replies.delete(id);
    return handler;
  }

  /**
   * request makes a publish, call, presence or history promise: sent now when open, else queued
   * (or refused with DUPLEX_HUB_OFFLINE_QUEUE_FULL); rejected at its deadline
   * (DUPLEX_HUB_TIMEOUT) or when its signal fires (DUPLEX_HUB_ABORTED), a call in flight then
   * being cancelled on the hub.
   */
  request<R>(
    kind: RequestKind,
    message: ClientMessage & { id: number },
    binary: Uint8Array | undefined,
    options: RequestOptions | undefined,
    parse: (reply: ServerMessage, binaries: Uint8Array[]) => R,
  ): Promise<R> {
    if (this.#link.closed())
      return Promise.reject(new HubClientError(HubErrorCode.Closed, 'the client is closed'));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const timeoutMs = options?.timeoutMs ?? this.#options.requestTimeoutMs;
    if (!(timeoutMs > 0))
      return Promise.reject(new TypeError(`timeoutMs must be positive, got ${timeoutMs}`));
    const { clock } = this.#link;
    return new Promise<R>((resolve, reject) => {
      let timer: unknown;
      const cleanup = () => {
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const out: Outgoing = {
        kind,
        message,
        binary,
        bytes: 0,
        deadline: timeoutMs === Infinity ? Infinity : clock.now() + timeoutMs,
        id: undefined,
        settled: false,
        reply: (reply, binaries) => {
          if (out.settled) return;
          if (reply.type === 'error') {
            out.fail(new HubClientError(reply.code, reply.message, retryableOption(reply)));
            return;
          }
          let value: R;
          try {
            value = parse(reply, binaries);
          } catch (error) {
            out.fail(error as HubClientError);
            return;
          }
          out.settled = true;
          cleanup();
          resolve(value);
        },
        fail: (error) => {
          if (out.settled) return;
          out.settled = true;
          cleanup();
          reject(error);
        },
      };
      const giveUp = (error: HubClientError) => {
        if (out.settled) return;
        this.#withdraw(out);
        out.fail(error);
      };
      const onAbort = () => giveUp(aborted(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== Infinity) {
        timer = clock.setTimeout(
          () => giveUp(new HubClientError(HubErrorCode.Timeout, `${kind} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      if (this.#link.open()) {
        this.#send(out);
        return;
      }
      out.bytes = utf8Length(JSON.stringify(message)) + (binary?.byteLength ?? 0);
      if (!this.#queue.admit(out)) {
        const { size, bytes } = this.#queue;
        out.fail(
          new HubClientError(
            HubErrorCode.OfflineQueueFull,
            `the offline queue is full (${size} requests, ${bytes} bytes; a request of ${out.bytes} bytes)`,
          ),
        );
      }
    });
  }

  /** flush sends the queued requests in order (the connection just opened). */
  flush(): void {
    for (const out of this.#queue.drain()) if (!out.settled) this.#send(out);
  }

  /**
   * disconnected forgets the connection's ids and handlers. Calls in flight reject with
   * DUPLEX_HUB_DISCONNECTED (their handlers may have run); publishes (with their idempotency
   * keys) and reads go back to the front of the queue, to be sent again.
   */
  disconnected(closeCode: number | undefined): void {
    this.#nextId = 1;
    this.#replies = new Map();
    const resend: Outgoing[] = [];
    for (const out of this.#inflight) {
      out.id = undefined;
      if (out.kind !== 'call') resend.push(out);
      else {
        const message = 'the connection dropped while the call was in flight; it may have run';
        out.fail(
          new HubClientError(
            HubErrorCode.Disconnected,
            message,
            closeCode === undefined ? {} : { closeCode },
          ),
        );
      }
    }
    this.#inflight.clear();
    this.#queue.requeue(resend);
  }

  /** failAll rejects every request, in flight or queued (the client ended). */
  failAll(error: HubClientError): void {
    this.#nextId = 1;
    this.#replies = new Map();
    const pending = [...this.#inflight, ...this.#queue.drain()];
    this.#inflight.clear();
    for (const out of pending) out.fail(error);
  }

  /** withdraw takes a request back from the queue or the wire; a call in flight is cancelled. */
  #withdraw(out: Outgoing): void {
    this.#queue.remove(out);
    if (out.id === undefined) return;
    this.#replies.delete(out.id);
    this.#inflight.delete(out);
    if (out.kind === 'call' && this.#link.open()) {
      this.#link.send(JSON.stringify({ type: 'cancel', id: out.id } satisfies ClientMessage));
    }
    out.id = undefined;
  }

  #send(out: Outgoing): void {
    const id = this.#nextId++;
    out.message.id = id;
    if (out.message.type === 'call' && out.deadline !== Infinity) {
      out.message.timeoutMs = Math.max(1, Math.ceil(out.deadline - this.#link.clock.now()));
    }
    const text = JSON.stringify(out.message);
    // The hub answers a message over its limit with TOO_LARGE, and closes the connection (1009)
    // for a frame over four times it: refused here, it cannot make the client resend it forever.
    const limit = this.#link.maxMessageBytes();
    const size = Math.max(utf8Length(text), out.binary?.byteLength ?? 0);
    if (limit !== undefined && size > limit) {
      out.fail(
        new HubClientError(HubErrorCode.TooLarge, `${out.kind} of ${size} bytes, over the hub's ${limit}`),
      );
      return;
    }
    out.id = id;
    this.#inflight.add(out);
    this.#replies.set(id, (reply, binaries) => {
      this.#inflight.delete(out);
      out.id = undefined;
      out.reply(reply, binaries);
    });
    this.#link.send(text);
    // docs/protocol.md: "the very next frame from the same sender is a binary frame holding its payload".
    if (out.binary !== undefined) this.#link.send(out.binary);
  }
}

function aborted(signal: AbortSignal | undefined): HubClientError {
  return new HubClientError(HubErrorCode.Aborted, 'the request was aborted', { cause: signal?.reason });
}
