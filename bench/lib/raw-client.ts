/**
 * RawClient is one connection of the load generators bench/load.ts and bench/deflate-load.ts:
 * a raw node:net socket, the opening handshake written by hand (none for the `--raw` floor),
 * and a ServerFrameReader that hands the server's messages to the subclass. A connection
 * fails once: `fail(kind, why)` destroys the socket and reports to `lost`.
 *
 * With `handle`, once open the connection drives its socket's handle directly (the libuv TCP
 * handle, or a TLSSocket's TLSWrap), through the same code as `duplex bench`
 * (src/cli/bench-handle.ts, imported as `#bench-handle`): no Readable or Writable per read
 * and write. `DUPLEX_STREAM_IO=1`, or a Node without those internals, keeps the socket.
 */
import net from 'node:net';
import tls from 'node:tls';
import { adoptBenchHandle, adoptBenchTls, type BenchHandle, type HandleListener } from '#bench-handle';
import {
  type MessageSink,
  type ResponseHead,
  responseHead,
  ServerFrameReader,
  upgradeRequest,
} from './frames.js';

/** ERROR_KINDS is how a RawClient connection can fail, in the order the generators report them. */
export const ERROR_KINDS = ['connect', 'handshake', 'protocol', 'mismatch', 'closed'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** noErrors is a fresh count of failures, one per kind. */
export function noErrors(): Record<ErrorKind, number> {
  return { connect: 0, handshake: 0, protocol: 0, mismatch: 0, closed: 0 };
}

/** errorTotal is the number of failures of every kind. */
export function errorTotal(errors: Record<ErrorKind, number>): number {
  let n = 0;
  for (const k of ERROR_KINDS) n += errors[k];
  return n;
}

/** MAX_RESPONSE_HEAD bounds the handshake response a connection buffers before it gives up. */
const MAX_RESPONSE_HEAD = 16384;

export interface RawClientOptions {
  host: string;
  port: number;
  /** Send no handshake: the connection is open once TCP connects (`load --raw`). @default false */
  raw?: boolean;
  /**
   * The Sec-WebSocket-Extensions offer. Without one, a response that names an extension fails
   * the handshake; with one, RSV1 (a compressed message) is allowed on the server's frames.
   */
  offer?: string;
  /** The request's path and query. @default '/' */
  path?: string;
  /** A subprotocol to offer; the server must select it or the handshake fails. */
  protocol?: string;
  /**
   * Read into this buffer (node:net's `onread`) instead of a fresh Buffer per read through the
   * stream machinery: cheaper per read. One buffer may serve every connection of a thread, as
   * each read is handed on (and whatever must outlive it copied) before the next.
   */
  readBuffer?: Buffer;
  /**
   * Connect over TLS (wss): any certificate is accepted, as the generators only connect to
   * 127.x.y.z and the benchmark makes its own certificate. `readBuffer` is not used then.
   * @default false
   */
  tls?: boolean;
  /**
   * Once open, drive the socket's handle instead of the socket (see above); a plain TCP
   * connection needs `readBuffer` for it. @default false
   */
  handle?: boolean;
}

export abstract class RawClient implements MessageSink, HandleListener {
  socket: net.Socket | tls.TLSSocket | undefined;
  /** The socket's handle, driven directly once open (`handle` option). */
  io: BenchHandle | undefined;
  open = false;
  dead = false;
  private head: Buffer | undefined;
  private readonly reader: ServerFrameReader;

  constructor(private readonly target: RawClientOptions) {
    this.reader = new ServerFrameReader(this, { compressed: target.offer !== undefined });
  }

  /** opened: the handshake succeeded (or, raw, TCP connected). */
  protected abstract opened(): void;
  /** lost: the connection failed, before or after it opened. */
  protected abstract lost(wasOpen: boolean, kind: ErrorKind, why: string): void;
  abstract messageStart(opcode: number, rsv1: boolean): void;
  abstract messageData(chunk: Buffer, start: number, end: number): void;
  abstract messageEnd(length: number, wire: number): void;

  /** refuse tells why a 101 response with the offered extension is still not acceptable; undefined if it is. */
  protected refuse(_head: ResponseHead): string | undefined {
    return undefined;
  }

  connect(): void {
    const { host, port, raw, offer, path, protocol, readBuffer } = this.target;
    const onData = (chunk: Buffer): void => (this.open ? this.reader.push(chunk) : this.handshake(chunk));
    const secure = this.target.tls === true;
    const socket = secure
      ? tls.connect({ host, port, rejectUnauthorized: false }).setNoDelay(true)
      : readBuffer
        ? net.connect({
            host,
            port,
            noDelay: true,
            onread: {
              buffer: readBuffer,
              callback: (n: number, buffer: Uint8Array) => {
                onData((buffer as Buffer).subarray(0, n));
                return true;
              },
            },
          })
        : net.connect({ host, port, noDelay: true });
    this.socket = socket;
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      if (raw) {
        this.adopt();
        this.becomeOpen();
      } else socket.write(upgradeRequest(host, port, offer, { path, protocol }));
    });
    if (!readBuffer || secure) socket.on('data', onData);
    this.listen(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('error', (e) => this.fail(this.open ? 'closed' : 'connect', e.message));
    socket.on('close', () => this.fail(this.open ? 'closed' : 'connect', 'connection closed'));
  }

  /**
   * adopt moves an open connection to its handle (`handle` option). A plain Socket is
   * destroyed without its handle, so its listeners go first (back if it cannot be adopted);
   * a TLSSocket stays and keeps them: it reports TLS errors and closes the session.
   */
  private adopt(): void {
    const socket = this.socket;
    if (!this.target.handle || socket === undefined) return;
    if (socket instanceof tls.TLSSocket) {
      this.io = adoptBenchTls(socket, this);
      return;
    }
    if (!this.target.readBuffer) return;
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    this.io = adoptBenchHandle(socket, this);
    if (this.io === undefined) this.listen(socket);
  }

  /** handleRead: `n` bytes arrived, in the read buffer or in `buffer` (a TLS read). */
  handleRead(n: number, buffer?: ArrayBuffer, offset?: number): void {
    if (buffer !== undefined) this.reader.push(Buffer.from(buffer, offset, n));
    else this.reader.push(this.target.readBuffer!, 0, n);
  }

  /** handleFailed: the handle's read or a write failed, or the server ended the connection. */
  handleFailed(why: string): void {
    this.fail('closed', why);
  }

  private handshake(chunk: Buffer): void {
    // A copy: with a shared read buffer, `chunk` is overwritten by the next read.
    this.head = this.head ? Buffer.concat([this.head, chunk]) : Buffer.from(chunk);
    const head = responseHead(this.head);
    if (!head) {
      if (this.head.length > MAX_RESPONSE_HEAD) this.fail('handshake', 'response head too large');
      return;
    }
    const refusal = this.refusal(head);
    if (refusal !== undefined) {
      this.fail('handshake', refusal);
      return;
    }
    this.head = undefined;
    this.adopt();
    this.becomeOpen();
    if (head.rest.length > 0) this.reader.push(head.rest);
  }

  /** refusal is why the handshake fails, undefined when it succeeded. */
  private refusal(head: ResponseHead): string | undefined {
    if (!head.switched) return head.statusLine;
    // RFC 6455 4.1: the server's subprotocol must be one the client offered.
    if (head.protocol !== this.target.protocol) return `subprotocol ${head.protocol ?? 'none'} selected`;
    if (this.target.offer !== undefined) return this.refuse(head);
    // RFC 6455 4.1: the client must fail the connection on an extension it did not ask for.
    return head.extensions === undefined ? undefined : 'unexpected extension';
  }

  private becomeOpen(): void {
    this.open = true;
    this.opened();
  }

  fail(kind: ErrorKind, why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.reader.stop();
    const wasOpen = this.open;
    this.open = false;
    this.destroy();
    this.lost(wasOpen, kind, why);
  }

  /** destroy closes the connection now, without reporting it. */
  destroy(): void {
    if (this.io !== undefined) this.io.close();
    else this.socket?.destroy();
  }

  closeFrame(): void {
    this.fail('closed', 'close frame from the server');
  }

  protocolError(why: string): void {
    this.fail('protocol', why);
  }

  write(data: Buffer): void {
    if (!this.open) return;
    if (this.io !== undefined) this.io.write(data);
    else if (this.socket && !this.socket.destroyed) this.socket.write(data);
  }
}
