/**
 * peer is the raw TCP client of the hostile-input tests. It shares no code with Duplex: it
 * writes exact bytes, reads an HTTP response head or frames with a deadline, and records
 * when and how the server ended the TCP connection. Every wait is bounded.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

/** LOOPBACK is the only address these tests talk to. */
export const LOOPBACK = '127.0.0.1';
/** A fixed valid Sec-WebSocket-Key (16 bytes in base64), the sample of RFC 6455 4.1. */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** acceptFor is base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** within resolves to the promise's value, or to undefined after `ms`; it leaves no timer behind. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** ResponseHead is a parsed HTTP response head. */
export interface ResponseHead {
  statusLine: string;
  status: number;
  /** Lower-case names; repeated fields joined with ', '. */
  headers: Record<string, string>;
  raw: string;
}

/** Frame is one frame the server sent. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Peer is one raw TCP connection to the server under test. */
export class Peer {
  readonly socket: net.Socket;
  readonly openedAt = Date.now();
  /** When the server's FIN or reset (or our own destroy) ended the socket; undefined while open. */
  endedAt: number | undefined;
  /** The last socket error, e.g. ECONNRESET or EPIPE. */
  error: NodeJS.ErrnoException | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#notify();
    });
    const ended = () => {
      this.endedAt ??= Date.now();
      this.#notify();
    };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', (err) => {
      this.error = err;
      ended();
    });
  }

  /** connect opens TCP to 127.0.0.1:port with Nagle off. */
  static connect(port: number, timeoutMs = 5_000): Promise<Peer> {
    return new Promise<Peer>((resolve, reject) => {
      const socket = net.connect({ port, host: LOOPBACK });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`timed out connecting to ${LOOPBACK}:${port}`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new Peer(socket));
      });
    });
  }

  /** ended is true once the server closed (FIN or reset) the connection. */
  get ended(): boolean {
    return this.endedAt !== undefined;
  }

  /** received is every byte received and not consumed yet. */
  get received(): Buffer {
    return this.#buffer;
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** waitFor resolves true when `ready()` holds, false when TCP ended first; rejects at the deadline. */
  async waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (ready()) return true;
      if (this.ended) return ready();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; received ${JSON.stringify(this.#buffer.subarray(0, 200).toString('latin1'))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** write sends bytes; it never throws when the server already closed the connection. */
  write(bytes: Buffer | string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, () => resolve());
    });
  }

  /**
   * readHead reads an HTTP response head; undefined when the server closed the connection
   * before a whole head arrived (then `received` holds what came).
   */
  async readHead(timeoutMs = 5_000): Promise<ResponseHead | undefined> {
    const found = await this.waitFor(() => this.#buffer.includes('\r\n\r\n'), timeoutMs, 'an HTTP head');
    if (!found) return undefined;
    const end = this.#buffer.indexOf('\r\n\r\n');
    const raw = this.#buffer.subarray(0, end).toString('latin1');
    this.#buffer = this.#buffer.subarray(end + 4);
    const lines = raw.split('\r\n');
    const statusLine = lines[0] ?? '';
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    return { statusLine, status: m ? Number(m[1]) : Number.NaN, headers, raw };
  }

  /** readFrame reads one whole frame; rejects at the deadline or when TCP ends first. */
  async readFrame(timeoutMs = 5_000): Promise<Frame> {
    let size = -1;
    let offset = 0;
    const complete = () => {
      const b = this.#buffer;
      if (size < 0) {
        if (b.length < 2) return false;
        const len7 = b[1]! & 0x7f;
        offset = (len7 === 126 ? 4 : len7 === 127 ? 10 : 2) + (b[1]! & 0x80 ? 4 : 0);
        if (b.length < offset) return false;
        const length = len7 === 126 ? b.readUInt16BE(2) : len7 === 127 ? Number(b.readBigUInt64BE(2)) : len7;
        size = offset + length;
      }
      return b.length >= size;
    };
    const ok = await this.waitFor(complete, timeoutMs, 'a frame');
    if (!ok) {
      throw new Error(
        `connection ended (${this.error?.code ?? 'FIN'}) before a whole frame; got ${this.#buffer.subarray(0, 32).toString('hex')}`,
      );
    }
    const b = this.#buffer;
    this.#buffer = b.subarray(size);
    const masked = (b[1]! & 0x80) !== 0;
    let payload: Buffer = Buffer.from(b.subarray(offset, size));
    if (masked) payload = maskBytes(payload, b.subarray(offset - 4, offset));
    return { fin: (b[0]! & 0x80) !== 0, rsv: b[0]! & 0x70, opcode: b[0]! & 0x0f, masked, payload };
  }

  /** readClose reads frames until a close frame and returns its code (undefined for an empty body). */
  async readClose(timeoutMs = 5_000): Promise<{ code: number | undefined; reason: string; before: Frame[] }> {
    const deadline = Date.now() + timeoutMs;
    const before: Frame[] = [];
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === 0x8) {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
        return { code, reason: frame.payload.subarray(2).toString('utf8'), before };
      }
      before.push(frame);
    }
  }

  /** waitEnded resolves true once the server ended TCP, false when `timeoutMs` passed first. */
  async waitEnded(timeoutMs: number): Promise<boolean> {
    try {
      await this.waitFor(() => this.ended, timeoutMs, 'the server to end TCP');
      return true;
    } catch {
      return false;
    }
  }

  /** destroy closes our side at once; safe to call twice. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** maskBytes XORs data with a 4-byte key (RFC 6455 5.3). */
export function maskBytes(data: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[i & 3]!;
  return out;
}

/** clientFrame builds a masked client frame; `declaredLength` lets the header lie about the payload. */
export function clientFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  opts: { fin?: boolean; declaredLength?: bigint } = {},
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const length = opts.declaredLength ?? BigInt(body.length);
  const key = randomBytes(4);
  let header: Buffer;
  if (length <= 125n) {
    header = Buffer.from([0, 0x80 | Number(length)]);
  } else if (length <= 0xffffn) {
    header = Buffer.alloc(4);
    header[1] = 0x80 | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(length, 2);
  }
  header[0] = (opts.fin === false ? 0 : 0x80) | opcode;
  return Buffer.concat([header, key, maskBytes(body, key)]);
}

/** closeBody is a close frame payload: 2-byte code then the reason. */
export function closeBody(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/**
 * handshakeRequest writes an opening handshake request. `headers` overrides the defaults by
 * name (case-insensitive); `null` drops a header. `extra` lines are appended verbatim.
 */
export function handshakeRequest(
  port: number,
  opts: { method?: string; version?: string; headers?: Record<string, string | null>; extra?: string[] } = {},
): string {
  const defaults: Array<[string, string]> = [
    ['Host', `${LOOPBACK}:${port}`],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', SAMPLE_KEY],
    ['Sec-WebSocket-Version', '13'],
  ];
  const overrides = new Map(
    Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), [k, v] as const]),
  );
  const lines = [`${opts.method ?? 'GET'} / HTTP/${opts.version ?? '1.1'}`];
  for (const [name, value] of defaults) {
    const o = overrides.get(name.toLowerCase());
    if (o === undefined) lines.push(`${name}: ${value}`);
    else if (o[1] !== null) lines.push(`${o[0]}: ${o[1]}`);
    overrides.delete(name.toLowerCase());
  }
  for (const [name, value] of overrides.values()) if (value !== null) lines.push(`${name}: ${value}`);
  lines.push(...(opts.extra ?? []));
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Answer is what the server did with one request: its response head (if any) and whether it ended TCP. */
export interface Answer {
  head: ResponseHead | undefined;
  /** Bytes received when no whole head arrived. */
  raw: Buffer;
  /** True when the server ended TCP within the deadline after answering. */
  closed: boolean;
}

/** send1 opens a connection, writes `bytes`, reads the answer and waits up to `closeWithinMs` for TCP to end. */
export async function send1(port: number, bytes: Buffer | string, closeWithinMs = 3_000): Promise<Answer> {
  const peer = await Peer.connect(port);
  try {
    await peer.write(bytes);
    const head = await peer.readHead(5_000);
    const closed = await peer.waitEnded(closeWithinMs);
    return { head, raw: peer.received, closed };
  } finally {
    peer.destroy();
  }
}

/** openRaw completes a hand-written handshake and checks the 101 and its Sec-WebSocket-Accept. */
export async function openRaw(port: number, extra: Record<string, string> = {}): Promise<Peer> {
  const peer = await Peer.connect(port);
  const key = randomBytes(16).toString('base64');
  await peer.write(handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': key, ...extra } }));
  const head = await peer.readHead(5_000);
  if (head?.status !== 101 || head.headers['sec-websocket-accept'] !== acceptFor(key)) {
    peer.destroy();
    throw new Error(
      `handshake refused: ${head?.raw ?? `no head, got ${JSON.stringify(peer.received.toString('latin1'))}`}`,
    );
  }
  return peer;
}

let roundTrips = 0;

/**
 * goodRoundTrip is the "server keeps serving others" check: a fresh client completes the
 * handshake, gets its text message echoed, and finishes the close handshake with 1000.
 */
export async function goodRoundTrip(port: number): Promise<void> {
  const peer = await openRaw(port);
  try {
    const text = `still serving ${++roundTrips} ✓`;
    await peer.write(clientFrame(0x1, text));
    const echo = await peer.readFrame(5_000);
    if (echo.opcode !== 0x1 || !echo.fin || echo.masked || echo.payload.toString('utf8') !== text) {
      throw new Error(
        `bad echo: opcode ${echo.opcode} fin ${echo.fin} payload ${JSON.stringify(echo.payload.toString())}`,
      );
    }
    await peer.write(clientFrame(0x8, closeBody(1000)));
    const close = await peer.readClose(5_000);
    if (close.code !== 1000) throw new Error(`close echo was ${close.code}, expected 1000`);
    if (!(await peer.waitEnded(5_000))) throw new Error('server did not end TCP after the close handshake');
  } finally {
    peer.destroy();
  }
}
