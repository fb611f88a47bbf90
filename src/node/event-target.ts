import type { CloseEvent, DataEvent, ErrorEvent } from './events.js';

/** WebSocketData is a received message: a string for text, binary as `binaryType` says. */
export type WebSocketData = string | Buffer | ArrayBuffer | Blob;

/** WebSocketEventMap types the events of a WebSocket. */
export interface WebSocketEventMap {
  open: Event;
  message: DataEvent<WebSocketData>;
  error: ErrorEvent;
  close: CloseEvent;
  /** The send buffer emptied after `bufferedAmount` passed the socket's high-water mark. */
  drain: Event;
  /** A ping arrived (it is answered automatically); `data` is its payload Buffer. */
  ping: DataEvent<Buffer>;
  pong: DataEvent<Buffer>;
}

/** ListenerOptions are the options of addEventListener. */
export interface ListenerOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void };

/**
 * WebSocketEventTarget is the event side of a WebSocket: the WHATWG `on<event>` attributes
 * (each one listener, registered where it was first set) and typed addEventListener.
 */
export class WebSocketEventTarget extends EventTarget {
  /** The on<event> attributes that were ever set; created on first use (most server sockets never set one). */
  #handlers: Map<string, unknown> | undefined;

  get onopen(): ((event: Event) => void) | null {
    return this.#getHandler('open');
  }
  set onopen(fn: ((event: Event) => void) | null) {
    this.#setHandler('open', fn);
  }
  get onmessage(): ((event: DataEvent<WebSocketData>) => void) | null {
    return this.#getHandler('message');
  }
  set onmessage(fn: ((event: DataEvent<WebSocketData>) => void) | null) {
    this.#setHandler('message', fn);
  }
  get onerror(): ((event: ErrorEvent) => void) | null {
    return this.#getHandler('error');
  }
  set onerror(fn: ((event: ErrorEvent) => void) | null) {
    this.#setHandler('error', fn);
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return this.#getHandler('close');
  }
  set onclose(fn: ((event: CloseEvent) => void) | null) {
    this.#setHandler('close', fn);
  }

  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: Listener<WebSocketEventMap[K]> | null,
    options?: ListenerOptions | boolean,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener<Event> | null,
    options?: ListenerOptions | boolean,
  ): void;
  override addEventListener(type: string, listener: Listener<never> | null, options?: unknown): void {
    // biome-ignore lint/suspicious/noExplicitAny: forwards the overloads above to EventTarget
    super.addEventListener(type, listener as any, options as any);
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: Listener<WebSocketEventMap[K]> | null,
    options?: { capture?: boolean } | boolean,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener<Event> | null,
    options?: { capture?: boolean } | boolean,
  ): void;
  override removeEventListener(type: string, listener: Listener<never> | null, options?: unknown): void {
    // biome-ignore lint/suspicious/noExplicitAny: forwards the overloads above to EventTarget
    super.removeEventListener(type, listener as any, options as any);
  }

  #getHandler<F>(type: string): F | null {
    return (this.#handlers?.get(type) as F | undefined) ?? null;
  }

  /** #setHandler implements the on<event> attributes: one listener per type, registered on first set. */
  #setHandler(type: string, fn: unknown): void {
    this.#handlers ??= new Map<string, unknown>();
    const handlers = this.#handlers;
    if (!handlers.has(type)) {
      super.addEventListener(type, (event) => {
        const handler = handlers.get(type);
        if (typeof handler === 'function') handler.call(this, event);
      });
    }
    handlers.set(type, typeof fn === 'function' ? fn : null);
  }
}
