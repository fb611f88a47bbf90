import type { Duplex } from 'node:stream';
import {
  Connection,
  type SendOptions as CoreSendOptions,
  DuplexError,
  type Extension,
  InvalidArgumentError,
  InvalidStateError,
  isValidWireCloseCode,
  type Role,
} from '../protocol/index.js';
import type { PreparedMessage } from './broadcast.js';
import { parseWebSocketUrl, startClientHandshake } from './client-handshake.js';
import type { EmitterListener, WebSocketEmitterEvents } from './emitter-events.js';
import { ConnectionClosedError } from './errors.js';
import { type EventMaker, type WebSocketData, WebSocketEventTarget } from './event-target.js';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './events.js';
import { MessageQueue } from './message-queue.js';
import { type ResolvedSocketOptions, resolveClientOptions, type WebSocketOptions } from './options.js';
import type { WebSocketServer } from './server.js';
import type { createWebSocketStream } from './stream.js';
import { PAUSED_BY_APP, Transport, type TransportHandler } from './transport.js';
import { HIGH_WATER_MARK, WRITE_OVERHEAD, type WriteCallback } from './wire.js';

/** BinaryType chooses how binary messages are delivered. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';
/** SendData is everything `send` accepts: strings go out as text, the rest as binary. */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob;

/**
 * SendOptions are ws's options of `send`: `binary` overrides the type the data implies
 * (a string sent as binary, a Buffer of UTF-8 as text); `compress: false` skips
 * permessage-deflate for this message; `fin: false` sends a fragment (see the core's
 * SendOptions). `mask` is accepted and ignored: a client always masks, a server never does.
 */
export interface SendOptions extends CoreSendOptions {
  binary?: boolean;
  mask?: boolean;
}

/** SendCallback learns once whether a send reached the kernel: no argument, or the Error (DUPLEX_NOT_SENT when the connection closed first). */
export type SendCallback = (error?: Error) => void;

/** QueuedSend is a send waiting behind a Blob, with ws's options and callback. */
class QueuedSend {
  constructor(
    readonly data: SendData,
    readonly options: SendOptions | undefined,
    readonly callback: SendCallback | undefined,
  ) {}
}

/** AcceptInit is what the server hands over to build its side of a connection. */
interface AcceptInit {
  socket: Duplex;
  head: Buffer;
  /** The 101 response, written first through the connection's wire. */
  response: string;
  protocol: string;
  /** The Sec-WebSocket-Extensions value of the 101 response, '' for none. */
  extensionsHeader: string;
  /** The negotiated extensions, in the order of that header. */
  extensions: Extension[];
  options: ResolvedSocketOptions;
  /** Called as the connection closes, before the close event (the server forgets the client). */
  onClosed?: ((ws: WebSocket) => void) | undefined;
  /** What `authenticate` handed over (`ws.context`). */
  context?: unknown;
}

/**
 * ACCEPT is the key of the server-side construction: the first constructor argument that
 * only this module can pass (see acceptWebSocket). A unique value instead of a flag set
 * around the call, so that no state is shared between constructions and a user's
 * `new WebSocket(...)` can never take the server path.
 */
const ACCEPT: unique symbol = Symbol('duplex.accept');

/** ServerSideConstructor is the constructor's private signature, for acceptWebSocket. */
type ServerSideConstructor = new (key: typeof ACCEPT, init: AcceptInit) => WebSocket;

/**
 * acceptWebSocket builds the server side of a connection and writes its 101 response. It
 * is internal: the public constructor is the WHATWG client constructor.
 */
export function acceptWebSocket(init: AcceptInit): WebSocket {
  return new (WebSocket as unknown as ServerSideConstructor)(ACCEPT, init);
}

// WebSocket state bits.
const HANDSHAKE_FAILED = 1;
const ITERATING = 2;
/** Unclaimed messages are no longer kept for a loop (see #keepForLoop). */
const NOT_KEEPING = 4;
const DRAIN_OWED = 8;

/** byteSize is the payload size of a message waiting in the send queue. */
function byteSize(item: SendData | QueuedSend): number {
  const data = item instanceof QueuedSend ? item.data : item;
  if (data instanceof Blob) return data.size;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/** failInternalOf reaches a WebSocket's transport for failWebSocket; set by the class's static block. */
let failInternalOf: (ws: WebSocket, reason: string, cause: unknown) => void;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * WebSocket is one end of a WebSocket connection, the same class on both sides. As a
 * client (`new WebSocket(url, protocols?, options?)`) it follows the WHATWG WebSocket API;
 * the server builds it from an upgraded socket. Node extras: `ping`, `pong`,
 * `terminate`, a `drain` event and `for await (const message of socket)`.
 */
/**
 * bufferedCost tells what a socket's unsent data costs in memory: bytes plus WRITE_OVERHEAD
 * per queued buffer (what maxBufferedAmount compares), where `bufferedAmount` counts bytes
 * only. Internal (the hub bounds its slow consumers with it); not exported by the package.
 */
export function bufferedCost(ws: WebSocket): number {
  return costOf(ws);
}

let costOf: (ws: WebSocket) => number;

export class WebSocket extends WebSocketEventTarget implements AsyncIterable<WebSocketData> {
  static {
    costOf = (ws) =>
      (ws.#transport?.bufferedCost ?? 0) + ws.#outboxBytes + (ws.#outbox?.length ?? 0) * WRITE_OVERHEAD;
  }

  /** ws's alias of WebSocketServer (`WebSocket.Server`); set by the package root. */
  declare static Server: typeof WebSocketServer;
  /** ws's `WebSocket.WebSocketServer`; set by the package root. */
  declare static WebSocketServer: typeof WebSocketServer;
  /** ws's `WebSocket.WebSocket`: the class itself; set by the package root. */
  declare static WebSocket: typeof WebSocket;
  /** ws's `WebSocket.createWebSocketStream`; set by the package root. */
  declare static createWebSocketStream: typeof createWebSocketStream;
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // The constants are on the prototype, as WebIDL puts them (defined below the class), not
  // four fields on every connection.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  static {
    failInternalOf = (ws, reason, cause) => ws.#transport?.failInternal(reason, cause);
  }

  readonly #role: Role;
  #url: string;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'nodebuffer';
  #transport: Transport | undefined;
  #abortHandshake: ((error: Error) => void) | undefined;
  #error: unknown;
  /** The messages kept for async iteration: claimed by a loop, or kept from the start until one comes (see #Events.onMessage). */
  #queue: MessageQueue<WebSocketData> | undefined;
  /** HANDSHAKE_FAILED ... DRAIN_OWED bits (one number, not a boolean field each). */
  #flags = 0;
  /** The client's opening handshake failed: CLOSED without a transport (see readyState). */
  get #handshakeFailed(): boolean {
    return (this.#flags & HANDSHAKE_FAILED) !== 0;
  }
  /** A loop holds the message queue. */
  get #iterating(): boolean {
    return (this.#flags & ITERATING) !== 0;
  }
  /** True until a message arrives while a message listener exists, or a loop ends: unclaimed messages are kept for a loop. */
  get #keepForLoop(): boolean {
    return (this.#flags & NOT_KEEPING) === 0;
  }
  /** A send returned false and drain has not fired yet. */
  get #drainOwed(): boolean {
    return (this.#flags & DRAIN_OWED) !== 0;
  }
  /** What the async iterator throws after an abnormal close. */
  #closedError: ConnectionClosedError | undefined;
  #outbox: Array<SendData | QueuedSend> | undefined;
  #outboxBytes = 0;
  #onClosed: ((ws: WebSocket) => void) | undefined;

  constructor(url: string | URL, options?: WebSocketOptions);
  constructor(url: string | URL, protocols?: string | string[], options?: WebSocketOptions);
  constructor(
    url: string | URL,
    protocols?: string | string[] | WebSocketOptions,
    options: WebSocketOptions = {},
  ) {
    super();
    if ((url as unknown) === ACCEPT) {
      const init = protocols as unknown as AcceptInit;
      this.#role = 'server';
      this.#url = '';
      this.#protocol = init.protocol;
      this.#extensions = init.extensionsHeader;
      this.#onClosed = init.onClosed;
      if (init.context !== undefined) contexts.set(this, init.context);
      this.#attach(
        init.socket,
        init.head,
        init.options,
        init.extensions,
        Buffer.from(init.response, 'latin1'),
      );
      return;
    }
    // ws's `new WebSocket(url, options)`: options in the place of the protocols.
    if (typeof protocols === 'object' && protocols !== null && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    this.#role = 'client';
    const parsed = parseWebSocketUrl(url);
    this.#url = parsed.href;
    const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols];
    for (const p of list) {
      if (!TOKEN.test(p))
        throw new InvalidArgumentError('DUPLEX_INVALID_PROTOCOL', `invalid subprotocol ${p}`);
    }
    if (new Set(list).size !== list.length) {
      throw new InvalidArgumentError('DUPLEX_INVALID_PROTOCOL', 'a subprotocol is listed twice');
    }
    const resolved = resolveClientOptions(options);
    let handedOver = false;
    this.#abortHandshake = startClientHandshake(
      parsed,
      list,
      resolved,
      (error, outcome) => {
        this.#abortHandshake = undefined;
        if (error || !outcome) {
          if (handedOver) {
            this.#error = error;
            this.#closed(1006, '', false);
          } else this.#fail(error);
          return;
        }
        this.#protocol = outcome.protocol;
        this.#extensions = outcome.extensions;
        this.#url = outcome.url.href;
        this.#attach(outcome.socket, outcome.head, resolved, outcome.negotiated);
        this.fire('upgrade', undefined, () => [outcome.response]);
        this.fire('open', () => new WebSocketEvent('open'), NO_ARGS);
      },
      {
        redirect: (to, request) => this.fire('redirect', undefined, () => [to, request]),
        unexpectedResponse: (request, response) => {
          if (!this.hasListeners('unexpected-response')) return false;
          handedOver = true;
          this.fire('unexpected-response', undefined, () => [request, response]);
          return true;
        },
      },
    );
  }

  /**
   * context is what the server's `authenticate` hook handed over with
   * `{ accept: true, context }` (the user, the session); undefined otherwise and on clients.
   */
  get context(): unknown {
    return contexts.get(this);
  }

  override on<K extends keyof WebSocketEmitterEvents>(type: K, listener: EmitterListener<K>): this;
  override on(type: string, listener: (this: WebSocket, ...args: never[]) => void): this;
  override on(type: string, listener: (...args: never[]) => void): this {
    return super.on(type, listener);
  }
  override addListener<K extends keyof WebSocketEmitterEvents>(type: K, listener: EmitterListener<K>): this;
  override addListener(type: string, listener: (this: WebSocket, ...args: never[]) => void): this;
  override addListener(type: string, listener: (...args: never[]) => void): this {
    return super.addListener(type, listener);
  }
  override once<K extends keyof WebSocketEmitterEvents>(type: K, listener: EmitterListener<K>): this;
  override once(type: string, listener: (this: WebSocket, ...args: never[]) => void): this;
  override once(type: string, listener: (...args: never[]) => void): this {
    return super.once(type, listener);
  }

  /** isPaused tells whether `pause()` stopped reading (ws's property). */
  get isPaused(): boolean {
    return this.#transport?.isPausedBy(PAUSED_BY_APP) ?? false;
  }

  /**
   * pause stops reading from the socket (ws's method): no more messages are delivered and
   * the peer's data backs up in TCP until `resume()`. A message already being delivered
   * finishes first. Independent of the async iterator's own pausing.
   */
  pause(): void {
    if (this.readyState === WebSocket.CONNECTING) return;
    this.#transport?.pause(PAUSED_BY_APP);
  }

  /** resume undoes `pause()`. */
  resume(): void {
    if (this.readyState === WebSocket.CONNECTING) return;
    this.#transport?.resume(PAUSED_BY_APP);
  }

  /** url is the resolved URL of a client; '' on the server side. */
  get url(): string {
    return this.#url;
  }
  /**
   * readyState has one owner at a time: the opening handshake until the connection opens
   * (CONNECTING, or CLOSED when it failed), then the transport, which derives it from the
   * protocol Connection's state and from whether the socket is gone.
   */
  get readyState(): 0 | 1 | 2 | 3 {
    const transport = this.#transport;
    if (transport !== undefined) return transport.state;
    return this.#handshakeFailed ? WebSocket.CLOSED : WebSocket.CONNECTING;
  }
  /** protocol is the negotiated subprotocol, '' for none. */
  get protocol(): string {
    return this.#protocol;
  }
  /** extensions is the negotiated Sec-WebSocket-Extensions value, '' for none. */
  get extensions(): string {
    return this.#extensions;
  }
  /** binaryType: 'nodebuffer' (the default, as in ws), 'arraybuffer' or 'blob'. Other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === 'nodebuffer' || value === 'arraybuffer' || value === 'blob') this.#binaryType = value;
  }
  /** bufferedAmount is the number of bytes queued by `send` and not yet handed to the kernel (frame headers included). */
  get bufferedAmount(): number {
    return (this.#transport?.bufferedAmount ?? 0) + this.#outboxBytes;
  }

  /**
   * send queues a message: a string as text, anything else as binary. Like a stream's
   * `write`, it returns true while `bufferedAmount` is below the socket's high-water mark
   * and false when the caller should wait for `drain` before sending more (or when the
   * data was dropped). It throws while CONNECTING and, as WHATWG says, drops data once
   * closing has begun (returning false). A Blob is read asynchronously; later sends wait
   * for it, so the order is kept. ws's shape works too: a number is sent as its text,
   * `options` (SendOptions) override the type, skip compression or send a fragment, and
   * `callback` learns once whether the data reached the kernel (DUPLEX_NOT_SENT when the
   * connection was not open or closed first).
   */
  send(data: SendData | number, options?: SendOptions | SendCallback, callback?: SendCallback): boolean {
    const state = this.readyState;
    if (state === WebSocket.CONNECTING) throw new InvalidStateError('WebSocket is still connecting');
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    // ws sends a number as its decimal text.
    if (typeof data === 'number') data = String(data);
    if (state !== WebSocket.OPEN) {
      if (callback) process.nextTick(callback, notOpen(state));
      return false;
    }
    if (this.#outbox || data instanceof Blob) {
      this.#enqueue(options || callback ? new QueuedSend(data, options, callback) : data);
      return this.#owe(this.bufferedAmount < HIGH_WATER_MARK);
    }
    return this.#owe(this.#sendNow(data, options, callback));
  }

  /**
   * sendPrepared sends a message prepared once with `prepareMessage`, writing its frame as
   * is (no re-framing per recipient). It behaves as `send` otherwise: throws while
   * CONNECTING, drops once closing began, keeps the order behind a pending Blob, and goes
   * through the send-buffer limit. Recipients whose outgoing encoding is stateless (no
   * extension, or permessage-deflate without server context takeover) share the frames
   * serialized once per encoding; a client socket (which must mask) or one that compresses
   * with context takeover sends the message's payload the usual way instead.
   */
  sendPrepared(message: PreparedMessage): boolean {
    if (this.readyState === WebSocket.CONNECTING)
      throw new InvalidStateError('WebSocket is still connecting');
    if (this.readyState !== WebSocket.OPEN) return false;
    const transport = this.#transport;
    if (transport?.fragmenting) {
      // Its frames would land inside the unfinished message (RFC 6455 5.4 forbids interleaving).
      throw new InvalidStateError(
        'a message sent with fin: false is unfinished: send its last fragment first',
      );
    }
    if (this.#outbox) {
      this.#enqueue(message.binary ? message.data : message.data.toString('utf8'));
      return this.#owe(this.bufferedAmount < HIGH_WATER_MARK);
    }
    if (!transport) return false;
    const key = transport.sharedEncodingKey;
    if (key !== undefined) return this.#owe(transport.sendFrames(message.framesFor(key, transport)));
    if (message.binary) return this.#owe(transport.sendBinary(message.data));
    return this.#owe(transport.sendText(message.data));
  }

  /**
   * close starts the closing handshake. On a client, `code` must be 1000 or 3000-4999
   * (WHATWG); on the server, any code that may be sent. `reason` is at most 123 UTF-8
   * bytes. Both misuses throw InvalidArgumentError. While CONNECTING it aborts the
   * handshake (error, then close with 1006).
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      const allowed =
        this.#role === 'client'
          ? code === 1000 || (code >= 3000 && code <= 4999)
          : isValidWireCloseCode(code);
      if (!Number.isInteger(code) || !allowed) {
        throw new InvalidArgumentError('DUPLEX_INVALID_CLOSE_CODE', `close code ${code} may not be sent`);
      }
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) {
      throw new InvalidArgumentError('DUPLEX_CLOSE_REASON_TOO_LONG', 'close reason is over 123 bytes');
    }
    if (this.readyState === WebSocket.CONNECTING) {
      this.#abortHandshake?.(
        new InvalidStateError('WebSocket was closed before the connection was established'),
      );
      return;
    }
    if (this.readyState !== WebSocket.OPEN) return;
    this.#dropUnclaimed();
    const effective = code === undefined && reason ? 1000 : code;
    this.#transport?.close(effective, effective === undefined ? undefined : (reason ?? ''));
  }

  /**
   * ping sends a ping with up to 125 bytes of payload (a number is sent as its text). Throws
   * while CONNECTING; after close began it is dropped, and `callback` gets the error. ws's
   * shape `ping(data, mask, callback)` works too (`mask` is ignored: clients always mask).
   */
  ping(data?: Buffer | string | number, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.#control('ping', data, mask, callback);
  }

  /**
   * pong sends a pong: unsolicited, or the answer to a ping when `autoPong` is false. Same
   * arguments as `ping`.
   */
  pong(data?: Buffer | string | number, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.#control('pong', data, mask, callback);
  }

  #control(
    kind: 'ping' | 'pong',
    data: Buffer | string | number | undefined,
    mask: boolean | SendCallback | undefined,
    callback: SendCallback | undefined,
  ): void {
    if (this.readyState === WebSocket.CONNECTING)
      throw new InvalidStateError('WebSocket is still connecting');
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    const payload = typeof data === 'number' ? String(data) : data;
    const transport = this.#transport;
    if (!transport || this.readyState !== WebSocket.OPEN) {
      if (callback) process.nextTick(callback, notOpen(this.readyState));
      return;
    }
    if (kind === 'ping') transport.ping(payload, callback);
    else transport.pong(payload, callback);
  }

  /** terminate destroys the connection at once, without a closing handshake (close event with 1006). */
  terminate(): void {
    if (this.readyState === WebSocket.CONNECTING) {
      this.#abortHandshake?.(
        new InvalidStateError('WebSocket was terminated before the connection was established'),
      );
      return;
    }
    this.#transport?.terminate();
  }

  /**
   * Async iteration yields each message (as a `message` event's `data`) until the
   * connection closes. It ends after a clean close and throws a ConnectionClosedError
   * after an abnormal one (no closing handshake: a dropped connection, a protocol error,
   * terminate, the send-buffer limit). At most 16 messages or 1 MiB wait in its queue:
   * beyond that reading pauses, so a slow loop slows the peer. The first loop sees every
   * message since the socket opened, as long as no `message` listener took them first
   * (see #Events.onMessage). `break` detaches the loop and leaves the connection open.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    if (this.#iterating) throw new InvalidStateError('WebSocket is already being iterated');
    const queue = this.#queue ?? this.#newQueue();
    if (this.readyState === WebSocket.CLOSED) queue.end(this.#closedError);
    this.#flags |= ITERATING;
    this.#queue = queue;
    return queue;
  }

  #newQueue(): MessageQueue<WebSocketData> {
    const queue: MessageQueue<WebSocketData> = new MessageQueue<WebSocketData>(
      { pause: () => this.#transport?.pause(), resume: () => this.#transport?.resume() },
      () => {
        if (this.#queue !== queue) return;
        this.#queue = undefined;
        this.#flags = (this.#flags & ~ITERATING) | NOT_KEEPING;
      },
    );
    return queue;
  }

  /** #dropUnclaimed stops keeping messages for a loop that never came (reading resumes). */
  #dropUnclaimed(): void {
    this.#flags |= NOT_KEEPING;
    if (this.#queue && !this.#iterating) void this.#queue.return();
  }

  /** #owe records that a send returned false, so the drain (or the close) that follows releases its waiters. */
  #owe(ok: boolean): boolean {
    if (!ok) this.#flags |= DRAIN_OWED;
    return ok;
  }

  #attach(
    socket: Duplex,
    head: Buffer,
    options: ResolvedSocketOptions,
    extensions: Extension[],
    prefix?: Buffer,
  ): void {
    const conn = new Connection({
      role: this.#role,
      maxPayload: options.maxPayload,
      extensions,
      autoPong: options.autoPong,
      skipUtf8Validation: options.skipUTF8Validation,
      asyncDecode: true,
    });
    this.#transport = new Transport({
      socket,
      conn,
      options,
      handler: new WebSocket.#Events(this),
      head,
      prefix,
    });
  }

  /**
   * #Events is what the transport reports to: one small object per connection whose
   * methods live on a shared prototype, instead of six closures per socket.
   */
  static readonly #Events = class implements TransportHandler {
    readonly #ws: WebSocket;
    constructor(ws: WebSocket) {
      this.#ws = ws;
    }
    /**
     * onMessage hands a message to the loop and to the listeners. Until a loop claims the
     * queue, messages are kept for it from the start (so `await once(ws, 'open')` then
     * `for await` misses nothing), bounded as the loop's queue is; the first message that
     * finds a `message` listener ends that for good, so event-only sockets keep nothing.
     */
    onMessage(binary: boolean, data: Buffer): void {
      const ws = this.#ws;
      const listening = ws.hasListeners('message');
      let value: WebSocketData | undefined;
      if (ws.#iterating) {
        value = binary ? ws.#binary(data) : data.toString('utf8');
        ws.#queue?.push(value, data.length);
      } else if (ws.#keepForLoop) {
        if (listening) ws.#dropUnclaimed();
        else {
          value = binary ? ws.#binary(data) : data.toString('utf8');
          ws.#queue ??= ws.#newQueue();
          ws.#queue.push(value, data.length);
        }
      }
      if (listening) WebSocket.#made.fire(ws, 'message', data, binary, value);
    }
    onPing(data: Buffer): void {
      const ws = this.#ws;
      if (ws.hasListeners('ping')) WebSocket.#made.fire(ws, 'ping', data, true, data);
    }
    onPong(data: Buffer): void {
      const ws = this.#ws;
      if (ws.hasListeners('pong')) WebSocket.#made.fire(ws, 'pong', data, true, data);
    }
    onError(error: unknown): void {
      this.#ws.#error = error;
      this.#ws.fire(
        'error',
        () => new ErrorEvent('error', { error }),
        () => [error],
      );
    }
    onDrain(): void {
      const ws = this.#ws;
      ws.#flags &= ~DRAIN_OWED;
      if (ws.hasListeners('drain')) ws.fire('drain', () => new WebSocketEvent('drain'), NO_ARGS);
    }
    onClose(code: number, reason: string, wasClean: boolean): void {
      this.#ws.#closed(code, reason, wasClean);
    }
  };

  /**
   * #made builds the `message`, `ping` and `pong` events (and the `on` arguments) of every
   * socket, only when a listener needs them: one object for the process, whose fields hold
   * the message being dispatched (saved and restored around each dispatch, so that a
   * listener that causes another event meanwhile changes nothing), instead of three
   * closures per message. The decoded value is made once and shared by the loop, the event
   * and the `on` listeners, as before.
   */
  static readonly #made = new (class MessageMaker implements EventMaker {
    ws: WebSocket | undefined;
    type = '';
    data: Buffer = Buffer.alloc(0);
    binary = false;
    value: WebSocketData | undefined;

    fire(ws: WebSocket, type: string, data: Buffer, binary: boolean, value: WebSocketData | undefined): void {
      const { ws: ws0, type: type0, data: data0, binary: binary0, value: value0 } = this;
      this.ws = ws;
      this.type = type;
      this.data = data;
      this.binary = binary;
      this.value = value;
      try {
        ws.fireFrom(type, this);
      } finally {
        this.ws = ws0;
        this.type = type0;
        this.data = data0;
        this.binary = binary0;
        this.value = value0;
      }
    }
    #decoded(): WebSocketData {
      this.value ??= this.binary ? this.ws!.#binary(this.data) : this.data.toString('utf8');
      return this.value;
    }
    makeEvent(): WebSocketEvent {
      return new MessageEvent(this.type, { data: this.#decoded() });
    }
    callEmitter(target: object, callback: (...args: unknown[]) => void): void {
      // ws's listeners get text as a Buffer too, and binary as binaryType says; ping and
      // pong listeners get the payload alone.
      if (this.type !== 'message') callback.call(target, this.data);
      else callback.call(target, this.binary ? this.#decoded() : this.data, this.binary);
    }
  })();

  #binary(data: Buffer): WebSocketData {
    if (this.#binaryType === 'nodebuffer') return data;
    if (this.#binaryType === 'blob') return new Blob([data]);
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  }

  #fail(error: unknown): void {
    this.#error = error;
    this.fire(
      'error',
      () => new ErrorEvent('error', { error }),
      () => [error],
    );
    this.#closed(1006, '', false);
  }

  /**
   * #closed finishes the connection: the loop ends (or throws a ConnectionClosedError when
   * the close was not clean), a `drain` still owed to a send that returned false is fired
   * so that nobody waits for it forever (readyState is CLOSED by then), then `close`.
   */
  #closed(code: number, reason: string, wasClean: boolean): void {
    if (this.#transport === undefined) this.#flags |= HANDSHAKE_FAILED;
    const outbox = this.#outbox;
    this.#outbox = undefined;
    this.#outboxBytes = 0;
    if (outbox) {
      for (const item of outbox) {
        if (item instanceof QueuedSend && item.callback) process.nextTick(item.callback, notOpen(3));
      }
    }
    if (!wasClean)
      this.#closedError = new ConnectionClosedError({
        closeCode: code,
        reason,
        wasClean,
        cause: this.#error,
      });
    this.#queue?.end(this.#closedError);
    const onClosed = this.#onClosed;
    this.#onClosed = undefined;
    onClosed?.(this);
    if (this.#drainOwed) {
      this.#flags &= ~DRAIN_OWED;
      if (this.hasListeners('drain')) this.fire('drain', () => new WebSocketEvent('drain'), NO_ARGS);
    }
    this.fire(
      'close',
      () => new CloseEvent('close', { code, reason, wasClean }),
      () => [code, Buffer.from(reason)],
    );
  }

  #sendNow(data: Exclude<SendData, Blob>, options?: SendOptions, callback?: WriteCallback): boolean {
    const transport = this.#transport;
    if (!transport) return false;
    const binary = options?.binary ?? typeof data !== 'string';
    const core = options && (options.compress === false || options.fin === false) ? options : undefined;
    const payload =
      typeof data === 'string'
        ? binary
          ? Buffer.from(data)
          : data
        : Buffer.isBuffer(data)
          ? data
          : ArrayBuffer.isView(data)
            ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
            : Buffer.from(data);
    if (core === undefined && callback === undefined && !transport.fragmenting) {
      return binary ? transport.sendBinary(payload as Buffer) : transport.sendText(payload);
    }
    const frameOptions = core ?? FIN;
    return binary
      ? transport.sendBinary(payload as Buffer, frameOptions, callback)
      : transport.sendText(payload, frameOptions, callback);
  }

  #enqueue(data: SendData | QueuedSend): void {
    this.#outboxBytes += byteSize(data);
    if (this.#outbox) {
      this.#outbox.push(data);
      return;
    }
    this.#outbox = [data];
    void this.#flushOutbox();
  }

  async #flushOutbox(): Promise<void> {
    const outbox = this.#outbox;
    while (outbox && outbox === this.#outbox && outbox.length > 0) {
      const item = outbox[0]!;
      const queued = item instanceof QueuedSend ? item : undefined;
      const raw = queued ? queued.data : (item as SendData);
      let data: Exclude<SendData, Blob>;
      try {
        data = raw instanceof Blob ? Buffer.from(await raw.arrayBuffer()) : raw;
      } catch (error) {
        // Our fault, not the peer's: the core fails the connection (1011) and the error
        // event carries DUPLEX_INTERNAL_ERROR with the read's exception as its cause.
        this.#transport?.failInternal('could not read a Blob given to send()', error);
        return;
      }
      if (outbox !== this.#outbox) return;
      outbox.shift();
      this.#outboxBytes -= byteSize(item);
      if (this.readyState === WebSocket.OPEN) this.#sendNow(data, queued?.options, queued?.callback);
      else if (queued?.callback) process.nextTick(queued.callback, notOpen(this.readyState));
    }
    if (outbox === this.#outbox) this.#outbox = undefined;
  }
}

// WebIDL: the constants are enumerable, read-only properties of the prototype too.
for (const [name, value] of [
  ['CONNECTING', 0],
  ['OPEN', 1],
  ['CLOSING', 2],
  ['CLOSED', 3],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}

/**
 * failWebSocket fails an open connection with 1011 for an exception of the application's
 * code (a `connection` listener that threw or rejected): the core decides the close
 * (Transport#failInternal). Internal: the server's path to a connection's transport.
 */
export function failWebSocket(ws: WebSocket, reason: string, cause: unknown): void {
  failInternalOf(ws, reason, cause);
}

/**
 * contexts holds what `authenticate` handed over, per connection: a WeakMap rather than a
 * field, so that connections without a context pay nothing for it.
 */
const contexts = new WeakMap<WebSocket, unknown>();

/** NO_ARGS is the argument list of events that have none (`open`, `drain`). */
const NO_ARGS = (): readonly unknown[] => [];

/** FIN is the frame options of a whole message sent with a callback. */
const FIN: CoreSendOptions = {};

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

/** notOpen is the error a send callback gets when the connection is no longer open. */
function notOpen(state: number): DuplexError {
  return new DuplexError(
    'DUPLEX_NOT_SENT',
    `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`,
  );
}
