import type { Duplex } from 'node:stream';
import {
  type Connection,
  DuplexError,
  ProtocolError,
  ReadyState,
  type ReceiveResult,
  type SendOptions,
  type TcpStep,
} from '../protocol/index.js';
import type { ClockTimer } from './clock.js';
import { BufferFullError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { openWire } from './open-wire.js';
import type { ResolvedSocketOptions } from './options.js';
import { type Wire, type WireListener, WRITE_OVERHEAD, type WriteCallback } from './wire.js';

/** QueuedWrite is a write waiting behind a message being compressed off the thread. */
interface QueuedWrite {
  /** undefined while its own compression runs. */
  frames: readonly Buffer[] | undefined;
  bytes: number;
  callback: WriteCallback | undefined;
}

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

/** TransportInit is what a Transport is made of: one upgraded socket and the Connection that speaks on it. */
export interface TransportInit {
  /** socket is the TCP or TLS socket the opening handshake upgraded. */
  socket: Duplex;
  /** conn is the protocol Connection of this socket; its role decides whether the wire may adopt the TCP handle. */
  conn: Connection;
  /** options are the resolved socket options (limits, timeouts, heartbeat, clock). */
  options: ResolvedSocketOptions;
  /** handler receives what happens on the connection, in wire order. */
  handler: TransportHandler;
  /** head is what arrived after the handshake in the same read: the first bytes of frames. */
  head?: Buffer | undefined;
  /** prefix (the server's 101 response) is written first, in the same batch as whatever the application sends before the turn ends. */
  prefix?: Buffer | undefined;
}

/** PAUSED_BY_ITERATOR and PAUSED_BY_APP: who paused reading; reading resumes once nobody holds it. */
export const PAUSED_BY_ITERATOR = 1;
export const PAUSED_BY_APP = 2;

/** notSent reports, on the next tick, that data given with a callback was not sent. */
function notSent(callback: WriteCallback | undefined, why: string): void {
  if (callback) process.nextTick(callback, new DuplexError('DUPLEX_NOT_SENT', why));
}

/** Close code and reason of the send-buffer policy. */
export const BUFFER_FULL = { code: 1008, reason: 'send buffer full' } as const;

const EMPTY = Buffer.alloc(0);

/**
 * PING_FLOOD_LIMIT is how many pings may arrive while our pong to an earlier one still waits
 * for the peer to read (it reads nothing, yet keeps pinging): one more and the connection is
 * failed with 1008 `ping flood` (docs/security.md).
 */
export const PING_FLOOD_LIMIT = 1000;

// Transport state bits: one number per connection rather than a boolean field each (an
// idle connection's fields are most of its memory; docs/design/idle-memory.md).

/** The send-buffer limit was hit: reported once, the connection is closing with 1008. */
const LIMIT_HIT = 1;
/** The error event was reported (only the first error is). */
const ERROR_REPORTED = 2;
/** terminate() destroyed the connection. */
const TERMINATED = 4;
/** The socket is gone and the close reported. */
const FINISHED = 8;
/** A message is being inflated off the thread: nothing more is read until it is delivered. */
const DECODING = 16;
/** end() was asked for while frames were queued: it follows them. */
const END_QUEUED = 32;
/** An automatic pong was handed to the wire and has not reached the kernel yet. */
const PONG_PENDING = 64;

/**
 * Transport glues one protocol `Connection` to one TCP or TLS socket, for both roles. It
 * feeds every chunk to `Connection.receive` (it never parses a frame itself), writes the
 * frames it gets back batched, applies the send-buffer limit and runs the heartbeat. The
 * close is the Connection's: after each call the transport does what `Connection#tcp`
 * says (end TCP, or wait for the peer, bounded by closeTimeout) and reports
 * `Connection#closeStatus` once the socket is gone.
 */
export class Transport implements WireListener {
  readonly #wire: Wire;
  readonly #conn: Connection;
  readonly #options: ResolvedSocketOptions;
  readonly #handler: TransportHandler;
  readonly #heartbeat: Heartbeat | undefined;
  #closeTimer: ClockTimer | undefined;
  /** The Connection's TCP step this transport last acted on. */
  #tcp: TcpStep = 'open';
  /** LIMIT_HIT ... PONG_PENDING bits. */
  #flags = 0;
  get #bufferFull(): boolean {
    return (this.#flags & LIMIT_HIT) !== 0;
  }
  get #errorReported(): boolean {
    return (this.#flags & ERROR_REPORTED) !== 0;
  }
  get #terminated(): boolean {
    return (this.#flags & TERMINATED) !== 0;
  }
  get #finished(): boolean {
    return (this.#flags & FINISHED) !== 0;
  }
  get #decoding(): boolean {
    return (this.#flags & DECODING) !== 0;
  }
  get #endQueued(): boolean {
    return (this.#flags & END_QUEUED) !== 0;
  }
  get #pongPending(): boolean {
    return (this.#flags & PONG_PENDING) !== 0;
  }
  /** PAUSED_BY_* bits: reading is paused while any is set. */
  #paused = 0;
  /**
   * Bytes received and not yet consumed by the Connection: the rest of a chunk behind a
   * message, held while reading is paused or a message is being decoded. EMPTY when only
   * a decoded message waits to be delivered.
   */
  #unread: Buffer | undefined;
  #lastBuffered = 0;
  /**
   * Frames waiting behind a message being compressed off the thread, in call order (an
   * entry's frames are undefined until its compression is done); undefined when none is.
   */
  #queue: QueuedWrite[] | undefined;
  #queuedBytes = 0;
  /** The pong of the latest ping that arrived while one was pending; it replaces earlier ones. */
  #nextPong: Buffer | undefined;
  /** The write callback of automatic pongs (#afterPong), made on the first ping. */
  #pongCallback: WriteCallback | undefined;
  /** Pings that arrived while a pong was pending, since a pong last reached the kernel. */
  #pingsWaiting = 0;

  constructor({ socket, conn, options, handler, head, prefix }: TransportInit) {
    this.#conn = conn;
    this.#options = options;
    this.#handler = handler;
    // Only the server adopts handles: a client is one connection, not worth Node's internals.
    this.#wire = openWire(socket, head, this, conn.role === 'server');
    if (prefix) this.#wire.write([prefix]);
    this.#heartbeat = options.heartbeat ? new Heartbeat(options.heartbeat, this, options.clock) : undefined;
  }

  /**
   * bufferedCost is what the writes not yet flushed cost in memory, not just their bytes:
   * Wire#cost plus the frames queued here, each with WRITE_OVERHEAD. maxBufferedAmount
   * compares it; the hub's slow-consumer policies too (internal, not public API).
   */
  get bufferedCost(): number {
    return (
      this.#wire.cost +
      (this.#queue === undefined ? 0 : this.#queuedBytes + this.#queue.length * WRITE_OVERHEAD)
    );
  }

  /** bufferedAmount is the number of bytes handed to the socket and not yet flushed to the kernel. */
  get bufferedAmount(): number {
    if (!this.#finished) this.#lastBuffered = this.#wire.buffered + this.#queuedBytes;
    return this.#lastBuffered;
  }

  /**
   * state is the readyState of the connection, derived from the Connection: OPEN, CLOSING
   * from the first close frame (or the peer's end of stream) until the socket is gone, then CLOSED.
   */
  get state(): 1 | 2 | 3 {
    if (this.#finished) return ReadyState.CLOSED;
    return this.#conn.state === ReadyState.OPEN ? ReadyState.OPEN : ReadyState.CLOSING;
  }

  /** sendText queues a text message; false when the caller should wait for drain (or it was dropped). */
  sendText(data: string | Buffer, options?: SendOptions, callback?: WriteCallback): boolean {
    if (this.#conn.state === ReadyState.OPEN) {
      const frames =
        options === undefined ? this.#conn.sendData(data, false) : this.#conn.sendText(data, options);
      return this.#writeLimited(frames, callback);
    }
    notSent(callback, 'the connection is closing');
    return false;
  }

  /** sendBinary queues a binary message; false when the caller should wait for drain (or it was dropped). */
  sendBinary(data: Buffer | Uint8Array, options?: SendOptions, callback?: WriteCallback): boolean {
    if (this.#conn.state === ReadyState.OPEN) {
      const frames =
        options === undefined ? this.#conn.sendData(data, true) : this.#conn.sendBinary(data, options);
      return this.#writeLimited(frames, callback);
    }
    notSent(callback, 'the connection is closing');
    return false;
  }

  /** fragmenting tells whether a message sent with `fin: false` waits for its last fragment. */
  get fragmenting(): boolean {
    return this.#conn.fragmenting;
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
  sendFrames(frames: readonly Buffer[]): boolean {
    return this.#conn.state === ReadyState.OPEN && this.#writeLimited(frames);
  }

  ping(data?: Buffer | string, callback?: WriteCallback): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.ping(data), callback);
    else notSent(callback, 'the connection is closing');
  }

  pong(data?: Buffer | string, callback?: WriteCallback): void {
    if (this.#conn.state === ReadyState.OPEN) this.#writeLimited(this.#conn.pong(data), callback);
    else notSent(callback, 'the connection is closing');
  }

  /** close sends our close frame (once) and bounds the wait for the peer's by closeTimeout. */
  close(code?: number, reason?: string): void {
    if (this.#finished || this.#conn.closeSent) return;
    this.#write(this.#conn.close(code, reason));
    this.#followTcp();
  }

  /**
   * failInternal fails an open connection with 1011 for a fault on our side found outside
   * receive (an application listener that threw, a Blob given to send that could not be
   * read): the Connection decides the code and the close frame (Connection#failInternal),
   * the error event reports it, and TCP ends as the Connection says. Nothing once the
   * connection is closing or gone.
   */
  failInternal(reason: string, cause: unknown): void {
    if (this.#finished || this.#terminated) return;
    this.#handle(this.#conn.failInternal(reason, cause));
  }

  /** terminate destroys the TCP connection at once, without a close handshake. */
  terminate(): void {
    if (this.#finished) return;
    this.#flags |= TERMINATED;
    // What was sent before still gets its chance to leave, as it did before write batching.
    for (const entry of this.#queue ?? []) notSent(entry.callback, 'the connection was terminated');
    this.#queue = undefined;
    this.#queuedBytes = 0;
    this.#wire.flush();
    this.#wire.destroy();
  }

  /**
   * pause stops reading from the socket, so the peer's sends back up in TCP (real
   * backpressure). `by` says who holds the pause (the async iterator or the application);
   * reading resumes when every holder resumed.
   */
  pause(by = PAUSED_BY_ITERATOR): void {
    this.#paused |= by;
    this.#wire.pause();
  }

  /** isPaused tells whether reading is paused (the heartbeat then waits instead of probing). */
  isPaused(): boolean {
    return this.#paused !== 0;
  }

  /** isPausedBy tells whether `by` holds a pause. */
  isPausedBy(by: number): boolean {
    return (this.#paused & by) !== 0;
  }

  resume(by = PAUSED_BY_ITERATOR): void {
    this.#paused &= ~by;
    if (this.#paused !== 0) return;
    // A message being inflated holds reading; its completion carries on.
    if (this.#decoding) return;
    if (this.#unread !== undefined) {
      // Bytes held behind a message go first, on a fresh stack.
      process.nextTick(() => {
        if (this.#paused || this.#decoding) return;
        const unread = this.#unread;
        this.#unread = undefined;
        if (unread !== undefined && !this.#terminated && !this.#finished) this.#process(unread);
        if (!this.#paused && !this.#decoding) this.#wire.resume();
      });
      return;
    }
    this.#wire.resume();
  }

  /**
   * #writeLimited writes data frames unless the socket already holds more than
   * maxBufferedAmount (frames queued behind a message being compressed count; that message
   * counts once compressed). Hitting the limit is loud: the error event carries a
   * BufferFullError, the connection closes with 1008 and its close event says wasClean
   * false, since data the application sent was dropped. Returns the wire's verdict: false
   * above its high-water mark (wait for drain) and when the frames were dropped.
   */
  #writeLimited(frames: readonly Buffer[] | Promise<Buffer[]>, callback?: WriteCallback): boolean {
    const buffered = this.bufferedCost;
    if (buffered > this.#options.maxBufferedAmount) {
      if (!this.#bufferFull) {
        this.#flags |= LIMIT_HIT;
        this.#reportError(
          new BufferFullError({ bufferedAmount: buffered, limit: this.#options.maxBufferedAmount }),
        );
        this.#write(this.#conn.abandon(BUFFER_FULL.code, BUFFER_FULL.reason));
        this.#followTcp();
      }
      notSent(callback, BUFFER_FULL.reason);
      return false;
    }
    return this.#write(frames, callback);
  }

  /**
   * #write hands frames to the wire, which batches them until the end of the event-loop
   * turn: every frame written to one socket in one turn goes out in one writev. The wire's
   * `buffered` counts them at once, so the send-buffer limit sees them. A Promise (a
   * message compressed off the thread) holds every later write in #queue until it is done,
   * so frames leave in call order.
   */
  #write(frames: readonly Buffer[] | Promise<Buffer[]>, callback?: WriteCallback): boolean {
    if (this.#queue === undefined && !(frames instanceof Promise)) {
      return frames.length > 0 || callback ? this.#wire.write(frames, callback) : this.#wire.writable;
    }
    // Behind a message being compressed: queued in call order. The verdict is "go on" (the
    // wire's drain cannot be promised for bytes it has not seen); maxBufferedAmount still
    // counts them.
    this.#queue ??= [];
    if (!(frames instanceof Promise)) {
      const bytes = byteLength(frames);
      this.#queue.push({ frames, bytes, callback });
      this.#queuedBytes += bytes;
      return true;
    }
    const entry: QueuedWrite = { frames: undefined, bytes: 0, callback };
    const queue = this.#queue;
    queue.push(entry);
    frames.then(
      (done) => {
        if (this.#queue !== queue) return;
        entry.frames = done;
        entry.bytes = byteLength(done);
        this.#queuedBytes += entry.bytes;
        this.#flushQueue();
      },
      (error: unknown) => {
        // Compressing cannot fail on valid input: a bug, so this connection fails (the
        // Connection decides the code, 1011) and, its write queue broken, is destroyed.
        if (this.#queue !== queue || this.#finished) return;
        this.#conn.fail(error);
        this.#reportError(error);
        this.terminate();
      },
    );
    return true;
  }

  /** #flushQueue writes queued frames in order, up to a message still being compressed. */
  #flushQueue(): void {
    const queue = this.#queue!;
    while (queue.length > 0 && queue[0]!.frames !== undefined) {
      const entry = queue.shift()!;
      this.#queuedBytes -= entry.bytes;
      if (entry.frames!.length > 0 || entry.callback) this.#wire.write(entry.frames!, entry.callback);
    }
    if (queue.length > 0) return;
    this.#queue = undefined;
    this.#queuedBytes = 0;
    if (this.#endQueued) {
      this.#flags &= ~END_QUEUED;
      this.#wire.end();
    }
  }

  /** #end half-closes TCP after every frame written so far, queued ones included. */
  #end(): void {
    if (this.#queue !== undefined) this.#flags |= END_QUEUED;
    else this.#wire.end();
  }

  wireData(chunk: Buffer, borrowed?: boolean): void {
    this.#onData(chunk, borrowed === true);
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

  #onData(chunk: Buffer, borrowed: boolean): void {
    this.#heartbeat?.touch();
    if (this.#terminated || this.#finished) return;
    if (this.#unread !== undefined || this.#paused !== 0 || this.#decoding) {
      // Data in flight when reading paused: held, in order, until reading resumes.
      const unread = this.#unread;
      this.#unread =
        unread === undefined || unread.length === 0
          ? borrowed
            ? Buffer.from(chunk)
            : chunk
          : Buffer.concat([unread, chunk]);
      return;
    }
    this.#process(chunk, borrowed);
  }

  /**
   * #process feeds bytes to the Connection and handles what comes out. The Connection
   * stops at each message, so the application can answer a message before a close or a
   * protocol error later in the same chunk ends the connection; the rest of the chunk is
   * fed next, or held in #unread when the application paused reading meanwhile.
   *
   * A `borrowed` chunk (a handle wire's shared read buffer, TLS or plain) is lent to the Connection for the
   * receive call alone: what it keeps it copies, and what is left of the chunk is copied
   * before the application's listeners run (they may write, close or end the turn; nothing
   * they do may find the next read in the buffer under a half-read chunk).
   */
  #process(chunk: Buffer, borrowed = false): void {
    let from = 0;
    for (;;) {
      let result: ReceiveResult;
      try {
        result = this.#conn.receive(chunk, from, borrowed);
      } catch (error) {
        // A bug in the core must not take the process down: the Connection fails (1011).
        result = this.#conn.fail(error);
        result.consumed = chunk.length;
      }
      from = result.consumed;
      if (borrowed) {
        borrowed = false;
        if (from < chunk.length) {
          chunk = Buffer.from(chunk.subarray(from));
          from = 0;
        }
      }
      this.#handle(result);
      const last = result.events[result.events.length - 1];
      if (last?.type === 'decode') {
        this.#unread = from === chunk.length ? undefined : chunk.subarray(from);
        this.#awaitDecode(last.done);
        return;
      }
      if (from >= chunk.length || this.#terminated || this.#finished) return;
      if (this.#paused !== 0 || last?.type !== 'message') {
        this.#unread = chunk.subarray(from);
        return;
      }
    }
  }

  /**
   * #awaitDecode stops reading while a large message is inflated on zlib's thread pool,
   * then delivers it and carries on with the frames behind it, so that messages, control
   * frames and the close keep their order.
   */
  #awaitDecode(done: Promise<void>): void {
    this.#flags |= DECODING;
    this.#wire.pause();
    void done.then(() => {
      this.#flags &= ~DECODING;
      if (this.#terminated || this.#finished) return;
      const unread = this.#unread ?? EMPTY;
      if (this.#paused) {
        // The decoded message waits in the Connection: resume delivers it.
        this.#unread = unread;
        return;
      }
      this.#unread = undefined;
      this.#process(unread);
      if (!this.#paused && !this.#decoding) this.#wire.resume();
    });
  }

  #handle(result: ReceiveResult): void {
    const events = result.events;
    let closing = false;
    for (let i = 0; i < events.length; i++) {
      const type = events[i]!.type;
      if (type === 'close' || type === 'error') {
        closing = true;
        break;
      }
    }
    if (closing) this.#write(result.output);
    else if (result.output.length > 0) this.#autoPong(result.output);
    for (const event of events) {
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
        case 'error':
          this.#reportError(event.error);
          break;
      }
    }
    if (closing) this.#followTcp();
  }

  /**
   * #autoPong writes the automatic pongs of one receive, whose output (without a close) is
   * only pong frames, one buffer each. While the peer reads, every ping gets its pong. Once
   * a pong waits for a peer that does not read, at most one more is kept: pings that arrive
   * meanwhile only replace it, per RFC 6455 5.5.3: "If an endpoint receives a Ping frame and
   * has not yet sent Pong frame(s) in response to previous Ping frame(s), the endpoint MAY
   * elect to send a Pong frame for only the most recently processed Ping frame." Past
   * PING_FLOOD_LIMIT such pings the peer is flooding: the connection fails with 1008.
   */
  #autoPong(output: Buffer[]): void {
    if (!this.#pongPending) {
      this.#flags |= PONG_PENDING;
      this.#writeLimited(output, this.#afterPong());
      return;
    }
    this.#nextPong = output[output.length - 1]!;
    this.#pingsWaiting += output.length;
    if (this.#pingsWaiting > PING_FLOOD_LIMIT && !this.#conn.closeSent) {
      // The Connection fails (its close frame says 1008 and the error's message, which
      // starts with 'ping flood'), the error is reported and TCP ends as it says.
      this.#nextPong = undefined;
      this.#handle(
        this.#conn.fail(
          new ProtocolError({
            code: 'DUPLEX_PING_FLOOD',
            message: `ping flood: ${this.#pingsWaiting} pings arrived while the peer did not read our pong`,
            closeCode: 1008,
          }),
        ),
      );
    }
  }

  /** #pongWritten: the waiting pongs reached the kernel (or never will); the latest ping since then is answered next. */
  #pongWritten(error?: Error): void {
    this.#flags &= ~PONG_PENDING;
    const next = this.#nextPong;
    this.#nextPong = undefined;
    if (error) return;
    this.#pingsWaiting = 0;
    if (next !== undefined && !this.#finished && this.#conn.tcp !== 'end') {
      this.#flags |= PONG_PENDING;
      this.#writeLimited([next], this.#afterPong());
    }
  }

  /**
   * #afterPong is the write callback of automatic pongs, made on the first ping: an idle
   * connection never answers one, so it holds no closure for it.
   */
  #afterPong(): WriteCallback {
    this.#pongCallback ??= (error?: Error) => this.#pongWritten(error);
    return this.#pongCallback;
  }

  /**
   * #followTcp does what the Connection says about TCP (Connection#tcp, RFC 6455 7.1.1):
   * end it now, or wait for the peer. Every wait is bounded by closeTimeout, restarted at
   * each new step, after which the socket is destroyed.
   */
  #followTcp(): void {
    const step = this.#conn.tcp;
    if (step === this.#tcp) return;
    this.#tcp = step;
    if (step === 'open' || this.#finished) return;
    if (step === 'end') this.#end();
    this.#armCloseTimer();
  }

  #armCloseTimer(): void {
    const clock = this.#options.clock;
    clock.clearTimeout(this.#closeTimer);
    this.#closeTimer = clock.setTimeout(() => this.#wire.destroy(), this.#options.closeTimeout);
  }

  #reportError(error: unknown): void {
    if (this.#errorReported) return;
    this.#flags |= ERROR_REPORTED;
    this.#handler.onError(error);
  }

  #onEnd(): void {
    // The peer sent FIN (server sockets come from node:http with allowHalfOpen): the
    // Connection decides what that means, and TCP is ended in turn.
    this.#conn.receiveEof();
    this.#followTcp();
  }

  #onSocketError(error: Error): void {
    // After the closing handshake or a failure, a reset of the socket tells nothing new.
    if (this.#conn.state !== ReadyState.CLOSED && !this.#terminated) this.#reportError(error);
  }

  #onSocketClose(): void {
    if (this.#finished) return;
    this.bufferedAmount;
    this.#flags |= FINISHED;
    this.#options.clock.clearTimeout(this.#closeTimer);
    this.#heartbeat?.stop();
    const { code, reason, wasClean } = this.#conn.closeStatus;
    this.#handler.onClose(code, reason, wasClean);
  }
}

function byteLength(frames: readonly Buffer[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}
