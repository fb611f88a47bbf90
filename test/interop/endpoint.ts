// An Endpoint is one side of an interop connection, whatever implements it (Duplex, ws,
// python-websockets, Chromium): the scenarios drive it through these calls and read what it
// observed from its event log, in order.

import { createHash } from 'node:crypto';

/** What an endpoint saw, normalised across implementations. */
export type Observed =
  | {
      kind: 'message';
      type: 'text' | 'binary';
      /** Payload length in bytes (UTF-8 bytes for text). */
      length: number;
      sha256: string;
      /** The payload bytes, when the peer reported them (small messages always). */
      bytes?: Buffer;
      /** The decoded text of a text message, when reported. */
      text?: string;
    }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'close'; code: number; reason: string; wasClean?: boolean }
  | { kind: 'error'; message: string };

export interface Endpoint {
  /** Who this is, for messages: 'Duplex server', 'ws client', ... */
  readonly name: string;
  readonly events: EventLog<Observed>;
  /** The negotiated subprotocol as this endpoint sees it ('' when none). */
  readonly protocol: string;
  /** The negotiated Sec-WebSocket-Extensions value as this endpoint reports it ('' when none), if it does. */
  readonly extensions?: string;
  sendText(text: string): Promise<void>;
  sendBinary(data: Buffer): Promise<void>;
  /** Sends a ping; absent when the implementation cannot (a browser). */
  ping?(data: Buffer): Promise<void>;
  close(code: number, reason: string): Promise<void>;
  /** Tears everything down at once (kills processes, destroys sockets); safe to call twice. */
  dispose(): Promise<void>;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** messageOf builds an Observed message from received data. */
export function messageOf(type: 'text' | 'binary', data: Buffer | string): Observed {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const msg: Observed = { kind: 'message', type, length: bytes.length, sha256: sha256(bytes), bytes };
  if (typeof data === 'string') msg.text = data;
  return msg;
}

interface Waiter<E> {
  match: (e: E) => boolean;
  resolve: (e: E) => void;
}

/**
 * EventLog holds what an endpoint observed, in arrival order. take() removes and returns the
 * first event that matches, waiting for it up to a timeout.
 */
export class EventLog<E> {
  readonly #items: E[] = [];
  readonly #waiters = new Set<Waiter<E>>();
  /** Everything ever pushed, for failure messages and final checks. */
  readonly history: E[] = [];

  push(event: E): void {
    this.history.push(event);
    for (const w of this.#waiters) {
      if (w.match(event)) {
        this.#waiters.delete(w);
        w.resolve(event);
        return;
      }
    }
    this.#items.push(event);
  }

  take(match: (e: E) => boolean, what: string, timeoutMs = 15_000): Promise<E> {
    const i = this.#items.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#items.splice(i, 1)[0]!);
    return new Promise<E>((resolve, reject) => {
      const waiter: Waiter<E> = {
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw: ${describe(this.history)}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

function describe(events: unknown[]): string {
  const shown = events.slice(-12).map((e) =>
    JSON.stringify(e, (_k, v) => {
      if (v && typeof v === 'object' && v.type === 'Buffer') return `<${v.data.length} bytes>`;
      if (typeof v === 'string' && v.length > 80) return `${v.slice(0, 80)}...(${v.length})`;
      return v;
    }),
  );
  return `[${events.length > 12 ? '..., ' : ''}${shown.join(', ')}]`;
}

/** withTimeout bounds a promise (a close, a launch) so that no test step can hang. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
