import { inspect } from 'node:util';

/**
 * The events of a WebSocket are Duplex's own small classes implementing the WHATWG Event
 * interface (as `ws`'s are): a message costs one plain object, not Node's `Event` with its
 * internal slots, and `target`/`currentTarget` are set by the WebSocket that dispatches
 * them. They are not `instanceof` the global `Event` (docs/design/handle-io.md says why).
 */
export class WebSocketEvent {
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;
  get NONE(): 0 {
    return 0;
  }
  get CAPTURING_PHASE(): 1 {
    return 1;
  }
  get AT_TARGET(): 2 {
    return 2;
  }
  get BUBBLING_PHASE(): 3 {
    return 3;
  }

  readonly type: string;
  readonly timeStamp: number;
  /** The WebSocket that dispatched the event (null before it was dispatched). */
  target: object | null = null;
  /** The WebSocket whose listeners run now; null outside dispatch. */
  currentTarget: object | null = null;
  eventPhase = 0;
  /** Set by stopImmediatePropagation: the listeners after this one are skipped. */
  stopped = false;
  defaultPrevented = false;
  readonly cancelable: boolean;

  constructor(type: string, init?: { cancelable?: boolean }) {
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    this.type = `${type}`;
    this.cancelable = init?.cancelable === true;
    this.timeStamp = performance.now();
  }

  get bubbles(): boolean {
    return false;
  }
  get composed(): boolean {
    return false;
  }
  get isTrusted(): boolean {
    return false;
  }
  get srcElement(): object | null {
    return this.target;
  }
  get returnValue(): boolean {
    return !this.defaultPrevented;
  }
  get cancelBubble(): boolean {
    return this.stopped;
  }
  set cancelBubble(value: boolean) {
    if (value) this.stopped = true;
  }
  composedPath(): object[] {
    return this.currentTarget ? [this.currentTarget] : [];
  }
  preventDefault(): void {
    if (this.cancelable) this.defaultPrevented = true;
  }
  stopPropagation(): void {
    // A WebSocket has no parent to propagate to.
  }
  stopImmediatePropagation(): void {
    this.stopped = true;
  }
  get [Symbol.toStringTag](): string {
    return 'Event';
  }
  [inspect.custom](_depth: number, options: object): string {
    const own: Record<string, unknown> = { type: this.type };
    for (const key of ['data', 'code', 'reason', 'wasClean', 'message', 'error'] as const) {
      if (key in this) own[key] = (this as unknown as Record<string, unknown>)[key];
    }
    return `${this.constructor.name} ${inspect(own, options)}`;
  }
}

/**
 * MessageEvent is the `message`, `ping` and `pong` event: the WHATWG MessageEvent shape
 * (`data`, with `origin`, `lastEventId`, `source` and `ports` empty, as for a WebSocket).
 */
export class MessageEvent<T = unknown> extends WebSocketEvent {
  readonly data: T;

  constructor(type: string, init: { data: T }) {
    super(type);
    this.data = init.data;
  }

  get origin(): string {
    return '';
  }
  get lastEventId(): string {
    return '';
  }
  get source(): null {
    return null;
  }
  get ports(): readonly never[] {
    return [];
  }
  override get [Symbol.toStringTag](): string {
    return 'MessageEvent';
  }
}

/**
 * CloseEvent is the WHATWG `close` event of a WebSocket: the peer's close code and
 * reason, 1005 when its close frame had no code, 1006 when the TCP connection ended
 * without a close frame; `wasClean` when both close frames passed.
 */
export class CloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }

  override get [Symbol.toStringTag](): string {
    return 'CloseEvent';
  }
}

/**
 * ErrorEvent is the `error` event of a WebSocket. Unlike a browser's, it carries the
 * cause in `error` (a DuplexError with a stable `code`, or a socket error), so that Node
 * applications can tell a refused handshake from a reset connection.
 */
export class ErrorEvent extends WebSocketEvent {
  readonly error: unknown;
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : '');
  }

  override get [Symbol.toStringTag](): string {
    return 'ErrorEvent';
  }
}

/** DataEvent is the shape of the `message`, `ping` and `pong` events: a MessageEvent whose `data` has the type `T`. */
export type DataEvent<T> = MessageEvent<T>;
