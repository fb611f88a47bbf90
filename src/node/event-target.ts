import { type CloseEvent, type DataEvent, type ErrorEvent, WebSocketEvent } from './events.js';

/** WebSocketData is a received message: a string for text, binary as `binaryType` says. */
export type WebSocketData = string | Buffer | ArrayBuffer | Blob;

/** WebSocketEventMap types the events of a WebSocket. */
export interface WebSocketEventMap {
  open: WebSocketEvent;
  message: DataEvent<WebSocketData>;
  error: ErrorEvent;
  close: CloseEvent;
  /** The send buffer emptied after `bufferedAmount` passed the socket's high-water mark. */
  drain: WebSocketEvent;
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
type AnyListener = Listener<never>;

/**
 * One registered listener. `removed` tells a dispatch in progress to skip it. `emitter`
 * marks a listener added with `on`/`once` (ws's EventEmitter style): it is called with the
 * event's arguments (`(data, isBinary)` for a message ...) instead of the event object.
 */
interface Entry {
  readonly type: string;
  readonly callback: AnyListener;
  readonly emitter: boolean;
  readonly capture: boolean;
  readonly once: boolean;
  readonly passive: boolean;
  removed: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The event attributes a WebSocket has (`onopen` ...). */
type HandlerType = 'open' | 'message' | 'error' | 'close';

/**
 * WebSocketEventTarget is the event side of a WebSocket: addEventListener,
 * removeEventListener and dispatchEvent as the WHATWG DOM defines them for a target
 * without parents (capture, once, passive, signal, handleEvent objects, duplicates
 * ignored, listeners added during a dispatch not called, removed ones skipped), and the
 * `on<event>` attributes.
 *
 * It is not Node's EventTarget: that one gives every instance two Maps (about 430 bytes,
 * most of an idle connection's JavaScript) and every event internal slots. Here a target
 * holds one array of entries, replaced (never mutated) on add and remove, so a dispatch
 * walks its own snapshot without copying it. A listener that throws does not stop the
 * others: its exception is rethrown on the next tick (an uncaught exception, as with
 * Node's EventTarget and ws's emitters).
 */
export class WebSocketEventTarget {
  #entries: readonly Entry[] | undefined;
  /** The current values of the on<event> attributes; created on first use. */
  #handlers: Partial<Record<HandlerType, ((event: never) => void) | null>> | undefined;
  /** The one listener behind every on<event> attribute of this target; created on first use. */
  #runHandler: ((event: WebSocketEvent) => void) | undefined;

  get onopen(): ((event: WebSocketEvent) => void) | null {
    return this.#getHandler('open');
  }
  set onopen(fn: ((event: WebSocketEvent) => void) | null) {
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

  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: Listener<WebSocketEventMap[K]> | null,
    options?: ListenerOptions | boolean,
  ): void;
  addEventListener(
    type: string,
    listener: Listener<WebSocketEvent> | null,
    options?: ListenerOptions | boolean,
  ): void;
  addEventListener(type: string, listener: AnyListener | null, options?: ListenerOptions | boolean): void {
    if (arguments.length < 2) throw new TypeError('addEventListener needs a type and a listener');
    if (listener === null || listener === undefined) return;
    if (typeof listener !== 'function' && (typeof listener !== 'object' || listener === null)) {
      throw new TypeError('The "listener" argument must be a function or an object with handleEvent');
    }
    const opts = typeof options === 'object' && options !== null ? options : { capture: options === true };
    const signal = opts.signal;
    if (signal?.aborted) return;
    type = `${type}`;
    const capture = opts.capture === true;
    if (this.#find(type, listener, capture) !== -1) return;
    const entry: Entry = {
      type,
      callback: listener,
      emitter: false,
      capture,
      once: opts.once === true,
      passive: opts.passive === true,
      removed: false,
      signal,
      onAbort: undefined,
    };
    if (signal) {
      entry.onAbort = () => this.#remove(type, listener, capture);
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.#entries = this.#entries ? [...this.#entries, entry] : [entry];
  }

  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: Listener<WebSocketEventMap[K]> | null,
    options?: { capture?: boolean } | boolean,
  ): void;
  removeEventListener(
    type: string,
    listener: Listener<WebSocketEvent> | null,
    options?: { capture?: boolean } | boolean,
  ): void;
  removeEventListener(
    type: string,
    listener: AnyListener | null,
    options?: { capture?: boolean } | boolean,
  ): void {
    if (listener === null || listener === undefined) return;
    const capture =
      typeof options === 'object' && options !== null ? options.capture === true : options === true;
    this.#remove(`${type}`, listener, capture);
  }

  #remove(type: string, listener: AnyListener, capture: boolean): void {
    const index = this.#find(type, listener, capture);
    if (index !== -1) this.#removeAt(index);
  }

  #removeAt(index: number): void {
    const entries = this.#entries!;
    this.#drop(entries[index]!);
    this.#entries = entries.length === 1 ? undefined : entries.filter((_, i) => i !== index);
  }

  // ---- ws's EventEmitter style, on the same list ----

  /**
   * on adds a listener in ws's style: it is called with the event's arguments, `this` being
   * the WebSocket (`message`: `(data, isBinary)`, `close`: `(code, reason: Buffer)`, `error`:
   * `(error)`, `ping`/`pong`: `(data)`, `open`: `()`, client `upgrade`: `(response)`,
   * `unexpected-response`: `(request, response)`, `redirect`: `(url, request)`). It shares
   * the one listener list with addEventListener: both kinds run in the order they were
   * added. As with an EventEmitter, adding the same function twice calls it twice.
   */
  on(type: string, listener: (...args: never[]) => void): this {
    return this.#addEmitter(type, listener, false);
  }

  /** addListener is `on`. */
  addListener(type: string, listener: (...args: never[]) => void): this {
    return this.#addEmitter(type, listener, false);
  }

  /** once adds a listener in ws's style that is removed before its first call. */
  once(type: string, listener: (...args: never[]) => void): this {
    return this.#addEmitter(type, listener, true);
  }

  /** off removes the most recently added `on`/`once` listener `listener` of `type`. */
  off(type: string, listener: (...args: never[]) => void): this {
    const entries = this.#entries;
    if (entries === undefined) return this;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.emitter && e.type === type && e.callback === listener) {
        this.#removeAt(i);
        break;
      }
    }
    return this;
  }

  /** removeListener is `off`. */
  removeListener(type: string, listener: (...args: never[]) => void): this {
    return this.off(type, listener);
  }

  /**
   * removeAllListeners removes the `on`/`once` listeners of `type`, or of every type. Those
   * added with addEventListener (and the on<event> attributes) stay.
   */
  removeAllListeners(type?: string): this {
    const entries = this.#entries;
    if (entries === undefined) return this;
    const kept = entries.filter((e) => {
      const drop = e.emitter && (type === undefined || e.type === type);
      if (drop) this.#drop(e);
      return !drop;
    });
    this.#entries = kept.length === 0 ? undefined : kept;
    return this;
  }

  /** listenerCount counts the listeners of `type` of both kinds. */
  listenerCount(type: string): number {
    let count = 0;
    for (const e of this.#entries ?? []) if (e.type === type) count++;
    return count;
  }

  #addEmitter(type: string, listener: (...args: never[]) => void, once: boolean): this {
    if (typeof listener !== 'function') {
      throw new TypeError('The "listener" argument must be a function');
    }
    const entry: Entry = {
      type: `${type}`,
      callback: listener as AnyListener,
      emitter: true,
      capture: false,
      once,
      passive: false,
      removed: false,
      signal: undefined,
      onAbort: undefined,
    };
    this.#entries = this.#entries ? [...this.#entries, entry] : [entry];
    return this;
  }

  /**
   * dispatchEvent calls the listeners of `event.type` in the order they were added and
   * returns false when a listener cancelled a cancelable event. Events of other classes
   * (a global `Event`, say) are passed to the listeners as they are; `on` listeners get
   * the event as their one argument.
   */
  dispatchEvent(event: WebSocketEvent | { type: string }): boolean {
    return this.#dispatch(event.type, event, undefined);
  }

  /**
   * fire is how a WebSocket reports what happened: `event` builds the event object for
   * addEventListener listeners (not called when there is none; undefined for ws-only events
   * such as `upgrade`), `args` the arguments of `on` listeners (not called when there is none).
   */
  protected fire(
    type: string,
    event: (() => WebSocketEvent) | undefined,
    args: (() => readonly unknown[]) | undefined,
  ): void {
    if (this.#entries !== undefined) this.#dispatch(type, event, args);
  }

  #dispatch(
    type: string,
    source: WebSocketEvent | { type: string } | (() => WebSocketEvent) | undefined,
    makeArgs: (() => readonly unknown[]) | undefined,
  ): boolean {
    let event = typeof source === 'function' ? undefined : source;
    let own = event instanceof WebSocketEvent ? event : undefined;
    if (own) this.#begin(own);
    let args: readonly unknown[] | undefined;
    const entries = this.#entries;
    if (entries !== undefined) {
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!;
        if (entry.removed || entry.type !== type) continue;
        if (entry.emitter) {
          if (args === undefined) {
            if (makeArgs) args = makeArgs();
            else if (event !== undefined || typeof source !== 'function') args = event ? [event] : [];
            else {
              event = own = this.#begin(source());
              args = [event];
            }
          }
          if (entry.once) this.#removeEntry(entry);
          invokeWith(this, entry.callback as (...args: unknown[]) => void, args);
          continue;
        }
        if (event === undefined) {
          if (typeof source !== 'function') continue;
          event = own = this.#begin(source());
        }
        if (entry.once) this.#remove(entry.type, entry.callback, entry.capture);
        invoke(this, entry.callback, event);
        if (own?.stopped) break;
      }
    }
    if (!own) return true;
    own.currentTarget = null;
    own.eventPhase = 0;
    return !own.defaultPrevented;
  }

  #begin(event: WebSocketEvent): WebSocketEvent {
    if (event.eventPhase !== 0)
      throw new DOMException('The event is already being dispatched', 'InvalidStateError');
    event.target = this;
    event.currentTarget = this;
    event.eventPhase = 2;
    return event;
  }

  #removeEntry(entry: Entry): void {
    const index = this.#entries?.indexOf(entry) ?? -1;
    if (index !== -1) this.#removeAt(index);
  }

  /** hasListeners tells whether anything listens for `type`, so events nobody hears are never built. */
  protected hasListeners(type: string): boolean {
    const entries = this.#entries;
    if (entries === undefined) return false;
    for (const entry of entries) if (entry.type === type) return true;
    return false;
  }

  #find(type: string, listener: AnyListener, capture: boolean): number {
    const entries = this.#entries;
    if (entries === undefined) return -1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type === type && e.callback === listener && e.capture === capture && !e.emitter) return i;
    }
    return -1;
  }

  #drop(entry: Entry): void {
    entry.removed = true;
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
  }

  #getHandler<F>(type: HandlerType): F | null {
    return (this.#handlers?.[type] as F | undefined) ?? null;
  }

  /**
   * #setHandler implements an on<event> attribute (HTML's event handlers): setting a
   * function registers one listener in the list at that point, replacing the function
   * keeps its place, setting null removes it.
   */
  #setHandler(type: HandlerType, fn: unknown): void {
    const value = typeof fn === 'function' ? (fn as (event: never) => void) : null;
    this.#handlers ??= {};
    const had = typeof this.#handlers[type] === 'function';
    this.#handlers[type] = value;
    this.#runHandler ??= (event: WebSocketEvent): void => {
      const handler = this.#handlers?.[event.type as HandlerType];
      if (typeof handler === 'function') (handler as (event: WebSocketEvent) => void).call(this, event);
    };
    if (value && !had) this.addEventListener(type, this.#runHandler);
    else if (!value && had) this.removeEventListener(type, this.#runHandler);
  }
}

/** invoke calls one listener; an exception is reported as uncaught on the next tick and the dispatch goes on. */
function invoke(target: object, callback: AnyListener, event: unknown): void {
  try {
    if (typeof callback === 'function') (callback as (event: unknown) => void).call(target, event);
    else (callback as { handleEvent(event: unknown): void }).handleEvent(event);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

/** invokeWith calls an `on` listener with its arguments, `this` being the target; exceptions as in invoke. */
function invokeWith(target: object, callback: (...args: unknown[]) => void, args: readonly unknown[]): void {
  try {
    callback.apply(target, args as unknown[]);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
