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

/**
 * EventMaker builds a per-message event (for addEventListener listeners) and the arguments
 * of `on` listeners, each only when a listener of that kind is called (see fireFrom).
 */
export interface EventMaker {
  makeEvent(): WebSocketEvent;
  /** callEmitter calls an `on` listener with the event's arguments (no array, no apply). */
  callEmitter(target: object, callback: (...args: unknown[]) => void): void;
}

type Listener<E> = ((event: E) => void) | { handleEvent(event: E): void };
type AnyListener = Listener<never>;

/** Entry flag bits: how a listener was added, and whether it was removed. */
const EMITTER = 1;
const CAPTURE = 2;
const ONCE = 4;
const PASSIVE = 8;
const REMOVED = 16;

/** AbortRegistration ties a listener added with `signal` to that signal. */
interface AbortRegistration {
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * One registered listener: its type, callback and flag bits (EMITTER marks a listener
 * added with `on`/`once`, ws's EventEmitter style: it is called with the event's arguments,
 * `(data, isBinary)` for a message ..., instead of the event object; REMOVED tells a
 * dispatch in progress to skip it). Three fields, and a fourth only for a listener added
 * with a `signal` (the rare case): an idle connection's listener costs 40 bytes of heap,
 * not the 96 of a nine-field record.
 */
class Entry {
  constructor(
    readonly type: string,
    readonly callback: AnyListener,
    public flags: number,
  ) {}
}

/** SignalEntry is an Entry added with an AbortSignal, which removes it on abort. */
class SignalEntry extends Entry {
  abort: AbortRegistration | undefined;
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
 * holds its one entry, or an array of entries replaced (never mutated) on add and remove,
 * so a dispatch walks its own snapshot without copying it (a server connection with one
 * `message` listener holds no array at all). A listener that throws does not stop the
 * others: its exception is rethrown on the next tick (an uncaught exception, as with
 * Node's EventTarget and ws's emitters).
 */
export class WebSocketEventTarget {
  /** The listeners in the order they were added: one Entry alone, or an array of two or more. */
  #entries: Entry | readonly Entry[] | undefined;
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
    const flags =
      (capture ? CAPTURE : 0) | (opts.once === true ? ONCE : 0) | (opts.passive === true ? PASSIVE : 0);
    if (signal) {
      const entry = new SignalEntry(type, listener, flags);
      const onAbort = (): void => this.#remove(type, listener, capture);
      entry.abort = { signal, onAbort };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#append(entry);
    } else this.#append(new Entry(type, listener, flags));
  }

  /** #append adds an entry at the end of the list (a new array: a dispatch in progress keeps its own). */
  #append(entry: Entry): void {
    const entries = this.#entries;
    if (entries === undefined) this.#entries = entry;
    else if (entries instanceof Entry) this.#entries = [entries, entry];
    else this.#entries = [...entries, entry];
  }

  /** #list is the listeners as an array (a new one of one when there is a single entry): for the paths that are not per message. */
  #list(): readonly Entry[] {
    const entries = this.#entries;
    return entries === undefined ? [] : entries instanceof Entry ? [entries] : entries;
  }

  /** #keep stores a list of entries in the shape #entries holds them. */
  #keep(list: readonly Entry[]): void {
    this.#entries = list.length === 0 ? undefined : list.length === 1 ? list[0] : list;
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
    const entries = this.#list();
    this.#drop(entries[index]!);
    this.#keep(entries.filter((_, i) => i !== index));
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
    const entries = this.#list();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if ((e.flags & EMITTER) !== 0 && e.type === type && e.callback === listener) {
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
    const kept = this.#list().filter((e) => {
      const drop = (e.flags & EMITTER) !== 0 && (type === undefined || e.type === type);
      if (drop) this.#drop(e);
      return !drop;
    });
    this.#keep(kept);
    return this;
  }

  /** listenerCount counts the listeners of `type` of both kinds. */
  listenerCount(type: string): number {
    let count = 0;
    for (const e of this.#list()) if (e.type === type) count++;
    return count;
  }

  #addEmitter(type: string, listener: (...args: never[]) => void, once: boolean): this {
    if (typeof listener !== 'function') {
      throw new TypeError('The "listener" argument must be a function');
    }
    this.#append(new Entry(`${type}`, listener as AnyListener, once ? EMITTER | ONCE : EMITTER));
    return this;
  }

  /**
   * dispatchEvent calls the listeners of `event.type` in the order they were added and
   * returns false when a listener cancelled a cancelable event. Events of other classes
   * (a global `Event`, say) are passed to the listeners as they are; `on` listeners get
   * the event as their one argument.
   */
  dispatchEvent(event: WebSocketEvent | { type: string }): boolean {
    return this.#dispatch(event.type, event, undefined, undefined);
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
    if (this.#entries !== undefined) this.#dispatch(type, event, args, undefined);
  }

  /**
   * fireFrom is fire for the per-message events (`message`, `ping`, `pong`): `maker` builds
   * the event and the `on` arguments when a listener needs them, so a message costs no
   * closures (the maker is an object the connection already has).
   */
  protected fireFrom(type: string, maker: EventMaker): void {
    if (this.#entries !== undefined) this.#dispatch(type, undefined, undefined, maker);
  }

  #dispatch(
    type: string,
    source: WebSocketEvent | { type: string } | (() => WebSocketEvent) | undefined,
    makeArgs: (() => readonly unknown[]) | undefined,
    maker: EventMaker | undefined,
  ): boolean {
    let event = typeof source === 'function' ? undefined : source;
    let own = event instanceof WebSocketEvent ? event : undefined;
    if (own) this.#begin(own);
    let args: readonly unknown[] | undefined;
    const entries = this.#entries;
    if (entries !== undefined) {
      // One entry is held alone, several in an array: walk either without allocating.
      const single = entries instanceof Entry ? entries : undefined;
      const count = single !== undefined ? 1 : (entries as readonly Entry[]).length;
      for (let i = 0; i < count; i++) {
        const entry = single ?? (entries as readonly Entry[])[i]!;
        if ((entry.flags & REMOVED) !== 0 || entry.type !== type) continue;
        if ((entry.flags & EMITTER) !== 0) {
          if (maker) {
            if ((entry.flags & ONCE) !== 0) this.#removeEntry(entry);
            invokeMaker(this, entry.callback as (...args: unknown[]) => void, maker);
            continue;
          }
          if (args === undefined) {
            if (makeArgs) args = makeArgs();
            else if (event !== undefined || typeof source !== 'function') args = event ? [event] : [];
            else {
              event = own = this.#begin(source());
              args = [event];
            }
          }
          if ((entry.flags & ONCE) !== 0) this.#removeEntry(entry);
          invokeWith(this, entry.callback as (...args: unknown[]) => void, args);
          continue;
        }
        if (event === undefined) {
          if (maker) event = own = this.#begin(maker.makeEvent());
          else if (typeof source !== 'function') continue;
          else event = own = this.#begin(source());
        }
        if ((entry.flags & ONCE) !== 0)
          this.#remove(entry.type, entry.callback, (entry.flags & CAPTURE) !== 0);
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
    const index = this.#list().indexOf(entry);
    if (index !== -1) this.#removeAt(index);
  }

  /** hasListeners tells whether anything listens for `type`, so events nobody hears are never built. */
  protected hasListeners(type: string): boolean {
    const entries = this.#entries;
    if (entries === undefined) return false;
    if (entries instanceof Entry) return entries.type === type;
    for (const entry of entries) if (entry.type === type) return true;
    return false;
  }

  #find(type: string, listener: AnyListener, capture: boolean): number {
    const entries = this.#list();
    const flags = capture ? CAPTURE : 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type === type && e.callback === listener && (e.flags & (CAPTURE | EMITTER)) === flags) return i;
    }
    return -1;
  }

  #drop(entry: Entry): void {
    entry.flags |= REMOVED;
    if (entry instanceof SignalEntry && entry.abort)
      entry.abort.signal.removeEventListener('abort', entry.abort.onAbort);
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

/** invokeMaker calls an `on` listener with the arguments of a per-message event; exceptions as in invoke. */
function invokeMaker(target: object, callback: (...args: unknown[]) => void, maker: EventMaker): void {
  try {
    maker.callEmitter(target, callback);
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
