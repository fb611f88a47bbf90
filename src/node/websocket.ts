import type { Duplex } from 'node:stream';
import {
  Connection,
  type Extension,
  InvalidArgumentError,
  InvalidStateError,
  isValidWireCloseCode,
  PerMessageDeflate,
  type Role,
} from '../protocol/index.js';
import type { PreparedMessage } from './broadcast.js';
import { parseWebSocketUrl, startClientHandshake } from './client-handshake.js';
import { type WebSocketData, WebSocketEventTarget } from './event-target.js';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './events.js';
import { MessageQueue } from './message-queue.js';
import {
  DEFAULTS,
  type ResolvedSocketOptions,
  resolveSocketOptions,
  type WebSocketOptions,
} from './options.js';
import { Transport, type TransportHandler } from './transport.js';

/** BinaryType chooses how binary messages are delivered. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';
/** SendData is everything `send` accepts: strings go out as text, the rest as binary. */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob;

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
}

/** The AcceptInit of the server-side construction in progress (see acceptWebSocket). */
let acceptInit: AcceptInit | undefined;

/**
 * acceptWebSocket builds the server side of a connection and writes its 101 response. It
 * is internal: the public constructor is the WHATWG client constructor.
 */
export function acceptWebSocket(init: AcceptInit): WebSocket {
  acceptInit = init;
  try {
    return new WebSocket('ws://server.invalid/');
  } finally {
    acceptInit = undefined;
  }
}

/** byteSize is the payload size of a message waiting in the send queue. */
function byteSize(data: SendData): number {
  if (data instanceof Blob) return data.size;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * WebSocket is one end of a WebSocket connection, the same class on both sides. As a
 * client (`new WebSocket(url, protocols?, options?)`) it follows the WHATWG WebSocket API;
 * the server builds it from an upgraded socket. Node extras: `ping`, `pong`,
 * `terminate`, a `drain` event and `for await (const message of socket)`.
 */
export class WebSocket extends WebSocketEventTarget implements AsyncIterable<WebSocketData> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly #role: Role;
  readonly #url: string;
  #state: 0 | 1 | 2 | 3 = 0;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'nodebuffer';
  #transport: Transport | undefined;
  #abortHandshake: ((error: Error) => void) | undefined;
  #error: unknown;
  #iterator: MessageQueue<WebSocketData> | undefined;
  #outbox: SendData[] | undefined;
  #outboxBytes = 0;
  #onClosed: ((ws: WebSocket) => void) | undefined;

  constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
    super();
    const init = acceptInit;
    acceptInit = undefined;
    if (init) {
      this.#role = 'server';
      this.#url = '';
      this.#protocol = init.protocol;
      this.#extensions = init.extensionsHeader;
      this.#onClosed = init.onClosed;
      this.#attach(
        init.socket,
        init.head,
        init.options,
        init.extensions,
        Buffer.from(init.response, 'latin1'),
      );
      return;
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
    const resolved = resolveSocketOptions(options, false);
    const timeout = options.handshakeTimeout ?? DEFAULTS.handshakeTimeout;
    this.#abortHandshake = startClientHandshake(
      parsed,
      list,
      resolved,
      options,
      timeout,
      (error, outcome) => {
        this.#abortHandshake = undefined;
        if (error || !outcome) {
          this.#fail(error);
          return;
        }
        this.#protocol = outcome.protocol;
        this.#extensions = outcome.extensions;
        const deflate = resolved.perMessageDeflate;
        const extensions =
          outcome.deflate && deflate ? [new PerMessageDeflate('client', outcome.deflate, deflate)] : [];
        this.#attach(outcome.socket, outcome.head, resolved, extensions);
        this.dispatchEvent(new WebSocketEvent('open'));
      },
    );
  }

  /** url is the resolved URL of a client; '' on the server side. */
  get url(): string {
    return this.#url;
  }
  get readyState(): 0 | 1 | 2 | 3 {
    if (this.#state === WebSocket.OPEN && this.#transport && this.#transport.state !== WebSocket.OPEN) {
      return WebSocket.CLOSING;
    }
    return this.#state;
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
   * send queues a message: a string as text, anything else as binary. It throws while
   * CONNECTING and, as WHATWG says, silently drops data once closing has begun. A Blob is
   * read asynchronously; later sends wait for it, so the order is kept.
   */
  send(data: SendData): void {
    if (this.#state === WebSocket.CONNECTING) throw new InvalidStateError('WebSocket is still connecting');
    if (this.readyState !== WebSocket.OPEN) return;
    if (this.#outbox || data instanceof Blob) {
      this.#enqueue(data);
      return;
    }
    this.#sendNow(data);
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
  sendPrepared(message: PreparedMessage): void {
    if (this.#state === WebSocket.CONNECTING) throw new InvalidStateError('WebSocket is still connecting');
    if (this.readyState !== WebSocket.OPEN) return;
    if (this.#outbox) {
      this.#enqueue(message.binary ? message.data : message.data.toString('utf8'));
      return;
    }
    const transport = this.#transport;
    if (!transport) return;
    const key = transport.sharedEncodingKey;
    if (key !== undefined) transport.sendFrames(message.framesFor(key, transport));
    else if (message.binary) transport.sendBinary(message.data);
    else transport.sendText(message.data);
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
    if (this.#state === WebSocket.CONNECTING) {
      this.#abortHandshake?.(
        new InvalidStateError('WebSocket was closed before the connection was established'),
      );
      return;
    }
    if (this.#state !== WebSocket.OPEN) return;
    const effective = code === undefined && reason ? 1000 : code;
    this.#transport?.close(effective, effective === undefined ? undefined : (reason ?? ''));
  }

  /** ping sends a ping with up to 125 bytes of payload. Throws while CONNECTING; ignored after close began. */
  ping(data?: Buffer | string): void {
    if (this.#state === WebSocket.CONNECTING) throw new InvalidStateError('WebSocket is still connecting');
    this.#transport?.ping(data);
  }

  /** pong sends an unsolicited pong (pings are answered automatically). */
  pong(data?: Buffer | string): void {
    if (this.#state === WebSocket.CONNECTING) throw new InvalidStateError('WebSocket is still connecting');
    this.#transport?.pong(data);
  }

  /** terminate destroys the connection at once, without a closing handshake (close event with 1006). */
  terminate(): void {
    if (this.#state === WebSocket.CONNECTING) {
      this.#abortHandshake?.(
        new InvalidStateError('WebSocket was terminated before the connection was established'),
      );
      return;
    }
    this.#transport?.terminate();
  }

  /**
   * Async iteration yields each message (as a `message` event's `data`) until the
   * connection closes; it throws the error of a failed connection. At most 16 messages or
   * 1 MiB wait in its queue: beyond that reading pauses, so a slow loop slows the peer.
   * Messages that arrived before the loop started are not replayed. `break` detaches the
   * loop and leaves the connection open.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    if (this.#iterator) throw new InvalidStateError('WebSocket is already being iterated');
    const queue = new MessageQueue<WebSocketData>(
      { pause: () => this.#transport?.pause(), resume: () => this.#transport?.resume() },
      () => {
        if (this.#iterator === queue) this.#iterator = undefined;
      },
    );
    if (this.#state === WebSocket.CLOSED) queue.end(this.#error);
    else this.#iterator = queue;
    return queue;
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
      yieldAfterMessage: true,
      asyncDecode: true,
    });
    this.#state = WebSocket.OPEN;
    this.#transport = new Transport(socket, conn, options, new WebSocket.#Events(this), head, prefix);
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
    onMessage(binary: boolean, data: Buffer): void {
      const ws = this.#ws;
      const value = binary ? ws.#binary(data) : data.toString('utf8');
      ws.#iterator?.push(value, data.length);
      if (ws.hasListeners('message')) ws.dispatchEvent(new MessageEvent('message', { data: value }));
    }
    onPing(data: Buffer): void {
      if (this.#ws.hasListeners('ping')) this.#ws.dispatchEvent(new MessageEvent('ping', { data }));
    }
    onPong(data: Buffer): void {
      if (this.#ws.hasListeners('pong')) this.#ws.dispatchEvent(new MessageEvent('pong', { data }));
    }
    onError(error: unknown): void {
      this.#ws.#error = error;
      this.#ws.dispatchEvent(new ErrorEvent('error', { error }));
    }
    onDrain(): void {
      if (this.#ws.hasListeners('drain')) this.#ws.dispatchEvent(new WebSocketEvent('drain'));
    }
    onClose(code: number, reason: string, wasClean: boolean): void {
      this.#ws.#closed(code, reason, wasClean);
    }
  };

  #binary(data: Buffer): WebSocketData {
    if (this.#binaryType === 'nodebuffer') return data;
    if (this.#binaryType === 'blob') return new Blob([data]);
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  }

  #fail(error: unknown): void {
    this.#error = error;
    this.dispatchEvent(new ErrorEvent('error', { error }));
    this.#closed(1006, '', false);
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    this.#state = WebSocket.CLOSED;
    this.#outbox = undefined;
    this.#outboxBytes = 0;
    this.#iterator?.end(wasClean ? undefined : this.#error);
    const onClosed = this.#onClosed;
    this.#onClosed = undefined;
    onClosed?.(this);
    this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
  }

  #sendNow(data: Exclude<SendData, Blob>): void {
    const transport = this.#transport;
    if (!transport) return;
    if (typeof data === 'string') transport.sendText(data);
    else if (Buffer.isBuffer(data)) transport.sendBinary(data);
    else if (ArrayBuffer.isView(data))
      transport.sendBinary(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else transport.sendBinary(Buffer.from(data));
  }

  #enqueue(data: SendData): void {
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
      const item = outbox[0] as SendData;
      let data: Exclude<SendData, Blob>;
      try {
        data = item instanceof Blob ? Buffer.from(await item.arrayBuffer()) : item;
      } catch (error) {
        this.#error = error;
        this.#transport?.close(1011);
        return;
      }
      if (outbox !== this.#outbox) return;
      outbox.shift();
      this.#outboxBytes -= byteSize(item);
      if (this.readyState === WebSocket.OPEN) this.#sendNow(data);
    }
    if (outbox === this.#outbox) this.#outbox = undefined;
  }
}
