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
 *        [--verify V] [--pool N] [--offset I] [--exchange N] [--parallel N] [--random]
 *        [--no-deflate]
 *
 * `--random` sends binary messages of seeded random bytes instead of JSON text (compressed
 * all the same, as a client such as ws does with whatever passes its threshold);
 * `--no-deflate` offers no extension and sends every message plain (the baseline).
 *
 * Talks to the harness in JSON lines on stdout and plain lines on stdin:
 *   {"type":"ready","opened":n,"failed":f} once every connection is open or failed, then it
 *   waits for `go`. Throughput: after `go` it warms up for -w s, measures for -d s, prints
 *   {"type":"result",...} and exits. With --exchange N every connection echoes N messages,
 *   one at a time; it prints {"type":"exchanged",...} and holds the connections until `stop`.
 * Loopback only; a hard timer ends the process whatever happens.
 */
import { performance } from 'node:perf_hooks';
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import { jsonMessages } from './json-messages.js';
import { type Flags, parseFlags, requireLoopback } from './lib/args.js';
import { clientFrame, type ResponseHead } from './lib/frames.js';
import { ConnectPacer } from './lib/pacer.js';
import { hardTimeLimit, sleep } from './lib/proc.js';
import { type ErrorKind, errorTotal, noErrors, RawClient } from './lib/raw-client.js';

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
  random: boolean;
  deflate: boolean;
}

const DEFAULTS: Options = {
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
  random: false,
  deflate: true,
};

const FLAGS: Flags<Options> = {
  '--port': 'port',
  '--host': 'host',
  '-c': 'connections',
  '-s': 'size',
  '--no-takeover': ['takeover', false],
  '-d': 'duration',
  '-w': 'warmup',
  '--verify': 'verify',
  '--pool': 'pool',
  '--offset': 'offset',
  '--exchange': 'exchange',
  '--parallel': 'parallel',
  '--hold': 'hold',
  '--random': ['random', true],
  '--no-deflate': ['deflate', false],
};

function parseArgs(argv: string[]): Options {
  const o = parseFlags(argv, DEFAULTS, FLAGS);
  if (!(o.port > 0) || !(o.connections >= 1) || !(o.size >= 64) || !(o.pool >= 1))
    throw new Error('needs --port, -c >= 1, -s >= 64, --pool >= 1');
  requireLoopback('deflate-load', o.host);
  return o;
}

/** RFC 7692 7.2.1: the tail a sync flush leaves, cut from compressed messages and put back to inflate. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 1 << 15;

/** compressedFrame builds a masked, final frame with RSV1 holding `plain` deflated on its own. */
function compressedFrame(opcode: number, plain: Buffer): Buffer {
  const out = deflateRawSync(plain, { windowBits: 15, level: 6, finishFlush: zlib.Z_SYNC_FLUSH });
  return clientFrame(opcode, out.subarray(0, out.length - TAIL.length), { compressed: true });
}

/** randomMessages returns `count` messages of `size` seeded pseudo-random bytes (incompressible). */
function randomMessages(size: number, count: number, seed = 7692): Buffer[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return Array.from({ length: count }, () => {
    const b = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i += 4) b.writeUInt32LE(next(), Math.min(i, size - 4));
    return b;
  });
}

/** Conn is one client connection, the message it is reading, and what it sent and verifies. */
class Conn extends RawClient {
  // The message being read.
  private opcode = 0;
  private rsv1 = false;
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
    const o = run.options;
    super({
      host: o.host,
      port: o.port,
      offer: !o.deflate
        ? undefined
        : o.takeover
          ? 'permessage-deflate'
          : 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    });
    this.next = (o.offset + index * 7) % run.frames.length;
    this.verifyLeft = o.verify;
  }

  protected override refuse(head: ResponseHead): string | undefined {
    if (!this.run.options.deflate) return undefined;
    const ext = head.extensions ?? '';
    if (!/^permessage-deflate\b/.test(ext)) return `deflate not accepted: "${ext}"`;
    if (!this.run.options.takeover && !/server_no_context_takeover/.test(ext))
      return `server_no_context_takeover not accepted: "${ext}"`;
    return undefined;
  }

  protected opened(): void {
    this.run.opened();
  }

  protected lost(wasOpen: boolean, kind: ErrorKind, why: string): void {
    this.run.lost(wasOpen, kind, why);
  }

  messageStart(opcode: number, rsv1: boolean): void {
    this.opcode = opcode;
    this.rsv1 = rsv1;
    this.chunks = this.verifyLeft > 0 ? [] : undefined;
  }

  /** messageData keeps the payload only while this connection still verifies replies. */
  messageData(chunk: Buffer, start: number, end: number): void {
    this.chunks?.push(chunk.subarray(start, end));
  }

  messageEnd(_length: number, wire: number): void {
    this.run.reply(this, this.opcode, this.rsv1, wire, this.chunks);
  }

  send(): void {
    if (!this.open || !this.socket || this.socket.destroyed) return;
    const i = this.next;
    this.next = (i + 1) % this.run.frames.length;
    this.sent.push(i);
    this.write(this.run.frames[i]!);
  }
}

/** Run holds the connections of this process and its counters. */
class Run {
  readonly plain: Buffer[];
  readonly frames: Buffer[];
  /** The opcode of every message: binary for random bytes, text for JSON. */
  readonly opcode: number;
  readonly conns: Conn[] = [];
  private readonly pacer: ConnectPacer;
  readonly errors = noErrors();
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
    this.opcode = options.random ? 0x2 : 0x1;
    this.plain = options.random
      ? randomMessages(options.size, options.pool)
      : jsonMessages(options.size, options.pool);
    this.frames = this.plain.map((p) =>
      options.deflate ? compressedFrame(this.opcode, p) : clientFrame(this.opcode, p),
    );
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
    if (opcode !== this.opcode) {
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

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  hardTimeLimit('deflate-load', 120 + o.warmup + o.duration + o.hold);
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
      errors: errorTotal(run.errors),
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
    errors: errorTotal(run.errors),
    error_detail: run.errors,
  });
  run.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`deflate-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
