import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { DuplexError } from '../protocol/index.js';

/**
 * A Wire is the byte pipe under one WebSocket connection: it reads chunks, writes frames
 * batched per event-loop turn, half-closes and tears down. There are two kinds:
 *
 * - `HandleWire` drives a plain TCP connection's libuv handle directly, once the HTTP
 *   upgrade is done. It skips node:net's `Socket` (a Readable and a Writable, their state
 *   objects and listener arrays per connection), which is most of what a WebSocket
 *   connection costs in memory and a good part of what a small message costs in time.
 * - `StreamWire` works on any `Duplex`: TLS sockets, sockets handed to `handleUpgrade` by
 *   other code, and every socket when the handle path is unavailable.
 *
 * The handle path needs Node's stream binding (`WriteWrap`, `ShutdownWrap` and the shared
 * `streamBaseState`). It is checked once at start-up; if any piece is missing (a future
 * Node), or `DUPLEX_STREAM_IO=1` is set, every connection uses `StreamWire`.
 * docs/design/handle-io.md has the reasons and the rules.
 */
export interface WireListener {
  /** Bytes from the peer. */
  wireData(chunk: Buffer): void;
  /** The peer half-closed (FIN). */
  wireEnd(): void;
  /** A read or write failed; the wire is destroyed right after. */
  wireError(error: Error): void;
  /** The connection is gone; called exactly once, asynchronously. */
  wireClose(): void;
  /** Everything written was handed to the kernel after a write had returned false. */
  wireDrain(): void;
}

export interface Wire {
  /** Bytes written and not yet handed to the kernel. */
  readonly buffered: number;
  /**
   * cost is the memory the writes not yet handed to the kernel hold: their bytes plus
   * WRITE_OVERHEAD for every buffer queued. Limits on a send queue compare this, not
   * `buffered`: a queue of tiny frames (pongs, one-byte messages) costs far more than its bytes.
   */
  readonly cost: number;
  /** False once the wire was ended or destroyed: writes are dropped. */
  readonly writable: boolean;
  /** True once end() was called. */
  readonly ended: boolean;
  /**
   * write queues frames for the end of this event-loop turn; false when above the
   * high-water mark. `callback` is called once: without an argument when these frames (and
   * all before them) were handed to the kernel, with an Error when the wire was destroyed
   * or failed first.
   */
  write(frames: readonly Buffer[], callback?: WriteCallback): boolean;
  /** flush hands queued frames to the kernel now (the end-of-turn flush calls it). */
  flush(): void;
  /** end half-closes after the queued frames left. */
  end(): void;
  /** destroy closes the connection at once. */
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** WriteCallback learns the fate of one write: undefined once it reached the kernel, else the Error. */
export type WriteCallback = (error?: Error) => void;

/** notify calls write callbacks, each on its own so that one that throws does not skip the others. */
function notify(callbacks: WriteCallback[] | undefined, error: Error | undefined): void {
  if (callbacks === undefined) return;
  for (const callback of callbacks) process.nextTick(callback, error);
}

/**
 * queuedCallbacks holds the write callbacks of the frames a HandleWire has queued and not
 * yet handed to the kernel. A module-level map rather than a field: connections that never
 * pass a callback (everything but ws-style `send(data, cb)`) pay nothing for it.
 */
const queuedCallbacks = new Map<Wire, WriteCallback[]>();

/** takeCallbacks removes and returns the queued callbacks of a wire. */
function takeCallbacks(wire: Wire): WriteCallback[] | undefined {
  if (queuedCallbacks.size === 0) return undefined;
  const callbacks = queuedCallbacks.get(wire);
  if (callbacks !== undefined) queuedCallbacks.delete(wire);
  return callbacks;
}

/**
 * WRITE_OVERHEAD is what one queued buffer costs in memory beyond its bytes: the Buffer
 * object and its slot in the queue (HandleWire), or node:stream's entry for it (StreamWire).
 * Measured on Node 20 with 200,000 queued 6-byte frames to a peer that does not read
 * (heap + external after a full GC): about 120 bytes per frame on the handle path, 170 on
 * the stream path (DUPLEX_STREAM_IO=1); rounded up.
 */
export const WRITE_OVERHEAD = 192;

/** HIGH_WATER_MARK is where write() starts returning false (node:net's default). */
const HIGH_WATER_MARK = 16 * 1024;

// ---- One flush per event-loop turn, shared by every wire ----

let turn: Wire[] = [];
let flushScheduled = false;
/** readDepth > 0 while a handle's read callback runs: its writes are flushed when it returns. */
let readDepth = 0;

function flushTurn(): void {
  flushScheduled = false;
  const list = turn;
  turn = [];
  for (const wire of list) wire.flush();
}

/**
 * scheduleFlush puts a wire on this turn's flush list. Within a read callback the flush
 * runs as the callback returns (so an echo costs no extra tick); elsewhere it is one
 * process.nextTick for all wires.
 */
function scheduleFlush(wire: Wire): void {
  turn.push(wire);
  if (!flushScheduled && readDepth === 0) {
    flushScheduled = true;
    process.nextTick(flushTurn);
  }
}

// ---- The handle path ----

interface StreamReq {
  handle: TcpHandle;
  oncomplete: (this: StreamReq, status: number) => void;
  wire?: HandleWire;
  chunks?: Buffer[];
  async?: boolean;
  callbacks?: WriteCallback[] | undefined;
}

interface TcpHandle {
  readStart(): number;
  readStop(): number;
  writeBuffer(req: StreamReq, data: Buffer): number;
  writev(req: StreamReq, chunks: Buffer[], allBuffers: boolean): number;
  shutdown(req: StreamReq): number;
  close(callback: () => void): void;
  setNoDelay(enable: boolean): number;
  onread: ((this: TcpHandle, buffer: ArrayBuffer | undefined) => void) | null;
  [wireOf]?: HandleWire;
  [key: symbol]: unknown;
}

interface StreamBinding {
  WriteWrap: new () => StreamReq;
  ShutdownWrap: new () => StreamReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

const wireOf = Symbol('duplex.wire');
/** libuv's UV_EOF, the same on every platform. */
const UV_EOF = -4095;

/** loadHandleIo returns Node's stream binding and TCP class when the handle path can be used. */
function loadHandleIo(): { stream: StreamBinding; tcp: new () => unknown } | undefined {
  if (process.env.DUPLEX_STREAM_IO === '1') return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const stream = binding('stream_wrap') as unknown as StreamBinding;
    const tcp = binding('tcp_wrap')['TCP'] as (new () => unknown) | undefined;
    const ok =
      typeof stream.WriteWrap === 'function' &&
      typeof stream.ShutdownWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      [
        stream.kReadBytesOrError,
        stream.kArrayBufferOffset,
        stream.kBytesWritten,
        stream.kLastWriteWasAsync,
      ].every((k) => typeof k === 'number') &&
      typeof tcp === 'function' &&
      ['readStart', 'readStop', 'writeBuffer', 'writev', 'shutdown', 'close', 'setNoDelay'].every(
        (m) => typeof (tcp.prototype as Record<string, unknown>)[m] === 'function',
      );
    return ok ? { stream, tcp } : undefined;
  } catch {
    return undefined;
  }
}

// Node's bindings are loaded when the first plain TCP connection is adopted, never at import:
// `process.binding` is deprecated (DEP0111, printed under --pending-deprecation), and a program
// that only imports the package or only uses the client must not pay for it or see the warning.
let io: { stream: StreamBinding; tcp: new () => unknown } | undefined;
let ioLoaded = false;
let state: Int32Array = new Int32Array(4);
let K_READ = 0;
let K_OFFSET = 0;
let K_ASYNC = 0;

/** handleIo loads the handle path's bindings once and tells whether it can be used. */
function handleIo(): { stream: StreamBinding; tcp: new () => unknown } | undefined {
  if (ioLoaded) return io;
  ioLoaded = true;
  io = loadHandleIo();
  if (io !== undefined) {
    state = io.stream.streamBaseState;
    K_READ = io.stream.kReadBytesOrError;
    K_OFFSET = io.stream.kArrayBufferOffset;
    K_ASYNC = io.stream.kLastWriteWasAsync;
  }
  return io;
}

/** closedError is what a write callback gets when its data can no longer be sent. */
function closedError(): Error {
  return new DuplexError('DUPLEX_NOT_SENT', 'the connection closed before the data was sent');
}

function uvError(status: number, syscall: string): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: status, syscall });
}

/** onHandleRead is every adopted handle's read callback (this = the handle). */
function onHandleRead(this: TcpHandle, buffer: ArrayBuffer | undefined): void {
  const wire = this[wireOf];
  if (wire === undefined) return;
  const nread = state[K_READ]!;
  if (nread > 0 && buffer !== undefined) {
    deliver(wire, Buffer.from(buffer, state[K_OFFSET], nread));
  } else if (nread === UV_EOF) {
    wire.receivedEnd();
  } else if (nread < 0) {
    wire.fail(uvError(nread, 'read'));
  }
}

/** deliver hands one chunk to a wire's listener and flushes what the listener wrote as it returns. */
function deliver(wire: HandleWire, chunk: Buffer): void {
  readDepth++;
  try {
    wire.received(chunk);
  } finally {
    if (--readDepth === 0 && turn.length > 0) flushTurn();
  }
}

function afterWrite(this: StreamReq, status: number): void {
  notify(this.callbacks, status < 0 ? uvError(status, 'write') : undefined);
  this.wire?.written(status);
}

function afterShutdown(this: StreamReq, status: number): void {
  this.wire?.shutDown(status);
}

function emitDrain(wire: HandleWire): void {
  wire.drained();
}

/**
 * HandleWire owns a TCP handle taken from a node:net Socket after the upgrade. It keeps
 * one write request in flight at a time: frames written meanwhile wait in `#queue` and
 * leave together in one writev when it completes, like a corked Writable.
 */
class HandleWire implements Wire {
  readonly #handle: TcpHandle;
  readonly #listener: WireListener;
  #queue: Buffer[] = [];
  #queued = 0;
  #inflight = 0;
  /** Buffers of the write in flight. */
  #inflightChunks = 0;
  #writing = false;
  #scheduled = false;
  #ending = false;
  #shutdownSent = false;
  #shutdownDone = false;
  #eof = false;
  #destroyed = false;
  #paused = false;
  #needDrain = false;

  constructor(handle: TcpHandle, listener: WireListener) {
    this.#handle = handle;
    this.#listener = listener;
  }

  /**
   * start begins reading. The bytes that arrived before the adoption go first, on the next
   * tick: the application attaches its listeners after the constructor returns, and a
   * read callback cannot come before that tick.
   */
  start(early: Buffer | undefined): void {
    this.#handle[wireOf] = this;
    this.#handle.onread = onHandleRead;
    this.#handle.setNoDelay(true);
    this.#handle.readStart();
    if (early && early.length > 0) process.nextTick(deliver, this, early);
  }

  get buffered(): number {
    return this.#queued + this.#inflight;
  }

  get cost(): number {
    return this.#queued + this.#inflight + (this.#queue.length + this.#inflightChunks) * WRITE_OVERHEAD;
  }

  get writable(): boolean {
    return !this.#ending && !this.#destroyed;
  }

  get ended(): boolean {
    return this.#ending;
  }

  write(frames: readonly Buffer[], callback?: WriteCallback): boolean {
    if (this.#ending || this.#destroyed) {
      if (callback) process.nextTick(callback, closedError());
      return false;
    }
    for (const frame of frames) {
      if (frame.length === 0) continue;
      this.#queue.push(frame);
      this.#queued += frame.length;
    }
    if (callback) {
      if (this.#queued === 0 && !this.#writing) process.nextTick(callback);
      else {
        const list = queuedCallbacks.get(this);
        if (list) list.push(callback);
        else queuedCallbacks.set(this, [callback]);
      }
    }
    if (!this.#scheduled && !this.#writing && this.#queued > 0) {
      this.#scheduled = true;
      scheduleFlush(this);
    }
    if (this.buffered < HIGH_WATER_MARK) return true;
    this.#needDrain = true;
    return false;
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#destroyed || this.#writing) return;
    if (this.#queued > 0) {
      const chunks = this.#queue;
      const bytes = this.#queued;
      const callbacks = takeCallbacks(this);
      this.#queue = [];
      this.#queued = 0;
      const req = new io!.stream.WriteWrap();
      req.handle = this.#handle;
      req.oncomplete = afterWrite;
      req.async = false;
      const err =
        chunks.length === 1
          ? this.#handle.writeBuffer(req, chunks[0]!)
          : this.#handle.writev(req, chunks, true);
      if (err !== 0) {
        const error = uvError(err, 'write');
        notify(callbacks, error);
        this.fail(error);
        return;
      }
      if (state[K_ASYNC] !== 0) {
        // The kernel took part of it; libuv writes the rest when the socket is writable.
        req.wire = this;
        req.chunks = chunks;
        req.callbacks = callbacks;
        this.#writing = true;
        this.#inflight = bytes;
        this.#inflightChunks = chunks.length;
        return;
      }
      notify(callbacks, undefined);
    }
    this.#afterFlushed();
  }

  /** written completes an asynchronous write (afterWrite). */
  written(status: number): void {
    this.#writing = false;
    this.#inflight = 0;
    this.#inflightChunks = 0;
    if (this.#destroyed) return;
    if (status < 0) {
      this.fail(uvError(status, 'write'));
      return;
    }
    if (this.#queued > 0) this.flush();
    else this.#afterFlushed();
  }

  #afterFlushed(): void {
    if (this.#queued === 0) notify(takeCallbacks(this), undefined);
    if (this.#ending && !this.#shutdownSent) this.#shutdown();
    if (this.#needDrain) {
      this.#needDrain = false;
      process.nextTick(emitDrain, this);
    }
  }

  drained(): void {
    if (!this.#destroyed) this.#listener.wireDrain();
  }

  end(): void {
    if (this.#ending || this.#destroyed) return;
    this.#ending = true;
    if (!this.#writing && this.#queued === 0) this.#shutdown();
  }

  #shutdown(): void {
    this.#shutdownSent = true;
    const req = new io!.stream.ShutdownWrap();
    req.handle = this.#handle;
    req.oncomplete = afterShutdown;
    req.wire = this;
    const err = this.#handle.shutdown(req);
    if (err !== 0) this.destroy();
  }

  /** shutDown completes the half-close (afterShutdown); with the peer's FIN in too, the connection is done. */
  shutDown(status: number): void {
    this.#shutdownDone = true;
    if (status < 0 || this.#eof) this.destroy();
  }

  received(chunk: Buffer): void {
    if (!this.#destroyed) this.#listener.wireData(chunk);
  }

  receivedEnd(): void {
    if (this.#destroyed || this.#eof) return;
    this.#eof = true;
    this.#handle.readStop();
    this.#listener.wireEnd();
    if (this.#shutdownDone) this.destroy();
  }

  fail(error: Error): void {
    if (this.#destroyed) return;
    this.#listener.wireError(error);
    this.destroy();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const callbacks = takeCallbacks(this);
    this.#queue = [];
    this.#queued = 0;
    notify(callbacks, closedError());
    this.#handle.readStop();
    this.#handle.close(() => this.#listener.wireClose());
  }

  pause(): void {
    this.#paused = true;
    if (!this.#eof && !this.#destroyed) this.#handle.readStop();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#eof && !this.#destroyed) this.#handle.readStart();
  }
}

// ---- The stream path ----

const EMPTY = Buffer.alloc(0);

interface WiredSocket extends Duplex {
  [wireOf]?: StreamWire;
}

function streamData(this: WiredSocket, chunk: Buffer): void {
  this[wireOf]?.listener.wireData(chunk);
}
function streamEnd(this: WiredSocket): void {
  this[wireOf]?.listener.wireEnd();
}
function streamError(this: WiredSocket, error: Error): void {
  this[wireOf]?.listener.wireError(error);
}
function streamClose(this: WiredSocket): void {
  this[wireOf]?.listener.wireClose();
}
function streamDrain(this: WiredSocket): void {
  this[wireOf]?.drained();
}

/** StreamWire writes through a Duplex, corked until the end of the turn (one writev per turn). */
class StreamWire implements Wire {
  readonly #socket: WiredSocket;
  readonly listener: WireListener;
  #corked = false;
  #needDrain = false;
  /** Buffers written in this turn's batch, and in earlier batches not yet handed to the kernel. */
  #batchChunks = 0;
  #pendingChunks = 0;

  constructor(socket: Duplex, listener: WireListener) {
    this.#socket = socket;
    this.listener = listener;
  }

  start(head: Buffer | undefined): void {
    const socket = this.#socket;
    if (this.#socket instanceof Socket) this.#socket.setNoDelay(true).setTimeout(0);
    if (head && head.length > 0) socket.unshift(head);
    socket[wireOf] = this;
    socket.on('data', streamData);
    socket.on('end', streamEnd);
    socket.on('error', streamError);
    socket.on('close', streamClose);
    socket.on('drain', streamDrain);
    socket.resume();
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  get cost(): number {
    return this.#socket.writableLength + (this.#pendingChunks + this.#batchChunks) * WRITE_OVERHEAD;
  }

  get writable(): boolean {
    return !this.#socket.destroyed && !this.#socket.writableEnded;
  }

  get ended(): boolean {
    return this.#socket.writableEnded;
  }

  write(frames: readonly Buffer[], callback?: WriteCallback): boolean {
    const socket = this.#socket;
    if (!this.writable) {
      if (callback) process.nextTick(callback, closedError());
      return false;
    }
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      scheduleFlush(this);
    }
    let ok = true;
    const last = frames.length - 1;
    const done = callback && ((error?: Error | null) => callback(error ?? undefined));
    for (let i = 0; i <= last; i++) {
      ok = done && i === last ? socket.write(frames[i]!, done) : socket.write(frames[i]!);
    }
    if (last < 0 && done) ok = socket.write(Buffer.alloc(0), done);
    this.#batchChunks += frames.length;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    const chunks = this.#batchChunks;
    if (chunks > 0 && this.writable) {
      // One empty write closes the batch: its callback runs once every buffer before it
      // reached the kernel (or the socket failed), which is when they stop costing memory.
      this.#batchChunks = 0;
      this.#pendingChunks += chunks;
      this.#socket.write(EMPTY, () => {
        this.#pendingChunks -= chunks;
      });
    }
    this.#socket.uncork();
  }

  drained(): void {
    if (!this.#needDrain) return;
    this.#needDrain = false;
    this.listener.wireDrain();
  }

  end(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }
}

// ---- Adoption ----

interface NetInternals {
  _handle: TcpHandle | null;
}

let ownerSymbol: symbol | undefined;

/**
 * openWire starts the wire of an upgraded socket: `head` (bytes the HTTP parser read past
 * the handshake) is delivered first, then what the socket holds, then new reads. A plain
 * TCP node:net Socket is adopted: its handle moves to a HandleWire, its peer address stays
 * readable (`request.socket.remoteAddress`), and the Socket itself is destroyed without
<<<<<<< HEAD
 * touching the connection (so an http.Server stops counting it). Anything else, a socket
 * with writes still pending, or `adopt: false` (the client side) gets a StreamWire.
=======
 * touching the connection (so an http.Server stops counting it). Its `remoteAddress`,
 * `remotePort`, `remoteFamily`, `localAddress` and `localPort` stay readable. Anything else, or a
 * socket with writes still pending, gets a StreamWire.
>>>>>>> ws-dropin
 */
export function openWire(
  socket: Duplex,
  head: Buffer | undefined,
  listener: WireListener,
  adopt: boolean,
): Wire {
  const handle = adopt ? adoptableHandle(socket) : undefined;
  if (handle === undefined) {
    const wire = new StreamWire(socket, listener);
    wire.start(head);
    return wire;
  }
  const net = socket as Socket & NetInternals;
  // Keep both ends' addresses readable on the Socket once its handle is gone
  // (`request.socket.remoteAddress` and the like): node:net caches the peer's once read,
  // but not its own (Node 20 answers {} without a handle), so those become own values.
  void net.remoteAddress;
  const local = { localAddress: net.localAddress, localPort: net.localPort, localFamily: net.localFamily };
  for (const [name, value] of Object.entries(local)) {
    Object.defineProperty(net, name, { value, configurable: true, enumerable: false });
  }
  handle.readStop();
  net._handle = null;
  const held = net.readableLength > 0 ? (net.read(net.readableLength) as Buffer | null) : null;
  net.destroy();
  ownerSymbol ??= Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol');
  const wire = new HandleWire(handle, listener);
  // Diagnostics that map a handle to its owner now find the wire, and the dead Socket can be collected.
  if (ownerSymbol !== undefined) handle[ownerSymbol] = wire;
  const early =
    held && held.length > 0 ? (head && head.length > 0 ? Buffer.concat([head, held]) : held) : head;
  wire.start(early);
  return wire;
}

function adoptableHandle(socket: Duplex): TcpHandle | undefined {
  if (!(socket instanceof Socket)) return undefined;
  const io = handleIo();
  if (io === undefined) return undefined;
  const handle = (socket as Socket & NetInternals)._handle;
  if (handle === null || !(handle instanceof io.tcp)) return undefined;
  if (socket.destroyed || socket.connecting || socket.writableLength > 0 || socket.writableEnded)
    return undefined;
  if (socket.readableEnded) return undefined;
  return handle;
}
