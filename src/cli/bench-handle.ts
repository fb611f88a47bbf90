import type { Socket } from 'node:net';

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
 * The library's own client never does this: it needs Node's internal bindings
 * (`process.binding`, DEP0111, printed under `--pending-deprecation`), loaded here on the
 * first adoption in a bench worker, never at import. Where a binding is missing (another
 * Node), or with `DUPLEX_STREAM_IO=1`, the connections stay on the node:net stream path.
 */

interface WriteReq {
  handle: TcpHandle;
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  owner?: BenchHandle | undefined;
  buffer?: Buffer | null;
}

interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: ((this: ShutdownReq, status: number) => void) | null;
}

interface TcpHandle {
  readStop(): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  shutdown(req: ShutdownReq): number;
  close(callback: () => void): void;
  onread: ((this: TcpHandle, buffer: ArrayBuffer | undefined) => unknown) | null;
  [key: symbol]: unknown;
}

interface Bindings {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  TCP: abstract new () => unknown;
  state: Int32Array;
  kRead: number;
  kAsync: number;
}

/** What the handle tells its connection. */
export interface HandleListener {
  /** `n` bytes were read into the thread's read buffer (the one the Socket was opened with). */
  handleRead(n: number): void;
  /** The read or a write failed, or the peer ended the connection (`eof`). */
  handleFailed(why: string, eof: boolean): void;
}

const listenerOf = Symbol('duplex.bench.listener');
/** libuv's UV_EOF, the same on every platform. */
const UV_EOF = -4095;

let bindings: Bindings | undefined;
let loaded = false;

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
    if (
      typeof WriteWrap !== 'function' ||
      typeof ShutdownWrap !== 'function' ||
      typeof TCP !== 'function' ||
      !(state instanceof Int32Array) ||
      typeof kRead !== 'number' ||
      typeof kAsync !== 'number' ||
      !['readStop', 'writeBuffer', 'shutdown', 'close'].every(
        (m) => typeof (TCP.prototype as Record<string, unknown>)[m] === 'function',
      )
    )
      return undefined;
    bindings = {
      WriteWrap: WriteWrap as new () => WriteReq,
      ShutdownWrap: ShutdownWrap as new () => ShutdownReq,
      TCP: TCP as abstract new () => unknown,
      state,
      kRead,
      kAsync,
    };
  } catch {
    bindings = undefined;
  }
  return bindings;
}

function onRead(this: TcpHandle): void {
  const listener = this[listenerOf] as HandleListener | undefined;
  if (listener === undefined || bindings === undefined) return;
  const n = bindings.state[bindings.kRead]!;
  if (n > 0) listener.handleRead(n);
  else if (n === UV_EOF) listener.handleFailed('the server closed the connection', true);
  else if (n < 0) listener.handleFailed(`read error ${n}`, false);
}

function onWriteDone(this: WriteReq, status: number): void {
  const owner = this.owner;
  this.owner = undefined;
  this.buffer = null;
  if (owner === undefined) return;
  owner.pending--;
  if (status < 0) owner.listener.handleFailed(`write error ${status}`, false);
}

/**
 * BenchHandle is one bench connection's TCP handle after the handshake. Writes never queue
 * in JavaScript: libuv keeps the order of a write that had to wait and those after it.
 */
export class BenchHandle {
  /** Writes handed to libuv that the kernel has not taken yet. */
  pending = 0;
  #req: WriteReq;
  #closed = false;
  #ending = false;
  #gone: (() => void) | undefined;

  constructor(
    readonly handle: TcpHandle,
    readonly listener: HandleListener,
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
    const req = this.#req;
    const err = this.handle.writeBuffer(req, data);
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
    const req = new bindings!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = () => {};
    if (this.handle.shutdown(req) !== 0) {
      this.close();
      return;
    }
    setTimeout(() => this.close(), graceMs).unref();
  }

  /** close closes the handle now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handle[listenerOf] = undefined;
    this.handle.readStop();
    const gone = this.#gone;
    this.handle.close(() => gone?.());
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
  return new BenchHandle(handle, listener);
}
