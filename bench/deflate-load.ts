/**
 * deflate-load is the client process of the permessage-deflate benchmark (bench/deflate.ts).
 * It negotiates permessage-deflate on raw node:net sockets and sends JSON messages that were
 * compressed and masked once at start-up (each compressed on its own, which a receiver
 * accepts with or without context takeover), so that a message costs it a socket write and
 * a frame-header walk: the servers do the zlib work, the client does almost none. The first
 * `--verify` replies of every connection are inflated (with the history the server's
 * context takeover implies) and compared with what was sent; after that replies are only
 * counted: messages, and wire bytes (frame headers and payload) for the compression ratio.
 *
 *   node build/bench/deflate-load.js --port P [-c N] [-s BYTES] [--no-takeover] [-d S] [-w S]
 *        [--verify V] [--pool N] [--offset I] [--exchange N] [--parallel N]
 *
 * Talks to the harness in JSON lines on stdout and plain lines on stdin:
 *   {"type":"ready","opened":n,"failed":f} once every connection is open or failed, then it
 *   waits for `go`. Throughput: after `go` it warms up for -w s, measures for -d s, prints
 *   {"type":"result",...} and exits. With --exchange N every connection echoes N messages,
 *   one at a time; it prints {"type":"exchanged",...} and holds the connections until `stop`.
 * Loopback only; a hard timer ends the process whatever happens.
 */
import { randomFillSync } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import { jsonMessages } from './json-messages.js';
import { ConnectPacer } from './lib/pacer.js';

interface Options {
  host: string;
  port: number;
  connections: number;
  size: number;
  takeover: boolean;
  duration: number;
  warmup: number;
  verify: number;
  pool: number;
  offset: number;
  exchange: number;
  parallel: number;
  hold: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    host: '127.0.0.1',
    port: 0,
    connections: 10,
    size: 1024,
    takeover: true,
    duration: 5,
    warmup: 1,
    verify: 8,
    pool: 64,
    offset: 0,
    exchange: 0,
    parallel: 100,
    hold: 60,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`${a} needs a number`);
      return v;
    };
    if (a === '--port') o.port = next();
    else if (a === '--host') o.host = argv[++i] ?? '';
    else if (a === '-c') o.connections = next();
    else if (a === '-s') o.size = next();
    else if (a === '--no-takeover') o.takeover = false;
    else if (a === '-d') o.duration = next();
    else if (a === '-w') o.warmup = next();
    else if (a === '--verify') o.verify = next();
    else if (a === '--pool') o.pool = next();
    else if (a === '--offset') o.offset = next();
    else if (a === '--exchange') o.exchange = next();
    else if (a === '--parallel') o.parallel = next();
    else if (a === '--hold') o.hold = next();
    else throw new Error(`deflate-load: unknown option ${a}`);
  }
  if (!(o.port > 0) || !(o.connections >= 1) || !(o.size >= 64) || !(o.pool >= 1))
    throw new Error('deflate-load: needs --port, -c >= 1, -s >= 64, --pool >= 1');
  if (!o.host.startsWith('127.'))
    throw new Error('deflate-load: only loopback 127.x.y.z targets are allowed');
  return o;
}

/** RFC 7692 7.2.1: the tail a sync flush leaves, cut from compressed messages and put back to inflate. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 1 << 15;
const ERROR_KINDS = ['connect', 'handshake', 'protocol', 'mismatch', 'closed'] as const;
type ErrorKind = (typeof ERROR_KINDS)[number];

/** compressedFrame builds a masked, final text frame with RSV1 holding `plain` deflated on its own. */
function compressedFrame(plain: Buffer): Buffer {
  const out = deflateRawSync(plain, { windowBits: 15, level: 6, finishFlush: zlib.Z_SYNC_FLUSH });
  const payload = Buffer.from(out.subarray(0, out.length - TAIL.length));
  const length = payload.length;
  const size = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.alloc(size + 4 + length);
  frame[0] = 0x80 | 0x40 | 0x1; // FIN, RSV1 (compressed), text
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const key = randomFillSync(Buffer.alloc(4));
  key.copy(frame, size);
  for (let i = 0; i < length; i++) frame[size + 4 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** Conn is one client connection and its incremental reader of the server's frames. */
class Conn {
  socket: net.Socket | undefined;
  open = false;
  dead = false;
  private head: Buffer | undefined;
  private readonly hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private inPayload = false;
  private need = 0;
  private fin = false;
  private control = false;
  // The message being read.
  private opcode = 0;
  private rsv1 = false;
  private wire = 0;
  private chunks: Buffer[] | undefined;
  // Echo state: pool indexes sent and not answered yet, history for verification.
  next: number;
  readonly sent: number[] = [];
  verifyLeft: number;
  history: Buffer = Buffer.alloc(0);
  replies = 0;

  constructor(
    private readonly run: Run,
    index: number,
  ) {
    this.next = (run.options.offset + index * 7) % run.frames.length;
    this.verifyLeft = run.options.verify;
  }

  connect(): void {
    const o = this.run.options;
    const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
    this.socket = socket;
    const offer = o.takeover
      ? 'permessage-deflate'
      : 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
    socket.on('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomFillSync(Buffer.alloc(16)).toString('base64')}\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${offer}\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => (this.open ? this.read(chunk) : this.handshake(chunk)));
    socket.on('error', (e) => this.fail(this.open ? 'closed' : 'connect', e.message));
    socket.on('close', () => this.fail(this.open ? 'closed' : 'connect', 'connection closed'));
  }

  private handshake(chunk: Buffer): void {
    this.head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const text = this.head.toString('latin1', 0, end);
    const ext = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(text)?.[1] ?? '';
    if (!text.startsWith('HTTP/1.1 101')) {
      this.fail('handshake', text.split('\r\n')[0] ?? '');
      return;
    }
    if (!/^permessage-deflate\b/.test(ext)) {
      this.fail('handshake', `deflate not accepted: "${ext}"`);
      return;
    }
    if (!this.run.options.takeover && !/server_no_context_takeover/.test(ext)) {
      this.fail('handshake', `server_no_context_takeover not accepted: "${ext}"`);
      return;
    }
    const rest = this.head.subarray(end + 4);
    this.head = undefined;
    this.open = true;
    this.run.opened();
    if (rest.length > 0) this.read(rest);
  }

  fail(kind: ErrorKind, why: string): void {
    if (this.dead) return;
    this.dead = true;
    const wasOpen = this.open;
    this.open = false;
    this.socket?.destroy();
    this.run.lost(wasOpen, kind, why);
  }

  /** read walks the server's frames, counting wire bytes, and keeps payloads only while verifying. */
  private read(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n && !this.dead) {
      if (this.inPayload) {
        const take = Math.min(this.need, n - pos);
        if (!this.control) {
          this.wire += take;
          this.chunks?.push(chunk.subarray(pos, pos + take));
        }
        pos += take;
        this.need -= take;
        if (this.need === 0) this.endFrame();
        continue;
      }
      while (this.hdrLen < 2 && pos < n) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < 2) return;
      const b1 = this.hdr[1]!;
      const len7 = b1 & 0x7f;
      const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      while (this.hdrLen < size && pos < n) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < size) return;
      const b0 = this.hdr[0]!;
      const opcode = b0 & 0x0f;
      if ((b0 & 0x30) !== 0 || (b1 & 0x80) !== 0) {
        this.fail('protocol', 'RSV2/3 or mask on a server frame');
        return;
      }
      const length =
        len7 === 126 ? this.hdr.readUInt16BE(2) : len7 === 127 ? Number(this.hdr.readBigUInt64BE(2)) : len7;
      this.hdrLen = 0;
      this.fin = (b0 & 0x80) !== 0;
      this.control = opcode >= 8;
      if (opcode === 8) {
        this.fail('closed', 'close frame from the server');
        return;
      }
      if (!this.control) {
        if (opcode !== 0) {
          this.opcode = opcode;
          this.rsv1 = (b0 & 0x40) !== 0;
          this.wire = 0;
          this.chunks = this.verifyLeft > 0 ? [] : undefined;
        }
        this.wire += size;
      }
      this.inPayload = true;
      this.need = length;
      if (length === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    this.inPayload = false;
    if (!this.control && this.fin) this.run.reply(this, this.opcode, this.rsv1, this.wire, this.chunks);
  }

  send(): void {
    if (!this.open || !this.socket || this.socket.destroyed) return;
    const i = this.next;
    this.next = (i + 1) % this.run.frames.length;
    this.sent.push(i);
    this.socket.write(this.run.frames[i]!);
  }
}

/** Run holds the connections of this process and its counters. */
class Run {
  readonly plain: Buffer[];
  readonly frames: Buffer[];
  readonly conns: Conn[] = [];
  private readonly pacer: ConnectPacer;
  readonly errors: Record<ErrorKind, number> = {
    connect: 0,
    handshake: 0,
    protocol: 0,
    mismatch: 0,
    closed: 0,
  };
  openCount = 0;
  measuring = false;
  stopping = false;
  messages = 0;
  wireIn = 0;
  compressed = 0;
  verified = 0;
  exchangedConns = 0;
  private verbose = 5;
  onExchanged: (() => void) | undefined;

  constructor(readonly options: Options) {
    this.pacer = new ConnectPacer(this.conns, options.parallel);
    this.plain = jsonMessages(options.size, options.pool);
    this.frames = this.plain.map(compressedFrame);
    for (let i = 0; i < options.connections; i++) this.conns.push(new Conn(this, i));
  }

  /** connectAll opens the connections, at most `parallel` at a time (subscribers before a publisher). */
  connectAll(onDone: () => void): void {
    this.pacer.start(onDone);
  }

  opened(): void {
    this.openCount++;
    this.pacer.settled();
  }

  lost(wasOpen: boolean, kind: ErrorKind, why: string): void {
    if (wasOpen) this.openCount--;
    else this.pacer.settled();
    if (this.stopping) return;
    this.errors[kind]++;
    if (this.verbose-- > 0) process.stderr.write(`deflate-load: ${kind} error: ${why}\n`);
  }

  start(): void {
    for (const c of this.conns) c.send();
  }

  reply(c: Conn, opcode: number, rsv1: boolean, wire: number, chunks: Buffer[] | undefined): void {
    const index = c.sent.shift();
    if (index === undefined) {
      c.fail('protocol', 'unsolicited message');
      return;
    }
    if (opcode !== 1) {
      c.fail('mismatch', `reply with opcode ${opcode}`);
      return;
    }
    if (chunks) {
      c.verifyLeft--;
      const data = Buffer.concat(chunks);
      let plain: Buffer;
      try {
        plain = rsv1
          ? inflateRawSync(Buffer.concat([data, TAIL]), {
              windowBits: 15,
              finishFlush: zlib.Z_SYNC_FLUSH,
              ...(c.history.length > 0 ? { dictionary: c.history } : {}),
            })
          : data;
      } catch (e) {
        c.fail('protocol', `reply does not inflate: ${(e as Error).message}`);
        return;
      }
      // RFC 7692: only compressed messages are part of the sender's context.
      if (rsv1 && this.options.takeover && c.verifyLeft > 0) {
        const h = Buffer.concat([c.history, plain]);
        c.history = h.length > WINDOW ? Buffer.from(h.subarray(h.length - WINDOW)) : h;
      }
      if (!plain.equals(this.plain[index]!)) {
        c.fail('mismatch', 'reply differs from the message sent');
        return;
      }
      this.verified++;
    }
    c.replies++;
    if (this.measuring) {
      this.messages++;
      this.wireIn += wire;
      if (rsv1) this.compressed++;
    }
    if (this.options.exchange > 0) {
      if (c.replies < this.options.exchange) c.send();
      else if (++this.exchangedConns === this.openCount) this.onExchanged?.();
      return;
    }
    if (!this.stopping) c.send();
  }

  close(): void {
    this.stopping = true;
    for (const c of this.conns) c.socket?.destroy();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (m: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(m)}\n`);
};

/** lines resolves with the next line the harness writes to our stdin that equals `want`. */
function waitFor(want: string): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: string): void => {
      buf += d;
      if (buf.split('\n').some((l) => l.trim() === want)) {
        process.stdin.off('data', onData);
        resolve();
      }
    };
    process.stdin.setEncoding('utf8').on('data', onData);
  });
}

function errorCount(run: Run): number {
  let n = 0;
  for (const k of ERROR_KINDS) n += run.errors[k];
  return n;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  setTimeout(
    () => {
      process.stderr.write('deflate-load: hard time limit reached\n');
      process.exit(3);
    },
    (120 + o.warmup + o.duration + o.hold) * 1000,
  ).unref();
  const run = new Run(o);
  await new Promise<void>((resolve) => run.connectAll(resolve));
  say({ type: 'ready', opened: run.openCount, failed: o.connections - run.openCount });
  await waitFor('go');
  if (run.openCount === 0) process.exit(1);
  if (o.exchange > 0) {
    run.measuring = true;
    const done = new Promise<void>((resolve) => {
      run.onExchanged = resolve;
    });
    run.start();
    await Promise.race([done, sleep(o.hold * 1000)]);
    say({
      type: 'exchanged',
      connections: run.openCount,
      replies: run.messages,
      compressed: run.compressed,
      verified: run.verified,
      errors: errorCount(run),
      error_detail: run.errors,
    });
    await Promise.race([waitFor('stop'), sleep(o.hold * 1000)]);
    run.close();
    process.exit(0);
  }
  run.start();
  await sleep(o.warmup * 1000);
  run.measuring = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(o.duration * 1000);
  run.measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  run.stopping = true;
  say({
    type: 'result',
    connections: run.openCount,
    duration_s: secs,
    messages: run.messages,
    payload_bytes: run.messages * o.size,
    wire_bytes_in: run.wireIn,
    compressed: run.compressed,
    verified: run.verified,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    errors: errorCount(run),
    error_detail: run.errors,
  });
  run.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`deflate-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
