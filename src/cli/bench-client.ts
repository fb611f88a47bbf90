import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { clientRequestHeaders, generateKey, mask, validateServerResponse } from '../protocol/index.js';
import { adoptBenchHandle, type BenchHandle, type HandleListener } from './bench-handle.js';

/** BenchTarget is where and how the bench connections connect. */
export interface BenchTarget {
  url: string;
  headers: Record<string, string>;
  protocols: string[];
  ca: string[];
  insecure: boolean;
  handshakeTimeoutMs: number;
}

/** ErrorKind sorts the errors a run counts. */
export type ErrorKind = 'connect' | 'handshake' | 'closed' | 'mismatch';
export const ERROR_KINDS: ErrorKind[] = ['connect', 'handshake', 'closed', 'mismatch'];

/** READ_BUFFER_SIZE is the size of the buffer plain TCP connections read into. */
const READ_BUFFER_SIZE = 64 * 1024;
let sharedReadBuffer: Buffer | undefined;

/**
 * readBuffer is the one buffer every plain TCP connection of this thread reads into: each read
 * is handled before the next one overwrites it (the frame reader only counts payload bytes and
 * copies what it keeps: the response head, control frames).
 */
function readBuffer(): Buffer {
  sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_SIZE);
  return sharedReadBuffer;
}

/** Largest response head accepted from the server. */
const MAX_HEAD = 64 * 1024;

/**
 * clientFrame builds one masked client frame (RFC 6455 5.2) with a random masking key.
 * The load generator cycles a small pool of them: the server unmasks every frame the same
 * way whatever the key, so a fresh key per message would cost the client, not the server.
 */
export function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extended + 4 + length);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (extended === 0) frame[1] = 0x80 | length;
  else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const key = randomBytes(4);
  key.copy(frame, 2 + extended);
  mask(payload, key, frame, 6 + extended);
  return frame;
}

/** BenchHandler is told what happens on one bench connection. */
export interface BenchHandler {
  opened(conn: BenchConnection): void;
  /** A whole data message arrived: its opcode (1 text, 2 binary) and payload length. */
  message(conn: BenchConnection, opcode: number, length: number): void;
  /** The connection failed or ended; `wasOpen` tells whether the handshake had completed. */
  lost(conn: BenchConnection, wasOpen: boolean, kind: ErrorKind, why: string): void;
}

/**
 * BenchConnection is one load-generating WebSocket client on a raw socket: the opening
 * handshake is built and checked by the protocol core, frames are written pre-masked, and
 * the reader only counts the bytes of the server's frames (it never copies a payload), so
 * that the client stays far cheaper per message than the server it measures. On plain TCP,
 * after the handshake, the connection drives the socket's handle itself (bench-handle.ts).
 */
export class BenchConnection implements HandleListener {
  socket: Socket | undefined;
  /** The socket's TCP handle, taken after the handshake on plain TCP; writes go there then. */
  #handle: BenchHandle | undefined;
  open = false;
  /** Send times (performance.now(), or the time a message was due) of the messages in flight, oldest first. */
  readonly sent: number[] = [];
  /** Open loop: when this connection's next message is due. */
  nextDue = 0;
  /** Position among all the run's connections (spreads the open-loop schedules). */
  index = 0;
  /** wss: (TLS keeps the stream path). */
  secure = false;
  #ended = false;
  #head: Buffer | undefined = Buffer.alloc(0);
  #key = '';
  // The frame being read: header bytes gathered so far, then payload bytes left.
  #header = Buffer.alloc(14);
  #headerLen = 0;
  #need = 2;
  #left = -1;
  #opcode = 0;
  #fin = false;
  #masked = false;
  /** Payload length of the frame being read. */
  #length = 0;
  #control: Buffer[] = [];
  // The message being reassembled (only its opcode and length).
  #msgOpcode = 0;
  #msgLength = 0;

  constructor(
    readonly target: BenchTarget,
    readonly handler: BenchHandler,
  ) {}

  connect(): void {
    const url = new URL(this.target.url);
    const secure = url.protocol === 'wss:';
    this.secure = secure;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || (secure ? 443 : 80));
    const timer = setTimeout(
      () => this.fail('handshake', `no handshake within ${this.target.handshakeTimeoutMs} ms`),
      this.target.handshakeTimeoutMs,
    );
    // A chunk may be the thread's shared read buffer: whatever must outlive the call is copied.
    const onData = (chunk: Buffer, end = chunk.length): void => {
      if (this.#head) {
        clearTimeout(timer);
        this.#handshake(chunk.subarray(0, end));
      } else this.#read(chunk, 0, end);
    };
    const socket = secure
      ? tlsConnect({
          host,
          port,
          servername: /^[\d.]+$|:/.test(host) ? undefined : host,
          ca: this.target.ca.length > 0 ? this.target.ca : undefined,
          rejectUnauthorized: !this.target.insecure,
        })
      : netConnect({
          host,
          port,
          // Plain TCP reads into one buffer per thread (node:net's onread): no Buffer and no
          // stream bookkeeping per read, so the tool stays cheap per message beside the server.
          onread: {
            buffer: readBuffer(),
            // No subarray per read: the reader is told where the bytes end.
            callback: (n: number, buffer: Uint8Array) => {
              onData(buffer as Buffer, n);
              return true;
            },
          },
        });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      this.#key = generateKey();
      const headers = clientRequestHeaders({
        key: this.#key,
        protocols: this.target.protocols,
        headers: { Host: url.host, ...this.target.headers },
      });
      let request = `GET ${url.pathname}${url.search} HTTP/1.1\r\n`;
      for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
      socket.write(`${request}\r\n`);
    });
    if (secure) socket.on('data', onData);
    this.#timer = timer;
    this.#listen(socket);
  }

  #timer: ReturnType<typeof setTimeout> | undefined;

  #listen(socket: Socket): void {
    socket.on('error', (error) => {
      clearTimeout(this.#timer);
      this.fail(this.open ? 'closed' : this.#head ? 'connect' : 'handshake', error.message);
    });
    socket.on('close', () => {
      clearTimeout(this.#timer);
      this.fail(this.open ? 'closed' : 'handshake', 'the server closed the connection');
    });
  }

  #handshake(chunk: Buffer): void {
    const head = Buffer.concat([this.#head!, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > MAX_HEAD) this.fail('handshake', 'oversized response head');
      else this.#head = head;
      return;
    }
    this.#head = undefined;
    const lines = head.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    try {
      validateServerResponse(
        { statusCode: status ? Number(status[1]) : 0, headers },
        { key: this.#key, protocols: this.target.protocols, extensionsOffered: [] },
      );
    } catch (error) {
      this.fail('handshake', (error as Error).message);
      return;
    }
    this.open = true;
    this.#adopt();
    this.handler.opened(this);
    if (end + 4 < head.length) this.#read(head, end + 4, head.length);
  }

  /** #adopt moves a plain TCP connection to its handle (bench-handle.ts); TLS keeps its socket. */
  #adopt(): void {
    const socket = this.socket;
    if (socket === undefined || this.secure) return;
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    const handle = adoptBenchHandle(socket, this);
    if (handle === undefined) {
      this.#listen(socket);
      return;
    }
    this.#handle = handle;
  }

  /** handleRead: `n` bytes arrived in the thread's read buffer (bench-handle.ts). */
  handleRead(n: number): void {
    this.#read(readBuffer(), 0, n);
  }

  /** handleFailed: the handle's read or write failed, or the server ended the connection. */
  handleFailed(why: string): void {
    this.fail('closed', why);
  }

  /** #read counts the bytes of server frames in `chunk` from `start` to `n`. */
  #read(chunk: Buffer, start: number, n: number): void {
    let i = start;
    while (i < n && !this.#ended) {
      if (this.#left < 0 && this.#headerLen === 0 && n - i >= 4) {
        // Fast path, the usual case: a whole unmasked header with at most a 16-bit length in
        // this read, decoded where it lies (no copy into #header).
        const b1 = chunk[i + 1]!;
        let len = b1 & 0x7f;
        if (len <= 126 && (b1 & 0x80) === 0) {
          const b0 = chunk[i]!;
          this.#fin = (b0 & 0x80) !== 0;
          this.#opcode = b0 & 0x0f;
          if (len === 126) {
            len = (chunk[i + 2]! << 8) | chunk[i + 3]!;
            i += 4;
          } else i += 2;
          this.#length = len;
          this.#left = len;
          if (len > 0) continue;
        }
      }
      if (this.#left < 0) {
        const take = Math.min(this.#need - this.#headerLen, n - i);
        chunk.copy(this.#header, this.#headerLen, i, i + take);
        this.#headerLen += take;
        i += take;
        if (this.#headerLen < this.#need) return;
        if (!this.#parseHeader()) continue; // an extended length follows, or the frame failed
        if (this.#left > 0) continue;
      }
      const take = Math.min(this.#left, n - i);
      if (this.#opcode >= 8) this.#control.push(Buffer.from(chunk.subarray(i, i + take)));
      this.#left -= take;
      i += take;
      if (this.#left === 0) this.#frameDone();
    }
  }

  /** #parseHeader decodes the frame header gathered so far; false when more bytes are needed or it failed. */
  #parseHeader(): boolean {
    const h = this.#header;
    if (this.#need === 2) {
      this.#fin = (h[0]! & 0x80) !== 0;
      this.#opcode = h[0]! & 0x0f;
      this.#masked = (h[1]! & 0x80) !== 0;
      const len = h[1]! & 0x7f;
      if (this.#masked) {
        this.fail('mismatch', 'the server sent a masked frame');
        return false;
      }
      if (len === 126) this.#need = 4;
      else if (len === 127) this.#need = 10;
      else {
        this.#left = len;
        this.#length = len;
        return true;
      }
      return false;
    }
    this.#left = this.#need === 4 ? h.readUInt16BE(2) : Number(h.readBigUInt64BE(2));
    this.#length = this.#left;
    return true;
  }

  #frameDone(): void {
    const opcode = this.#opcode;
    const length = this.#length;
    this.#headerLen = 0;
    this.#need = 2;
    this.#left = -1;
    if (opcode >= 8) {
      const payload = Buffer.concat(this.#control);
      this.#control = [];
      if (opcode === 9) this.write(clientFrame(0x0a, payload));
      else if (opcode === 8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.fail('closed', `the server closed with ${code} ${payload.toString('utf8', 2)}`.trim());
      }
      return;
    }
    if (opcode !== 0) {
      this.#msgOpcode = opcode;
      this.#msgLength = 0;
    }
    this.#msgLength += length;
    if (this.#fin) this.handler.message(this, this.#msgOpcode, this.#msgLength);
  }

  write(data: Buffer): void {
    if (this.#handle !== undefined) this.#handle.write(data);
    else this.socket?.write(data);
  }

  /** fail ends the connection and reports it once. */
  fail(kind: ErrorKind, why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const wasOpen = this.open;
    this.open = false;
    if (this.#handle !== undefined) this.#handle.close();
    else this.socket?.destroy();
    this.handler.lost(this, wasOpen, kind, why);
  }

  /**
   * close sends a close frame with 1000 and half-closes, without reporting an error; `gone`
   * is called once the connection is closed (the server answered, or at most 1 s later).
   */
  close(gone: () => void = () => {}): void {
    if (this.#ended) {
      gone();
      return;
    }
    this.#ended = true;
    this.open = false;
    const handle = this.#handle;
    if (handle !== undefined) {
      handle.write(clientFrame(0x08, Buffer.from([0x03, 0xe8])));
      handle.end(1000, gone);
      return;
    }
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      gone();
      return;
    }
    socket.once('close', gone);
    socket.end(clientFrame(0x08, Buffer.from([0x03, 0xe8])));
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
