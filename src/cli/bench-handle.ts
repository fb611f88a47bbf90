import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * bench-handle is the handle path of `duplex bench`'s own connections (internal, for the
 * bench worker threads only): once the opening handshake is done on a plain TCP socket, the
 * connection's libuv handle is taken from its node:net Socket and driven directly, as the
 * server does with its connections (src/node/handle-wire.ts, docs/design/handle-io.md).
 * A message is then one `writeBuffer` on the handle: no `Writable.write`, no stream state,
 * no per-write callbacks or ticks, and the `WriteWrap` request object is reused for as long
 * as the kernel takes each write whole (it is only bound to a write that has to wait).
 * Reads keep going into the thread's one read buffer (the handle was opened with node:net's
 * `onread`, which makes libuv read into that buffer).
 *
 * A TLS connection (`adoptBenchTls`) keeps its `tls.TLSSocket`, which owns the session and
 * closes it, but its reads and writes go straight to the socket's `TLSWrap` handle, as the
 * server's src/node/tls-wire.ts does: OpenSSL still does all of TLS, only the socket's
 * Readable and Writable are skipped. A TLSWrap takes one write at a time, so writes made
 * while one is in flight wait in a queue and leave together when it completes.
 *
 * The library's own client never does this: it needs Node's internal bindings
 * (`process.binding`, DEP0111, printed under `--pending-deprecation`), loaded here on the
 * first adoption in a bench worker, never at import. Where a binding is missing (another
 * Node), or with `DUPLEX_STREAM_IO=1`, the connections stay on the node:net stream path.
 */

interface WriteReq {
  handle: TcpHandle;
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  owner?: BenchHandle | undefined;
  buffer?: Buffer | Buffer[] | null;
}

interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: ((this: ShutdownReq, status: number) => void) | null;
}

interface TcpHandle {
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  writev(req: WriteReq, chunks: Buffer[], allBuffers: boolean): number;
  shutdown(req: ShutdownReq): number;
  close(callback: () => void): void;
  onread: ((this: TcpHandle, buffer: ArrayBuffer | undefined) => unknown) | null;
  [key: symbol]: unknown;
}

interface Bindings {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  TCP: abstract new () => unknown;
  /** Node's TLSWrap class, undefined when missing or without a method used here (TLS keeps its socket then). */
  TLSWrap: (abstract new () => unknown) | undefined;
  state: Int32Array;
  kRead: number;
  kOffset: number;
  kAsync: number;
}

/** What the handle tells its connection. */
export interface HandleListener {
  /**
   * `n` bytes were read: into the thread's read buffer (the one the Socket was opened with)
   * when `buffer` is undefined, else into `buffer` from `offset` (a TLS connection's clear
   * text, or a TCP Socket opened without a read buffer).
   */
  handleRead(n: number, buffer?: ArrayBuffer, offset?: number): void;
  /** The read or a write failed, or the peer ended the connection (`eof`). */
  handleFailed(why: string, eof: boolean): void;
}

const listenerOf = Symbol('duplex.bench.listener');
/** MAX_QUEUED bounds the bytes a TLS connection holds while a write is in flight. */
const MAX_QUEUED = 16 * 1024 * 1024;
/** libuv's UV_EOF, the same on every platform. */
const UV_EOF = -4095;
/** The methods called on a handle here. */
const METHODS = ['readStart', 'readStop', 'writeBuffer', 'writev', 'shutdown', 'close'];

let bindings: Bindings | undefined;
let loaded = false;

function hasMethods(type: unknown): type is abstract new () => unknown {
  if (typeof type !== 'function') return false;
  const proto = type.prototype as Record<string, unknown>;
  return METHODS.every((m) => typeof proto[m] === 'function');
}

function loadTlsWrap(
  binding: (name: string) => Record<string, unknown>,
): (abstract new () => unknown) | undefined {
  try {
    const tlsWrap = binding('tls_wrap')['TLSWrap'];
    return hasMethods(tlsWrap) ? tlsWrap : undefined;
  } catch {
    return undefined;
  }
}

function load(): Bindings | undefined {
  if (loaded) return bindings;
  loaded = true;
  if (process.env.DUPLEX_STREAM_IO === '1') return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const stream = binding('stream_wrap');
    const TCP = binding('tcp_wrap')['TCP'];
    const WriteWrap = stream['WriteWrap'];
    const ShutdownWrap = stream['ShutdownWrap'];
    const state = stream['streamBaseState'];
    const kRead = stream['kReadBytesOrError'];
    const kAsync = stream['kLastWriteWasAsync'];
    const kOffset = stream['kArrayBufferOffset'];
    if (
      typeof WriteWrap !== 'function' ||
      typeof ShutdownWrap !== 'function' ||
      typeof TCP !== 'function' ||
      !(state instanceof Int32Array) ||
      typeof kRead !== 'number' ||
      typeof kAsync !== 'number' ||
      typeof kOffset !== 'number' ||
      !hasMethods(TCP)
    )
      return undefined;
    bindings = {
      WriteWrap: WriteWrap as new () => WriteReq,
      ShutdownWrap: ShutdownWrap as new () => ShutdownReq,
      TCP: TCP as abstract new () => unknown,
      TLSWrap: loadTlsWrap(binding),
      state,
      kRead,
      kOffset,
      kAsync,
    };
  } catch {
    bindings = undefined;
  }
  return bindings;
}

function onRead(this: TcpHandle, buffer: ArrayBuffer | undefined): void {
  const listener = this[listenerOf] as HandleListener | undefined;
  if (listener === undefined || bindings === undefined) return;
  const n = bindings.state[bindings.kRead]!;
  if (n > 0) {
    if (buffer === undefined) listener.handleRead(n);
    else listener.handleRead(n, buffer, bindings.state[bindings.kOffset]!);
  } else if (n === UV_EOF) listener.handleFailed('the server closed the connection', true);
  else if (n < 0) listener.handleFailed(`read error ${n}`, false);
}

function onWriteDone(this: WriteReq, status: number): void {
  const owner = this.owner;
  this.owner = undefined;
  this.buffer = null;
  if (owner === undefined) return;
  owner.pending--;
  if (status < 0) owner.listener.handleFailed(`write error ${status}`, false);
  else owner.writeQueued();
}

/**
 * BenchHandle is one bench connection's TCP handle (or TLSWrap) after the handshake. On TCP,
 * writes never queue in JavaScript: libuv keeps the order of a write that had to wait and
 * those after it. A TLSWrap takes one write at a time: the others wait in a bounded queue.
 */
export class BenchHandle {
  /** Writes handed to libuv that the kernel has not taken yet. */
  pending = 0;
  #req: WriteReq;
  #closed = false;
  #ending = false;
  #shutdownSent = false;
  #gone: (() => void) | undefined;
  /** Writes waiting for the one in flight (a TLSWrap only), and their bytes. */
  #queue: Buffer[] = [];
  #queued = 0;

  constructor(
    readonly handle: TcpHandle,
    readonly listener: HandleListener,
    /**
     * Closes a handle that is not this object's own to close (a TLSWrap: its TLSSocket
     * closes it); a handle that takes one write at a time has one.
     */
    private readonly release?: (done: () => void) => void,
  ) {
    this.#req = this.#newReq();
    handle[listenerOf] = listener;
    handle.onread = onRead;
  }

  #newReq(): WriteReq {
    const req = new bindings!.WriteWrap();
    req.handle = this.handle;
    req.oncomplete = onWriteDone;
    return req;
  }

  /** write hands one buffer to the kernel (or to libuv, to finish when the socket is writable). */
  write(data: Buffer): void {
    if (this.#closed || this.#ending) return;
    if (this.release !== undefined && this.pending > 0) {
      if (this.#queued + data.length > MAX_QUEUED) {
        this.listener.handleFailed(`more than ${MAX_QUEUED} bytes waiting to be written`, false);
        return;
      }
      this.#queue.push(data);
      this.#queued += data.length;
      return;
    }
    this.#write(data);
  }

  /** writeQueued sends what waited for the write that just completed, in one write. */
  writeQueued(): void {
    if (this.#closed) return;
    if (this.#ending) this.#shutdownWhenWritten();
    else this.#flushQueue();
  }

  #flushQueue(): void {
    if (this.#queue.length === 0) return;
    const chunks = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    this.#write(chunks.length === 1 ? chunks[0]! : chunks);
  }

  #write(data: Buffer | Buffer[]): void {
    const req = this.#req;
    const err = Array.isArray(data)
      ? this.handle.writev(req, data, true)
      : this.handle.writeBuffer(req, data);
    if (err !== 0) {
      this.listener.handleFailed(`write error ${err}`, false);
      return;
    }
    if (bindings!.state[bindings!.kAsync] !== 0) {
      // The request now belongs to this write until it completes; the next write gets a new one.
      req.owner = this;
      req.buffer = data;
      this.pending++;
      this.#req = this.#newReq();
    }
  }

  /**
   * end half-closes after what was written (libuv sends the FIN once the writes queued before
   * it are done), keeps reading and dropping what still comes (the echoes in flight, the
   * server's close frame) until the server's FIN, then closes the handle; at most `graceMs`
   * after the call it closes anyway. Closing with bytes unread would make the kernel answer
   * with a reset instead of a FIN.
   */
  end(graceMs = 1000, gone?: () => void): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#gone = gone;
    this.handle[listenerOf] = { handleRead: () => {}, handleFailed: () => this.close() };
    setTimeout(() => this.close(), graceMs).unref();
    this.#shutdownWhenWritten();
  }

  /**
   * #shutdownWhenWritten sends the FIN: at once on a TCP handle (libuv orders it after the
   * writes in flight), after the queue and the write in flight on a TLSWrap (one at a time).
   */
  #shutdownWhenWritten(): void {
    if (this.#shutdownSent) return;
    if (this.release !== undefined) {
      if (this.pending === 0) this.#flushQueue();
      if (this.pending > 0) return; // onWriteDone calls writeQueued, which comes back here
    }
    this.#shutdownSent = true;
    const req = new bindings!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = () => {};
    if (this.handle.shutdown(req) !== 0) this.close();
  }

  /** close closes the handle now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handle[listenerOf] = undefined;
    this.#queue = [];
    this.#queued = 0;
    this.handle.readStop();
    const gone = this.#gone;
    if (this.release === undefined) this.handle.close(() => gone?.());
    else this.release(() => gone?.());
  }
}

/**
 * adoptBenchHandle takes the TCP handle of a connected plain node:net Socket that has no
 * write waiting, or returns undefined (TLS, a write still queued, no bindings): the caller
 * keeps using the Socket then. The Socket is destroyed without its handle and without
 * telling its listeners, which the caller must have removed.
 */
export function adoptBenchHandle(socket: Socket, listener: HandleListener): BenchHandle | undefined {
  const b = load();
  if (b === undefined) return undefined;
  const net = socket as Socket & { _handle: TcpHandle | null };
  const handle = net._handle;
  if (handle === null || !(handle instanceof b.TCP)) return undefined;
  if (socket.destroyed || socket.connecting || socket.writableLength > 0) return undefined;
  net._handle = null;
  socket.destroy();
  const adopted = new BenchHandle(handle, listener);
  // A Socket adopted in its `connect` event has not started reading yet (node:net starts
  // after the event); one already reading is not affected.
  handle.readStart();
  return adopted;
}

interface TlsInternals {
  _handle: TcpHandle | null;
  _secureEstablished?: boolean;
  ssl?: unknown;
}

/**
 * adoptBenchTls drives the TLSWrap of a client TLSSocket whose TLS handshake is done and
 * which has nothing waiting to be written or read, or returns undefined (then the caller
 * keeps using the socket). The socket stays: it owns the TLS session, reports OpenSSL's
 * errors through its `error` event, and closing the BenchHandle destroys it. From here on
 * its reads come to `listener` instead of its Readable.
 */
export function adoptBenchTls(socket: TLSSocket, listener: HandleListener): BenchHandle | undefined {
  const b = load();
  if (b?.TLSWrap === undefined) return undefined;
  const tls = socket as TLSSocket & TlsInternals;
  const handle = tls._handle;
  if (handle === null || !(handle instanceof b.TLSWrap)) return undefined;
  if (tls._secureEstablished !== true || !tls.ssl || !socket.encrypted) return undefined;
  if (socket.destroyed || socket.connecting || socket.writableLength > 0 || socket.writableEnded)
    return undefined;
  if (socket.readableLength > 0 || socket.readableEnded) return undefined;
  return new BenchHandle(handle, listener, (done) => {
    if (socket.destroyed) setImmediate(done);
    else {
      socket.once('close', done);
      socket.destroy();
    }
  });
}
