/**
 * raw-client is a WebSocket client for tests that shares no code with Duplex: it writes the
 * opening handshake by hand, builds frames byte by byte with its own small encoder, sends
 * exact bytes with any chunking, and parses what comes back with its own small decoder.
 *
 * The same byte-level tools serve test/helpers/fake-server.ts: `FrameSocket` wraps any
 * `net.Socket` (a client's or an accepted one) with deadline-bounded reads.
 *
 * Stable API (other suites import it):
 * - `encodeFrame(spec)`, `decodeFrame(buf)`, `Op`, `closePayload(code, reason)`, `computeAccept(key)`
 * - `connectRaw(port, options)`: handshake done, returns a `RawClient`
 * - `openTcp(port)`: a bare `FrameSocket` for hand-written handshakes (`readHead()`)
 * - `FrameSocket`: `send`, `sendFrames`, `sendChunked`, `readFrame`, `readClose`, `readHead`,
 *   `readBytes`, `waitForTcpClose`, `end`, `destroy`.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

/** GUID is the fixed string of RFC 6455 section 1.3 appended to Sec-WebSocket-Key. */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Op names the opcodes of RFC 6455 section 5.2. */
export const Op = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** DEFAULT_TIMEOUT_MS bounds every read when the caller gives no deadline. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** computeAccept is base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2. */
export function computeAccept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** FrameSpec describes one frame to encode; every field can be set to a value a peer must reject. */
export interface FrameSpec {
  opcode: number;
  /** Payload, unmasked. A string is encoded as UTF-8. @default empty */
  payload?: Buffer | Uint8Array | string;
  /** FIN bit. @default true */
  fin?: boolean;
  /** RSV bits as they sit in the first header byte: 0x40 RSV1, 0x20 RSV2, 0x10 RSV3. @default 0 */
  rsv?: number;
  /** Mask the frame: true = a fresh random key, a Buffer = that 4-byte key, false = unmasked. @default true */
  mask?: boolean | Buffer;
  /** Length encoding to use: 7, 16 or 64 bits. @default the shortest form */
  lengthBits?: 7 | 16 | 64;
  /** Length to write in the header instead of the payload's real length (for lying headers). */
  declaredLength?: number | bigint;
}

function toBuffer(data: Buffer | Uint8Array | string | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** maskBytes XORs `data` with the 4-byte `key` into a new buffer (RFC 6455 section 5.3). */
export function maskBytes(data: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  const n = data.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    out[i] = data[i]! ^ k0;
    out[i + 1] = data[i + 1]! ^ k1;
    out[i + 2] = data[i + 2]! ^ k2;
    out[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < n; i++) out[i] = data[i]! ^ key[i & 3]!;
  return out;
}

function shortestLengthBits(length: number): 7 | 16 | 64 {
  if (length <= 125) return 7;
  if (length <= 0xffff) return 16;
  return 64;
}

/** headerSize is the size of a frame header for a payload length and masking. */
export function headerSize(length: number, masked: boolean, lengthBits = shortestLengthBits(length)): number {
  const base = lengthBits === 7 ? 2 : lengthBits === 16 ? 4 : 10;
  return base + (masked ? 4 : 0);
}

/** encodeFrame builds the exact bytes of one frame. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = toBuffer(spec.payload);
  const fin = spec.fin ?? true;
  const rsv = spec.rsv ?? 0;
  const maskOpt = spec.mask ?? true;
  const key = maskOpt === false ? undefined : maskOpt === true ? randomBytes(4) : maskOpt;
  if (key !== undefined && key.length !== 4) throw new Error('mask key must be 4 bytes');
  const declared = spec.declaredLength ?? payload.length;
  const lengthBits = spec.lengthBits ?? shortestLengthBits(Number(declared));
  const hsize = headerSize(0, key !== undefined, lengthBits);
  const out = Buffer.allocUnsafe(hsize + payload.length);
  out[0] = (fin ? 0x80 : 0) | (rsv & 0x70) | (spec.opcode & 0x0f);
  const maskBit = key !== undefined ? 0x80 : 0;
  let offset: number;
  if (lengthBits === 7) {
    out[1] = maskBit | (Number(declared) & 0x7f);
    offset = 2;
  } else if (lengthBits === 16) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(Number(declared) & 0xffff, 2);
    offset = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeBigUInt64BE(BigInt(declared), 2);
    offset = 10;
  }
  if (key !== undefined) {
    key.copy(out, offset);
    offset += 4;
    maskBytes(payload, key).copy(out, offset);
  } else {
    payload.copy(out, offset);
  }
  return out;
}

/** encodeFrames concatenates several frames into one buffer (one TCP write). */
export function encodeFrames(specs: FrameSpec[]): Buffer {
  return Buffer.concat(specs.map(encodeFrame));
}

/** serverFrame is the exact frame a server sends: unmasked, shortest length (RFC 6455 5.1, 5.2). */
export function serverFrame(opcode: number, payload?: Buffer | Uint8Array | string, fin = true): Buffer {
  return encodeFrame({ opcode, payload, fin, mask: false });
}

/** closePayload is the body of a close frame: a 2-byte code and a UTF-8 reason (RFC 6455 5.5.1). */
export function closePayload(code: number, reason: string | Buffer = ''): Buffer {
  const r = toBuffer(reason);
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** Frame is one decoded frame; `payload` is unmasked, `raw` is the frame's exact bytes on the wire. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | undefined;
  /** Length as written in the header, and how it was written (7, 16 or 64 bits). */
  length: number;
  lengthBits: 7 | 16 | 64;
  payload: Buffer;
  raw: Buffer;
}

/**
 * parseHeader reads a frame header from the first bytes of `buf`: returns undefined when
 * more bytes are needed, or the header size and payload length.
 */
export function parseHeader(
  buf: Buffer,
): { headerSize: number; length: number; lengthBits: 7 | 16 | 64; masked: boolean } | undefined {
  if (buf.length < 2) return undefined;
  const b1 = buf[1]!;
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  let offset = 2;
  let length: number;
  let lengthBits: 7 | 16 | 64 = 7;
  if (len7 === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    offset = 4;
    lengthBits = 16;
  } else if (len7 === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`frame length ${big} is too large to decode`);
    length = Number(big);
    offset = 10;
    lengthBits = 64;
  } else {
    length = len7;
  }
  if (masked) offset += 4;
  if (buf.length < offset) return undefined;
  return { headerSize: offset, length, lengthBits, masked };
}

/** decodeFrame decodes one frame at the start of `buf`, or returns undefined when it is incomplete. */
export function decodeFrame(buf: Buffer): { frame: Frame; size: number } | undefined {
  const h = parseHeader(buf);
  if (h === undefined) return undefined;
  const size = h.headerSize + h.length;
  if (buf.length < size) return undefined;
  const b0 = buf[0]!;
  const maskKey = h.masked ? buf.subarray(h.headerSize - 4, h.headerSize) : undefined;
  const body = buf.subarray(h.headerSize, size);
  const frame: Frame = {
    fin: (b0 & 0x80) !== 0,
    rsv: b0 & 0x70,
    opcode: b0 & 0x0f,
    masked: h.masked,
    maskKey,
    length: h.length,
    lengthBits: h.lengthBits,
    payload: maskKey !== undefined ? maskBytes(body, maskKey) : body,
    raw: buf.subarray(0, size),
  };
  return { frame, size };
}

/** describeFrame is a short human description of a frame for assertion messages. */
export function describeFrame(f: Frame): string {
  const head = f.raw.subarray(0, Math.min(f.raw.length, 14)).toString('hex');
  let extra = '';
  if (f.opcode === Op.CLOSE && f.payload.length >= 2) {
    extra = ` code=${f.payload.readUInt16BE(0)} reason=${JSON.stringify(f.payload.subarray(2).toString())}`;
  }
  return `frame{fin=${f.fin} rsv=${f.rsv} op=${f.opcode} masked=${f.masked} len=${f.length}${extra} head=${head}}`;
}

/** HttpHead is a parsed HTTP response or request head. */
export interface HttpHead {
  /** The first line, e.g. `HTTP/1.1 101 Switching Protocols` or `GET / HTTP/1.1`. */
  startLine: string;
  /** Status code for responses, NaN for requests. */
  status: number;
  /** Header fields with lower-case names; repeated fields joined with ', '. */
  headers: Record<string, string>;
  raw: string;
}

function parseHead(raw: string): HttpHead {
  const lines = raw.split('\r\n');
  const startLine = lines[0] ?? '';
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(startLine);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { startLine, status: m ? Number(m[1]) : Number.NaN, headers, raw };
}

/** CloseResult is what `readClose` found: the close frame and anything that came before it. */
export interface CloseResult {
  /** Status code, or undefined for an empty close payload. */
  code: number | undefined;
  reason: Buffer;
  frame: Frame;
  /** Frames received before the close frame. */
  before: Frame[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * FrameSocket wraps a connected `net.Socket` with buffered, deadline-bounded reads of HTTP
 * heads, raw bytes and frames, and write helpers that never throw when the peer has already
 * gone (a peer failing the connection may close TCP while we are still writing).
 */
export class FrameSocket {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private finReceived = false;
  private closed = false;
  /** The last socket error (ECONNRESET, EPIPE ...), if any. */
  error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket, initial?: Buffer) {
    this.socket = socket;
    if (initial !== undefined && initial.length > 0) this.push(initial);
    socket.on('data', (chunk: Buffer) => {
      this.push(chunk);
      this.notify();
    });
    socket.on('end', () => {
      this.finReceived = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.notify();
    });
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** tcpClosed is true once the peer sent FIN or the socket closed (reset included). */
  get tcpClosed(): boolean {
    return this.finReceived || this.closed;
  }

  /** bufferedBytes is how many received bytes are not consumed yet. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Waits until `ready()` is true, the deadline passes (rejects), or the socket closes (returns false). */
  private async waitFor(ready: () => boolean, deadline: number, what: string): Promise<boolean> {
    for (;;) {
      if (ready()) return true;
      if (this.tcpClosed) return ready();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; buffered ${this.buffered} bytes: ${this.peekHex(32)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** peekHex shows the first `n` unconsumed bytes as hex (for messages). */
  peekHex(n: number): string {
    return this.peek(Math.min(n, this.buffered)).toString('hex');
  }

  private peek(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
    return Buffer.concat(parts, got).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const want = n - got;
      if (c.length <= want) {
        c.copy(out, got);
        got += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, got, 0, want);
        this.chunks[0] = c.subarray(want);
        got += want;
      }
    }
    this.buffered -= n;
    return out;
  }

  /** readBytes returns exactly `n` bytes, or rejects at the deadline or when TCP closes first. */
  async readBytes(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const ok = await this.waitFor(() => this.buffered >= n, Date.now() + timeoutMs, `${n} bytes`);
    if (!ok) throw new Error(`connection closed after ${this.buffered} of ${n} bytes: ${this.peekHex(32)}`);
    return this.take(n);
  }

  /** readHead reads an HTTP head up to and including the blank line; later bytes stay buffered. */
  async readHead(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<HttpHead> {
    let end = -1;
    const find = () => {
      const all = this.peek(this.buffered);
      end = all.indexOf('\r\n\r\n');
      return end >= 0;
    };
    const ok = await this.waitFor(find, Date.now() + timeoutMs, 'an HTTP head');
    if (!ok) {
      throw new Error(
        `connection closed before an HTTP head; got: ${JSON.stringify(this.peek(this.buffered).toString())}`,
      );
    }
    const raw = this.take(end + 4).toString('latin1');
    return parseHead(raw.slice(0, -4));
  }

  /** readFrame reads one frame, or rejects at the deadline or when TCP closes before a whole frame. */
  async readFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    let size = -1;
    const complete = () => {
      if (size < 0) {
        const h = parseHeader(this.peek(Math.min(14, this.buffered)));
        if (h === undefined) return false;
        size = h.headerSize + h.length;
      }
      return this.buffered >= size;
    };
    const ok = await this.waitFor(complete, deadline, 'a frame');
    if (!ok) {
      throw new Error(
        `connection closed (${this.error?.message ?? 'FIN'}) before a complete frame; ` +
          `buffered ${this.buffered} bytes: ${this.peekHex(32)}`,
      );
    }
    const bytes = this.take(size);
    const decoded = decodeFrame(bytes);
    if (decoded === undefined) throw new Error('internal: frame incomplete after wait');
    return decoded.frame;
  }

  /** readFrames reads `n` frames in order. */
  async readFrames(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    const out: Frame[] = [];
    for (let i = 0; i < n; i++) out.push(await this.readFrame(Math.max(1, deadline - Date.now())));
    return out;
  }

  /**
   * readClose reads frames until a close frame and returns it with the frames before it.
   * Rejects at the deadline, or when TCP closes without a close frame.
   */
  async readClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseResult> {
    const deadline = Date.now() + timeoutMs;
    const before: Frame[] = [];
    for (;;) {
      let frame: Frame;
      try {
        frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (err) {
        const seen = before.map(describeFrame).join(', ');
        throw new Error(`no close frame: ${(err as Error).message}; frames before: [${seen}]`);
      }
      if (frame.opcode === Op.CLOSE) {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
        const reason = frame.payload.length >= 2 ? frame.payload.subarray(2) : Buffer.alloc(0);
        return { code, reason, frame, before };
      }
      before.push(frame);
    }
  }

  /**
   * waitForTcpClose resolves when the peer ends TCP (FIN or reset): 'fin' when it sent FIN,
   * 'closed' when the socket is closed or reset. Rejects at the deadline.
   */
  async waitForTcpClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<'fin' | 'closed'> {
    await this.waitFor(() => this.tcpClosed, Date.now() + timeoutMs, 'the peer to close TCP');
    return this.finReceived ? 'fin' : 'closed';
  }

  /**
   * staysOpen watches for `ms` and tells whether the peer kept TCP open and sent nothing
   * meanwhile (for checks like "the client waits for the server to close TCP").
   */
  async staysOpen(ms: number): Promise<boolean> {
    const before = this.buffered;
    await sleep(ms);
    return !this.tcpClosed && this.buffered === before;
  }

  /** send writes bytes in one write and resolves when they are flushed or the socket failed. */
  send(bytes: Buffer | Uint8Array): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.write(bytes, () => resolve());
    });
  }

  /** sendFrames encodes frames and writes them in one TCP write. */
  sendFrames(...specs: FrameSpec[]): Promise<void> {
    return this.send(encodeFrames(specs));
  }

  /**
   * sendChunked writes `bytes` in slices of `chunkSize`, each its own write. With `delayMs`
   * it waits that long after each write (Nagle is off, so each slice leaves as its own
   * segment); without it, it only waits for 'drain' when the socket asks to.
   */
  async sendChunked(bytes: Buffer, chunkSize: number, delayMs = 0): Promise<void> {
    for (let i = 0; i < bytes.length; i += chunkSize) {
      if (this.socket.destroyed || !this.socket.writable) return;
      const ok = this.socket.write(bytes.subarray(i, i + chunkSize));
      if (delayMs > 0) await sleep(delayMs);
      else if (!ok) await this.drain();
    }
    await this.send(Buffer.alloc(0));
  }

  /** sendParts writes each buffer as its own write, waiting `delayMs` between writes. */
  async sendParts(parts: Buffer[], delayMs = 5): Promise<void> {
    for (let i = 0; i < parts.length; i++) {
      if (this.socket.destroyed || !this.socket.writable) return;
      await this.send(parts[i]!);
      if (delayMs > 0 && i < parts.length - 1) await sleep(delayMs);
    }
  }

  private drain(): Promise<void> {
    return drainOrClose(this.socket);
  }

  /** end sends FIN. */
  end(): void {
    this.socket.end();
  }

  /** destroy closes the socket at once (idempotent); use it in `finally`/`after` blocks. */
  destroy(): void {
    this.socket.destroy();
  }
}

function connectSocket(port: number, host: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ port, host });
    const t = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting to ${host}:${port}`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(t);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** openTcp connects a bare TCP socket (no handshake) to host:port with Nagle off. */
export async function openTcp(
  port: number,
  host = '127.0.0.1',
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<FrameSocket> {
  return new FrameSocket(await connectSocket(port, host, timeoutMs));
}

/** ConnectOptions shapes the hand-written opening handshake. */
export interface ConnectOptions {
  host?: string;
  /** Request target. @default '/' */
  path?: string;
  /** Subprotocols to offer in Sec-WebSocket-Protocol. */
  protocols?: string[];
  /** Raw Sec-WebSocket-Extensions value to offer. @default none (so no RSV bit is ever negotiated) */
  extensions?: string;
  /** Extra request header lines. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** RawClient is a FrameSocket after a successful opening handshake. */
export class RawClient extends FrameSocket {
  /** The server's 101 response head. */
  response!: HttpHead;
  /** The Sec-WebSocket-Key this client sent. */
  key!: string;
}

/** drainOrClose resolves on the socket's next `drain` or `close`, leaving no listener behind. */
export function drainOrClose(socket: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** upgradeRequest is a minimal opening handshake request for `host` (host:port), with a fresh key. */
export function upgradeRequest(host: string, path = '/'): string {
  const key = randomBytes(16).toString('base64');
  return [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
}

/**
 * connectRaw opens TCP to 127.0.0.1:port, sends the opening handshake of RFC 6455 4.1 by
 * hand, and checks the 101 response and its Sec-WebSocket-Accept. Bytes after the response
 * head stay buffered for `readFrame`.
 */
export async function connectRaw(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new RawClient(await connectSocket(port, host, timeoutMs));
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    `Host: ${host}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (options.protocols !== undefined && options.protocols.length > 0) {
    lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(', ')}`);
  }
  if (options.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  await client.send(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
  let head: HttpHead;
  try {
    head = await client.readHead(timeoutMs);
  } catch (err) {
    client.destroy();
    throw err;
  }
  const fail = (why: string) => {
    client.destroy();
    return new Error(`handshake failed: ${why}\n${head.raw}`);
  };
  if (head.status !== 101) throw fail(`status ${head.status}`);
  if (head.headers['upgrade']?.toLowerCase() !== 'websocket') throw fail('no Upgrade: websocket');
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(head.headers['connection'] ?? ''))
    throw fail('no Connection: Upgrade');
  if (head.headers['sec-websocket-accept'] !== computeAccept(key)) throw fail('wrong Sec-WebSocket-Accept');
  client.response = head;
  client.key = key;
  return client;
}
