import type { Duplex } from 'node:stream';
import { type Connection, ProtocolError, ReadyState, type Role } from '../protocol/index.js';
import { Heartbeat } from './heartbeat.js';
import type { ResolvedSocketOptions } from './options.js';
import { openWire, type Wire, type WireListener } from './wire.js';

/** TransportHandler receives what happens on one connection, in wire order. */
export interface TransportHandler {
  onMessage(binary: boolean, data: Buffer): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A protocol error by the peer or a socket error; always followed by onClose. */
  onError(error: unknown): void;
  /** The send buffer emptied after it had passed the socket's high-water mark. */
  onDrain(): void;
  /** The TCP connection is gone; called exactly once. */
  onClose(code: number, reason: string, wasClean: boolean): void;
}

/** Close code and reason of the send-buffer policy. */
export const BUFFER_FULL = { code: 1008, reason: 'send buffer full' } as const;

/**
 * Transport glues one protocol `Connection` to one TCP or TLS socket, for both roles. It
 * feeds every chunk to `Connection.receive()` (it never parses a frame itself), writes
 * the frames it gets back corked, applies the send-buffer limit, runs the heartbeat and
 * the close timeout, and tears TCP down in the order of RFC 6455 section 7.1.1.
 */
export class Transport implements WireListener {
  readonly #wire: Wire;
  readonly #conn: Connection;
  readonly #role: Role;
  readonly #options: ResolvedSocketOptions;
  readonly #handler: TransportHandler;
  readonly #heartbeat: Heartbeat | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #peerClose: { code: number; reason: string } | undefined;
  #failure: ProtocolError | undefined;
  #errorReported = false;
  #terminated = false;
  #finished = false;
  #paused = false;
  #pendingInput = false;
  #lastBuffered = 0;

  /**
   * `prefix` (the server's 101 response) is written first, in the same batch as whatever
   * the application sends before the turn ends.
   */
  constructor(
    socket: Duplex,
    conn: Connection,
    options: ResolvedSocketOptions,
    handler: TransportHandler,
    head?: Buffer,
    prefix?: Buffer,
  ) {
    this.#conn = conn;
    this.#role = conn.role;
    this.#options = options;
    this.#handler = handler;
    // Only the server adopts handles: a client is one connection, not worth Node's internals.
    this.#wire = openWire(socket, head, this, conn.role === 'server');
    if (prefix) this.#wire.write([prefix]);
    this.#heartbeat = options.heartbeat ? new Heartbeat(options.heartbeat, this) : undefined;
  }

  /** bufferedAmount is the number of bytes handed to the socket and not yet flushed to the kernel. */
  get bufferedAmount(): number {
    if (!this.#finished) this.#lastBuffered = this.#wire.buffered;
    return this.#lastBuffered;
  }

  /** state is the protocol state: OPEN, CLOSING after our close frame, CLOSED when both passed. */
  get state(): number {
    return this.#finished ? ReadyState.CLOSED : this.#conn.state;
  }

  sendText(data: string | Buffer): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.sendText(data));
  }

  sendBinary(data: Buffer | Uint8Array): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.sendBinary(data));
  }

  /** sharedEncodingKey is the Connection's: recipients with equal keys can be written the same frames (a prepared broadcast). */
  get sharedEncodingKey(): string | undefined {
    return this.#conn.sharedEncodingKey;
  }

  /** encodeShared serializes a data message for every transport with this sharedEncodingKey (Connection#encodeShared). */
  encodeShared(payload: Buffer, binary: boolean): Buffer[] {
    return this.#conn.encodeShared(payload, binary);
  }

  /** sendFrames writes data frames serialized elsewhere (a prepared broadcast), through the send-buffer limit. */
  sendFrames(frames: readonly Buffer[]): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(frames);
  }

  ping(data?: Buffer | string): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.ping(data));
  }

  pong(data?: Buffer | string): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.pong(data));
  }

  /** close sends our close frame (once) and bounds the wait for the peer's by closeTimeout. */
  close(code?: number, reason?: string): void {
    if (this.#finished || this.#conn.closeSent) return;
    this.#write(this.#conn.close(code, reason));
    this.#afterStateChange();
  }

  /** terminate destroys the TCP connection at once, without a close handshake. */
  terminate(): void {
    if (this.#finished) return;
    this.#terminated = true;
    // What was sent before still gets its chance to leave, as it did before write batching.
    this.#wire.flush();
    this.#wire.destroy();
  }

  /** pause stops reading from the socket, so the peer's sends back up in TCP (real backpressure). */
  pause(): void {
    this.#paused = true;
    this.#wire.pause();
  }

  /** isPaused tells whether reading is paused (the heartbeat then waits instead of probing). */
  isPaused(): boolean {
    return this.#paused;
  }

  resume(): void {
    this.#paused = false;
    if (this.#pendingInput) {
      // Frames already buffered in the Connection go first, on a fresh stack.
      this.#pendingInput = false;
      process.nextTick(() => {
        if (!this.#paused) this.#process();
        if (!this.#paused) this.#wire.resume();
      });
      return;
    }
    this.#wire.resume();
  }

  /** #writeLimited writes data frames unless the socket already holds more than maxBufferedAmount. */
  #writeLimited(frames: readonly Buffer[]): void {
    if (this.#wire.buffered > this.#options.maxBufferedAmount) {
      this.close(BUFFER_FULL.code, BUFFER_FULL.reason);
      return;
    }
    this.#write(frames);
  }

  /**
   * #write hands frames to the wire, which batches them until the end of the event-loop
   * turn: every frame written to one socket in one turn goes out in one writev. The wire's
   * `buffered` counts them at once, so the send-buffer limit sees them.
   */
  #write(frames: readonly Buffer[]): void {
    if (frames.length > 0) this.#wire.write(frames);
  }

  wireData(chunk: Buffer): void {
    this.#onData(chunk);
  }

  wireEnd(): void {
    this.#onEnd();
  }

  wireError(error: Error): void {
    this.#onSocketError(error);
  }

  wireClose(): void {
    this.#onSocketClose();
  }

  wireDrain(): void {
    this.#handler.onDrain();
  }

  #onData(chunk: Buffer): void {
    this.#heartbeat?.touch();
    if (this.#terminated || this.#finished) return;
    this.#process(chunk);
  }

  /**
   * #process feeds bytes to the Connection and handles what comes out. The Connection
   * stops after each message (yieldAfterMessage), so the application can answer a message
   * before a close or a protocol error later in the same chunk ends the connection; then
   * `receive()` continues with the buffered bytes, unless reading was paused meanwhile.
   */
  #process(chunk?: Buffer): void {
    let more = true;
    while (more && !this.#terminated && !this.#finished) {
      let result: ReturnType<Connection['receive']>;
      try {
        result = this.#conn.receive(chunk);
      } catch (error) {
        // A bug in the core must not take the process down: fail this connection with 1011.
        this.#failure = new ProtocolError('DUPLEX_INTERNAL_ERROR', 'internal error', 1011);
        this.#reportError(error);
        this.#write(this.#conn.close(1011));
        this.#afterStateChange();
        return;
      }
      chunk = undefined;
      this.#handle(result);
      more = result.events[result.events.length - 1]?.type === 'message';
      if (more && this.#paused) {
        this.#pendingInput = true;
        return;
      }
    }
  }

  #handle(result: ReturnType<Connection['receive']>): void {
    const closing = result.events.some((e) => e.type === 'close' || e.type === 'error');
    if (closing) this.#write(result.output);
    else if (result.output.length > 0) this.#writeLimited(result.output);
    for (const event of result.events) {
      if (this.#terminated) break;
      switch (event.type) {
        case 'message':
          this.#handler.onMessage(event.binary, event.data);
          break;
        case 'ping':
          this.#handler.onPing(event.data);
          break;
        case 'pong':
          this.#handler.onPong(event.data);
          break;
        case 'close':
          this.#peerClose = { code: event.code, reason: event.reason };
          break;
        case 'error':
          this.#failure = event.error;
          this.#reportError(event.error);
          break;
      }
    }
    if (closing) this.#afterStateChange();
  }

  /**
   * #afterStateChange starts the teardown once a close frame went either way. RFC 6455
   * 7.1.1: "the server SHOULD close the underlying TCP connection first"; the client waits
   * for the server's FIN. After a protocol error we end TCP without waiting for the peer.
   * Every wait is bounded by closeTimeout, after which the socket is destroyed.
   */
  #afterStateChange(): void {
    const done = this.#conn.state === ReadyState.CLOSED;
    if (done || this.#failure) {
      if (this.#role === 'server' || this.#failure) this.#wire.end();
      this.#armCloseTimer(true);
    } else if (this.#conn.closeSent) {
      this.#armCloseTimer(false);
    }
  }

  #armCloseTimer(restart: boolean): void {
    if (this.#closeTimer && !restart) return;
    clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => this.#wire.destroy(), this.#options.closeTimeout);
    this.#closeTimer.unref();
  }

  #reportError(error: unknown): void {
    if (this.#errorReported) return;
    this.#errorReported = true;
    this.#handler.onError(error);
  }

  #onEnd(): void {
    // The peer sent FIN. Server sockets come from node:http with allowHalfOpen, so answer it.
    this.#wire.end();
    this.#armCloseTimer(false);
  }

  #onSocketError(error: Error): void {
    const handshakeDone = this.#conn.closeSent && this.#conn.closeReceived;
    if (!handshakeDone && !this.#terminated && !this.#failure) this.#reportError(error);
  }

  #onSocketClose(): void {
    if (this.#finished) return;
    this.bufferedAmount;
    this.#finished = true;
    clearTimeout(this.#closeTimer);
    this.#heartbeat?.stop();
    let code: number = 1006;
    let reason = '';
    let wasClean = false;
    if (this.#failure) {
      code = this.#failure.closeCode ?? 1002;
    } else if (this.#peerClose) {
      code = this.#peerClose.code;
      reason = this.#peerClose.reason;
      wasClean = this.#conn.closeSent;
    }
    this.#handler.onClose(code, reason, wasClean);
  }
}
