import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { deliver, scheduleFlush } from './flush-turn.js';
import {
  closedError,
  HIGH_WATER_MARK,
  type Wire,
  type WireListener,
  WRITE_OVERHEAD,
  type WriteCallback,
} from './wire.js';

/**
 * The handle path: a plain TCP connection's libuv handle, taken from its node:net Socket
 * after the upgrade and driven directly (docs/design/handle-io.md). It needs Node's stream
 * binding (`WriteWrap`, `ShutdownWrap` and the shared `streamBaseState`), loaded when the
 * first connection is adopted; if any piece is missing (a future Node), or
 * `DUPLEX_STREAM_IO=1` is set, every connection takes the stream path instead.
 */

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
const queuedCallbacks = new Map<HandleWire, WriteCallback[]>();

/** takeCallbacks removes and returns the queued callbacks of a wire. */
function takeCallbacks(wire: HandleWire): WriteCallback[] | undefined {
  if (queuedCallbacks.size === 0) return undefined;
  const callbacks = queuedCallbacks.get(wire);
  if (callbacks !== undefined) queuedCallbacks.delete(wire);
  return callbacks;
}

interface StreamReq {
  /** The handle, set as node:net sets it: it stays reachable while the request is pending. */
  handle: TcpHandle;
  /** A TLS write that failed in OpenSSL leaves its reason here (UV_EPROTO as the status). */
  error?: string;
  oncomplete: (this: StreamReq, status: number) => void;
  wire?: HandleWire;
  /** The buffers of an asynchronous writev, kept alive until libuv is done with them. */
  chunks?: Buffer[] | undefined;
  callbacks?: WriteCallback[] | undefined;
  /** The request that completed before this one: free to write with again (see #takeRequest). */
  prev?: StreamReq | undefined;
}

/** TcpHandle is a libuv stream handle as Node exposes it: a `TCP`, or a `TLSWrap` over one. */
export interface TcpHandle {
  readStart(): number;
  readStop(): number;
  /** Reads land in this buffer from now on, and `onread` gets no buffer (StreamBase::UseUserBuffer). */
  useUserBuffer(buffer: Buffer): void;
  writeBuffer(req: StreamReq, data: Buffer): number;
  writev(req: StreamReq, chunks: Buffer[], allBuffers: boolean): number;
  shutdown(req: StreamReq): number;
  close(callback: () => void): void;
  setNoDelay(enable: boolean): number;
  onread: ((this: TcpHandle, buffer: ArrayBuffer | undefined) => void) | null;
  [wireOf]?: HandleWire;
  [key: symbol]: unknown;
}

export interface StreamBinding {
  WriteWrap: new () => StreamReq;
  ShutdownWrap: new () => StreamReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

export const wireOf = Symbol('duplex.wire');
/** libuv's UV_EOF, the same on every platform. */
const UV_EOF = -4095;

/**
 * HandleIo is what the handle path needs from Node: the stream binding, the TCP class, and
 * the TLSWrap class (undefined when it is missing or not a stream handle: TLS connections
 * then keep the stream path, plain ones are not affected).
 */
export interface HandleIo {
  stream: StreamBinding;
  tcp: new () => unknown;
  tlsWrap: (new () => unknown) | undefined;
}

/** HANDLE_METHODS are the stream handle methods a HandleWire calls. */
const HANDLE_METHODS = [
  'readStart',
  'readStop',
  'useUserBuffer',
  'writeBuffer',
  'writev',
  'shutdown',
  'close',
  'setNoDelay',
];

/** loadTlsWrap returns Node's TLSWrap class when it has every method a HandleWire calls. */
function loadTlsWrap(binding: (name: string) => Record<string, unknown>): (new () => unknown) | undefined {
  try {
    const tlsWrap = binding('tls_wrap')['TLSWrap'] as (new () => unknown) | undefined;
    if (typeof tlsWrap !== 'function') return undefined;
    const proto = tlsWrap.prototype as Record<string, unknown>;
    return HANDLE_METHODS.every((m) => typeof proto[m] === 'function') ? tlsWrap : undefined;
  } catch {
    return undefined;
  }
}

/** loadHandleIo returns Node's stream binding and TCP class when the handle path can be used. */
function loadHandleIo(): HandleIo | undefined {
  if (process.env.DUPLEX_STREAM_IO === '1') return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const stream = binding('stream_wrap') as unknown as StreamBinding;
    const tcp = binding('tcp_wrap')['TCP'] as (new () => unknown) | undefined;
    const ok =
      typeof stream.WriteWrap === 'function' &&
      typeof stream.ShutdownWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      [stream.kReadBytesOrError, stream.kArrayBufferOffset, stream.kLastWriteWasAsync].every(
        (k) => typeof k === 'number',
      ) &&
      typeof tcp === 'function' &&
      HANDLE_METHODS.every((m) => typeof (tcp.prototype as Record<string, unknown>)[m] === 'function');
    return ok ? { stream, tcp, tlsWrap: loadTlsWrap(binding) } : undefined;
  } catch {
    return undefined;
  }
}

// Node's bindings are loaded when the first plain TCP connection is adopted, never at import:
// `process.binding` is deprecated (DEP0111, printed under --pending-deprecation), and a program
// that only imports the package or only uses the client must not pay for it or see the warning.
let io: HandleIo | undefined;
let ioLoaded = false;
let state: Int32Array = new Int32Array(4);
let K_READ = 0;
let K_ASYNC = 0;

/** handleIo loads the handle path's bindings once and tells whether it can be used. */
export function handleIo(): HandleIo | undefined {
  if (ioLoaded) return io;
  ioLoaded = true;
  io = loadHandleIo();
  if (io !== undefined) {
    state = io.stream.streamBaseState;
    K_READ = io.stream.kReadBytesOrError;
    K_ASYNC = io.stream.kLastWriteWasAsync;
  }
  return io;
}

function uvError(status: number, syscall: string, reason?: string): Error {
  const code = getSystemErrorName(status);
  const message = reason ? `${syscall} ${code}: ${reason}` : `${syscall} ${code}`;
  return Object.assign(new Error(message), { code, errno: status, syscall });
}

/**
 * SharedRead is a read buffer shared by every wire of one kind (StreamBase::UseUserBuffer):
 * the handle reads into it instead of Node allocating a backing store and an ArrayBuffer per
 * read (malloc, the ArrayBuffer, its free and sweep: about 1 us of a 32-byte TLS echo). Each
 * read's bytes are lent to the transport (WireListener#wireData's `borrowed`), whose
 * Connection copies out what it keeps: each payload, unmasked on the way, and an incomplete
 * frame; the transport copies what is left of the chunk before any listener runs. A message
 * then costs one Buffer, not a view of the read plus a view of its payload (or a copy of
 * the read). One view of the buffer per read size is kept, so a read makes no Buffer of its
 * own either. Reads cannot nest: libuv and Node's TLSWrap call a read callback only from
 * the event loop's poll phase (a TLSWrap also inside an empty write, which a wire never makes).
 */
class SharedRead {
  readonly buffer: Buffer;
  #view: Buffer | undefined;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafeSlow(size);
  }

  /** read delivers the bytes of the read that just completed (this buffer's) to `wire`. */
  read(wire: HandleWire): void {
    const nread = state[K_READ]!;
    if (nread > 0) {
      let view = this.#view;
      if (view === undefined || view.length !== nread) view = this.#view = this.buffer.subarray(0, nread);
      deliver(wire, view, true);
    } else if (nread === UV_EOF) {
      wire.receivedEnd();
    } else if (nread < 0) {
      wire.fail(uvError(nread, 'read'));
    }
  }
}

/**
 * The TLS wires' buffer: a TLS record's plaintext is at most 16 KiB, and a TLSWrap hands
 * over at most 16 KiB per read.
 */
let tlsReads: SharedRead | undefined;
/** The plain TCP wires' buffer: 64 KiB, what node:net offers libuv per read. */
let tcpReads: SharedRead | undefined;

/** useSharedReadBuffer makes a TLSWrap decrypt into the buffer every TLS wire shares. */
export function useSharedReadBuffer(handle: TcpHandle): void {
  tlsReads ??= new SharedRead(16 * 1024);
  handle.useUserBuffer(tlsReads.buffer);
}

/** readShared is the read callback of a TLS wire (its closure calls it with the wire). */
export function readShared(wire: HandleWire): void {
  tlsReads!.read(wire);
}

/** onTcpRead is every adopted TCP handle's read callback (this = the handle). */
function onTcpRead(this: TcpHandle): void {
  const wire = this[wireOf];
  if (wire !== undefined) tcpReads!.read(wire);
}

function afterWrite(this: StreamReq, status: number): void {
  const wire = this.wire;
  const callbacks = this.callbacks;
  this.wire = undefined;
  this.chunks = undefined;
  this.callbacks = undefined;
  notify(callbacks, status < 0 ? uvError(status, 'write', this.error) : undefined);
  wire?.written(status, this.error, this);
}

/**
 * syncSpare is a write request whose write finished at once (the kernel took every byte,
 * so Node never attached its C++ side to it): any wire may write with it next.
 */
let syncSpare: StreamReq | undefined;

function afterShutdown(this: StreamReq, status: number): void {
  this.wire?.shutDown(status);
}

function emitDrain(wire: HandleWire): void {
  wire.drained();
}

// HandleWire state bits: one number per connection rather than a boolean field each
// (docs/design/idle-memory.md).

/** A write request is in flight. */
const WRITING = 1;
/** A flush at the end of the turn is scheduled. */
const SCHEDULED = 2;
/** end() was called: the half-close follows the frames written so far. */
const ENDING = 4;
const SHUTDOWN_SENT = 8;
const SHUTDOWN_DONE = 16;
/** The peer's FIN arrived. */
const EOF = 32;
const DESTROYED = 64;
const PAUSED = 128;
/** A write returned false: drain is owed once the queue empties. */
const NEED_DRAIN = 256;

/**
 * HandleWire owns a stream handle taken from a node:net Socket after the upgrade: a TCP
 * handle, or the TLSWrap of a tls.TLSSocket (tls-wire.ts). It keeps one write request in
 * flight at a time (which a TLSWrap requires): frames written meanwhile wait in `#queue`
 * and leave together in one writev when it completes, like a corked Writable.
 */
export class HandleWire implements Wire {
  readonly #handle: TcpHandle;
  readonly #listener: WireListener;
  /**
   * #release closes the connection when the handle is not the wire's own to close (a
   * TLSWrap: its TLSSocket closes it, with the TCP handle under it); it calls `done` once.
   */
  readonly #release: ((done: () => void) => void) | undefined;
  /** Frames written since the last flush; undefined when none is (an idle connection holds no array). */
  #queue: Buffer[] | undefined;
  #queued = 0;
  #inflight = 0;
  /** Buffers of the write in flight. */
  #inflightChunks = 0;

  /** WRITING ... NEED_DRAIN bits. */
  #flags = 0;
  get #writing(): boolean {
    return (this.#flags & WRITING) !== 0;
  }
  get #scheduled(): boolean {
    return (this.#flags & SCHEDULED) !== 0;
  }
  get #ending(): boolean {
    return (this.#flags & ENDING) !== 0;
  }
  get #shutdownSent(): boolean {
    return (this.#flags & SHUTDOWN_SENT) !== 0;
  }
  get #shutdownDone(): boolean {
    return (this.#flags & SHUTDOWN_DONE) !== 0;
  }
  get #eof(): boolean {
    return (this.#flags & EOF) !== 0;
  }
  get #destroyed(): boolean {
    return (this.#flags & DESTROYED) !== 0;
  }
  get #paused(): boolean {
    return (this.#flags & PAUSED) !== 0;
  }
  get #needDrain(): boolean {
    return (this.#flags & NEED_DRAIN) !== 0;
  }
  /**
   * The write request that completed last; its `prev`, the one before it, is free to write
   * with again (#takeRequest). Requests are reused rather than made per write: creating one
   * costs an API object instantiation in V8.
   */
  #lastReq: StreamReq | undefined;

  constructor(handle: TcpHandle, listener: WireListener, release?: (done: () => void) => void) {
    this.#handle = handle;
    this.#listener = listener;
    this.#release = release;
  }

  /**
   * start begins reading. The bytes that arrived before the adoption go first, on the next
   * tick: the application attaches its listeners after the constructor returns, and a
   * read callback cannot come before that tick.
   */
  start(early: Buffer | undefined, onread: TcpHandle['onread']): void {
    this.#handle[wireOf] = this;
    this.#handle.onread = onread;
    this.#handle.setNoDelay(true);
    this.#handle.readStart();
    if (early && early.length > 0) process.nextTick(deliver, this, early);
  }

  get buffered(): number {
    return this.#queued + this.#inflight;
  }

  get cost(): number {
    return (
      this.#queued + this.#inflight + ((this.#queue?.length ?? 0) + this.#inflightChunks) * WRITE_OVERHEAD
    );
  }

  get writable(): boolean {
    return !this.#ending && !this.#destroyed;
  }

  write(frames: readonly Buffer[], callback?: WriteCallback): boolean {
    if (this.#ending || this.#destroyed) {
      if (callback) process.nextTick(callback, closedError());
      return false;
    }
    for (const frame of frames) {
      if (frame.length === 0) continue;
      if (this.#queue === undefined) this.#queue = [frame];
      else this.#queue.push(frame);
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
      this.#flags |= SCHEDULED;
      scheduleFlush(this);
    }
    if (this.buffered < HIGH_WATER_MARK) return true;
    this.#flags |= NEED_DRAIN;
    return false;
  }

  flush(): void {
    this.#flags &= ~SCHEDULED;
    if (this.#destroyed || this.#writing) return;
    if (this.#queued > 0) {
      const chunks = this.#queue!;
      const bytes = this.#queued;
      const callbacks = takeCallbacks(this);
      this.#queue = undefined;
      this.#queued = 0;
      const req = this.#takeRequest();
      req.handle = this.#handle;
      const err =
        chunks.length === 1
          ? this.#handle.writeBuffer(req, chunks[0]!)
          : this.#handle.writev(req, chunks, true);
      if (err !== 0) {
        const error = uvError(err, 'write', req.error);
        notify(callbacks, error);
        this.fail(error);
        return;
      }
      if (state[K_ASYNC] !== 0) {
        // The kernel took part of it; libuv writes the rest when the socket is writable.
        req.wire = this;
        req.chunks = chunks;
        req.callbacks = callbacks;
        this.#flags |= WRITING;
        this.#inflight = bytes;
        this.#inflightChunks = chunks.length;
        return;
      }
      syncSpare = req;
      notify(callbacks, undefined);
    }
    this.#afterFlushed();
  }

  /**
   * #takeRequest returns a write request to write with. Node attaches a C++ write request to
   * the JavaScript one for an asynchronous write and detaches it only after the completion
   * callback (afterWrite) has returned, and attaching twice aborts the process; so the
   * request that completed last is never reused, only the one that completed before it (its
   * completion is over: one write is in flight at a time), or one whose write finished at
   * once (never attached).
   */
  #takeRequest(): StreamReq {
    const last = this.#lastReq;
    const prev = last?.prev;
    if (prev !== undefined) {
      last!.prev = undefined;
      return prev;
    }
    const spare = syncSpare;
    if (spare !== undefined) {
      syncSpare = undefined;
      return spare;
    }
    const req = new io!.stream.WriteWrap();
    req.oncomplete = afterWrite;
    return req;
  }

  /** written completes an asynchronous write (afterWrite); `req` was its request. */
  written(status: number, reason?: string, req?: StreamReq): void {
    if (status >= 0 && req !== undefined) {
      const last = this.#lastReq;
      if (last !== undefined) last.prev = undefined;
      req.prev = last;
      this.#lastReq = req;
    }
    this.#flags &= ~WRITING;
    this.#inflight = 0;
    this.#inflightChunks = 0;
    if (this.#destroyed) return;
    if (status < 0) {
      this.fail(uvError(status, 'write', reason));
      return;
    }
    if (this.#queued > 0) this.flush();
    else this.#afterFlushed();
  }

  #afterFlushed(): void {
    if (this.#queued === 0) notify(takeCallbacks(this), undefined);
    if (this.#ending && !this.#shutdownSent) this.#shutdown();
    if (this.#needDrain) {
      this.#flags &= ~NEED_DRAIN;
      process.nextTick(emitDrain, this);
    }
  }

  drained(): void {
    if (!this.#destroyed) this.#listener.wireDrain();
  }

  end(): void {
    if (this.#ending || this.#destroyed) return;
    this.#flags |= ENDING;
    if (!this.#writing && this.#queued === 0) this.#shutdown();
  }

  #shutdown(): void {
    this.#flags |= SHUTDOWN_SENT;
    const req = new io!.stream.ShutdownWrap();
    req.handle = this.#handle;
    req.oncomplete = afterShutdown;
    req.wire = this;
    const err = this.#handle.shutdown(req);
    if (err !== 0) this.destroy();
  }

  /** shutDown completes the half-close (afterShutdown); with the peer's FIN in too, the connection is done. */
  shutDown(status: number): void {
    this.#flags |= SHUTDOWN_DONE;
    if (status < 0 || this.#eof) this.destroy();
  }

  received(chunk: Buffer, borrowed = false): void {
    if (!this.#destroyed) this.#listener.wireData(chunk, borrowed);
  }

  receivedEnd(): void {
    if (this.#destroyed || this.#eof) return;
    this.#flags |= EOF;
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
    this.#flags |= DESTROYED;
    const callbacks = takeCallbacks(this);
    this.#queue = undefined;
    this.#queued = 0;
    notify(callbacks, closedError());
    this.#handle.readStop();
    const done = (): void => this.#listener.wireClose();
    if (this.#release) this.#release(done);
    else this.#handle.close(done);
  }

  pause(): void {
    this.#flags |= PAUSED;
    if (!this.#eof && !this.#destroyed) this.#handle.readStop();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#flags &= ~PAUSED;
    if (!this.#eof && !this.#destroyed) this.#handle.readStart();
  }
}

// ---- Adoption ----

interface NetInternals {
  _handle: TcpHandle | null;
  _sockname?: object;
  _getpeername(): object;
  _getsockname(): object;
}

/** cachedSockname is an adopted Socket's `_getsockname`: its own address, read before the handle left. */
function cachedSockname(this: NetInternals): object {
  return this._sockname ?? {};
}

let ownerSymbol: symbol | undefined;

/**
 * adoptHandle takes the TCP handle of a plain node:net Socket for a HandleWire, or returns
 * undefined when the socket cannot be adopted (not plain TCP, writes pending, half-closed,
 * or no handle path on this Node). The Socket is destroyed without touching the connection
 * (so an http.Server stops counting it); its `remoteAddress`, `remotePort`, `remoteFamily`,
 * `localAddress` and `localPort` stay readable. Bytes the Socket still held go after `head`.
 */
export function adoptHandle(
  socket: Duplex,
  head: Buffer | undefined,
  listener: WireListener,
): HandleWire | undefined {
  const handle = adoptableHandle(socket);
  if (handle === undefined) return undefined;
  const net = socket as Socket & NetInternals;
  // Keep both ends' addresses readable on the Socket once its handle is gone
  // (`request.socket.remoteAddress` and the like): node:net caches both once read, but
  // answers its own from the handle only (Node 20 gives {} without one), so the Socket
  // gets a `_getsockname` that returns the cached address. One shared function and no
  // property descriptors: the adoption leaves less garbage (docs/design/idle-memory.md).
  net._getpeername();
  net._getsockname();
  net._getsockname = cachedSockname;
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
  tcpReads ??= new SharedRead(64 * 1024);
  handle.useUserBuffer(tcpReads.buffer);
  wire.start(early, onTcpRead);
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
