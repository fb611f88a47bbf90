/**
 * load is the repository's own WebSocket load generator: raw node:net sockets, pre-built
 * masked frames, a byte-counting frame reader, no WebSocket library, so that it stays much
 * cheaper per message than the servers it drives. After the opening handshake each
 * connection drives its socket's handle directly (the libuv TCP handle, or the TLSWrap of a
 * TLS connection: src/cli/bench-handle.ts, shared with `duplex bench`), so a message costs
 * no Readable or Writable work; `DUPLEX_STREAM_IO=1` keeps the sockets (the old path).
 * Echo connections can be spread over `--threads` worker threads (1 by default, the cheapest
 * per message on one pinned CPU); broadcast and idle runs use one thread (subscribers and
 * publisher share state).
 * The same modes and JSON output as shared/tools/wsload.c, so the harness drives either.
 *
 *   node build/bench/load.js --port P [-c N] [-k K] [-s BYTES] [--binary] [-d S] [-w S]
 *        [--idle --hold S] [--broadcast --window W] [--raw] [--tls] [--pid PID] [--threads T]
 *
 * `--tls` connects over TLS (wss, any certificate accepted: loopback only).
 *
 * It prints one JSON line on stdout (`msgs_per_s`, `p50_us`, `p99_us`, `errors`,
 * `client_cpu_pct`, `server_cpu_pct`, ...). Every run is bounded: a hard timer ends the
 * process whatever happens.
 */
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type Flags, parseFlags, requireLoopback } from './lib/args.js';
import { clientFrame } from './lib/frames.js';
import { ConnectPacer } from './lib/pacer.js';
import { cpuTicks, hardTimeLimit, rssKb, sleep } from './lib/proc.js';
import { ERROR_KINDS, type ErrorKind, errorTotal, noErrors, RawClient } from './lib/raw-client.js';
import { percentile, spawnThread, type ThreadChannel } from './lib/threads.js';

export interface LoadOptions {
  host: string;
  port: number;
  connections: number;
  inflight: number;
  size: number;
  binary: boolean;
  duration: number;
  warmup: number;
  mode: 'echo' | 'idle' | 'broadcast';
  raw: boolean;
  tls: boolean;
  hold: number;
  window: number;
  pid: number;
  threads: number;
  parallel: number;
}

const DEFAULTS: LoadOptions = {
  host: '127.0.0.1',
  port: 0,
  connections: 1,
  inflight: 1,
  size: 32,
  binary: false,
  duration: 10,
  warmup: 2,
  mode: 'echo',
  raw: false,
  tls: false,
  hold: 10,
  window: 16,
  pid: 0,
  // One thread: on the one CPU the harness pins the generator to, a second thread costs
  // 10-30 % more CPU per echo-32 message (fewer events per epoll wake, more switches).
  threads: 1,
  parallel: 200,
};

/** HIST_US is the range of the latency histogram (1 µs buckets); slower samples count as its top. */
const HIST_US = 1_000_000;
const POOL = 8;
const RING = 1 << 16;
/** READ_BUFFER is the one buffer every plain TCP connection of a thread reads into (each read is handled before the next). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const FLAGS: Flags<LoadOptions> = {
  '--port': 'port',
  '-p': 'port',
  '--host': 'host',
  '-c': 'connections',
  '--connections': 'connections',
  '-k': 'inflight',
  '--inflight': 'inflight',
  '-s': 'size',
  '--size': 'size',
  '--binary': ['binary', true],
  '--text': ['binary', false],
  '-d': 'duration',
  '--duration': 'duration',
  '-w': 'warmup',
  '--warmup': 'warmup',
  '--idle': ['mode', 'idle'],
  '--broadcast': ['mode', 'broadcast'],
  '--hold': 'hold',
  '--window': 'window',
  '--raw': ['raw', true],
  '--tls': ['tls', true],
  '--pid': 'pid',
  '--threads': 'threads',
  '--parallel': 'parallel',
};

function parseArgs(argv: string[]): LoadOptions {
  const o = parseFlags(argv, DEFAULTS, FLAGS);
  if (!(o.port > 0) || !(o.connections >= 1) || !(o.inflight >= 1) || !(o.size >= 0)) {
    throw new Error(
      'usage: load --port P [-c N] [-k K] [-s BYTES] [--binary] [-d S] [-w S] [--idle] [--broadcast]',
    );
  }
  requireLoopback('load', o.host);
  if (o.mode === 'broadcast' && o.size < 24) throw new Error('load: --broadcast needs --size >= 24');
  if (o.mode !== 'echo') o.threads = 1;
  o.threads = Math.max(1, Math.min(o.threads, o.connections));
  return o;
}

// ------------------------------------------------------------------ payloads

function fillPayload(size: number, binary: boolean): Buffer {
  const p = Buffer.alloc(size);
  let s = 0x12345678;
  for (let i = 0; i < size; i++) {
    if (binary) {
      s = (s * 1103515245 + 12345) >>> 0;
      p[i] = s >>> 24;
    } else p[i] = 0x61 + (i % 26);
  }
  return p;
}

// ------------------------------------------------------------------ one thread's run

interface WorkerInit {
  options: LoadOptions;
  index: number;
  connections: number;
}

interface WorkerReport {
  opened: number;
  /** Connections that drive their handle (the rest kept their socket). */
  handled: number;
  messages: number;
  bytes: number;
  hist: Uint32Array;
  errors: Record<ErrorKind, number>;
  offered: number;
  dropped: number;
}

/** Conn is one client connection and the state of the message it is reading. */
class Conn extends RawClient {
  role: 'echo' | 'sub' | 'pub' | 'idle';
  // the message being read: its opcode, length and first 24 bytes
  msgOp = 0;
  msgLen = 0;
  readonly prefix = Buffer.alloc(24);
  prefixLen = 0;
  // echo
  readonly sentAt: number[] = [];
  pool = 0;
  lastSeq = -1;
  /** Bytes of the echo being read so far, and whether they differ from what was sent. */
  echoPos = 0;
  echoBad = false;

  constructor(
    role: Conn['role'],
    private readonly run: Run,
  ) {
    const { host, port, raw, tls } = run.options;
    super({ host, port, raw, tls, readBuffer: READ_BUFFER, handle: true });
    this.role = role;
  }

  protected opened(): void {
    this.run.opened(this);
  }

  protected lost(wasOpen: boolean, kind: ErrorKind, why: string): void {
    this.run.lost(this, wasOpen, kind, why);
  }

  messageStart(opcode: number): void {
    this.msgOp = opcode;
    this.prefixLen = 0;
    this.echoPos = 0;
    this.echoBad = false;
  }

  /**
   * messageData checks an echo byte for byte against the payload sent; of a broadcast, it
   * keeps the first 24 bytes (its timestamp and sequence number) and counts the rest.
   */
  messageData(chunk: Buffer, start: number, end: number): void {
    if (this.role === 'echo') {
      const payload = this.run.payload;
      const to = this.echoPos + end - start;
      if (to > payload.length || chunk.compare(payload, this.echoPos, to, start, end) !== 0)
        this.echoBad = true;
      this.echoPos = to;
      return;
    }
    if (this.prefixLen < 24) {
      const k = Math.min(24 - this.prefixLen, end - start);
      chunk.copy(this.prefix, this.prefixLen, start, start + k);
      this.prefixLen += k;
    }
  }

  messageEnd(length: number): void {
    this.msgLen = length;
    this.run.message(this);
  }
}

/** Run is one thread's share of the connections and its counters. */
class Run {
  readonly conns: Conn[] = [];
  private readonly pacer: ConnectPacer;
  readonly hist = new Uint32Array(HIST_US);
  readonly errors = noErrors();
  private readonly pool: Buffer[] = [];
  /** The payload of every echo message, which each echo must match. */
  readonly payload: Buffer;
  private readonly expectOp: number;
  openCount = 0;
  handled = 0;
  subsOpen = 0;
  measuring = false;
  stopping = false;
  messages = 0;
  bytes = 0;
  private verbose = 5;
  // broadcast
  private pub: Conn | undefined;
  private seq = 0;
  private completed = 0;
  private oldest = 0;
  private readonly done = new Uint32Array(RING);
  offered = 0;
  dropped = 0;
  private readonly filler: Buffer;

  constructor(
    readonly options: LoadOptions,
    count: number,
  ) {
    this.pacer = new ConnectPacer(this.conns, options.parallel);
    this.expectOp = options.binary ? 2 : 1;
    this.payload = fillPayload(options.size, options.binary);
    if (options.mode === 'echo') {
      for (let i = 0; i < POOL; i++)
        this.pool.push(clientFrame(this.expectOp, this.payload, { masked: !options.raw }));
    }
    this.filler = fillPayload(Math.max(0, options.size - 24), false);
    const role = options.mode === 'echo' ? 'echo' : options.mode === 'idle' ? 'idle' : 'sub';
    for (let i = 0; i < count; i++) this.conns.push(new Conn(role, this));
    if (options.mode === 'broadcast') {
      this.pub = new Conn('pub', this);
      this.conns.push(this.pub);
    }
  }

  /** connectAll opens the connections, at most `parallel` at a time (subscribers before a publisher). */
  connectAll(onDone: () => void): void {
    this.pacer.start(onDone);
  }

  opened(c: Conn): void {
    this.openCount++;
    if (c.io !== undefined) this.handled++;
    if (c.role === 'sub') this.subsOpen++;
    this.pacer.settled();
  }

  lost(c: Conn, wasOpen: boolean, kind: ErrorKind, why: string): void {
    if (wasOpen) {
      this.openCount--;
      if (c.role === 'sub') this.subsOpen--;
    } else this.pacer.settled();
    if (this.stopping) return;
    this.errors[kind]++;
    if (this.verbose-- > 0) process.stderr.write(`load: ${kind} error: ${why}\n`);
  }

  /** start begins sending: K messages in flight per echo connection, or the publisher's window. */
  start(): void {
    if (this.options.mode === 'echo') {
      for (const c of this.conns) {
        if (!c.open) continue;
        for (let k = 0; k < this.options.inflight; k++) this.sendEcho(c);
      }
    } else if (this.options.mode === 'broadcast') {
      this.oldest = performance.now();
      this.publish();
    }
  }

  private sendEcho(c: Conn): void {
    c.sentAt.push(performance.now());
    c.write(this.pool[c.pool++ % POOL]!);
  }

  private record(latencyMs: number): void {
    const us = Math.floor(latencyMs * 1000);
    this.hist[us < HIST_US ? us : HIST_US - 1]!++;
  }

  message(c: Conn): void {
    const now = performance.now();
    if (c.role === 'echo') {
      if (c.msgOp !== this.expectOp || c.msgLen !== this.options.size || c.echoBad) {
        const what = c.echoBad ? 'differs from the message sent' : `opcode ${c.msgOp}`;
        c.fail('mismatch', `echo of ${c.msgLen} bytes: ${what}`);
        return;
      }
      const t = c.sentAt.shift();
      if (t === undefined) {
        c.fail('protocol', 'unsolicited message');
        return;
      }
      if (this.measuring) {
        this.messages++;
        this.bytes += c.msgLen;
        this.record(now - t);
      }
      if (!this.stopping) this.sendEcho(c);
    } else if (c.role === 'sub') {
      if (c.msgLen !== this.options.size || c.prefixLen < 24) {
        c.fail('mismatch', 'broadcast length differs');
        return;
      }
      const ts = Number.parseInt(c.prefix.toString('latin1', 0, 16), 16) / 1000;
      const seq = Number.parseInt(c.prefix.toString('latin1', 16, 24), 16);
      if (this.measuring) {
        this.messages++;
        this.bytes += c.msgLen;
        this.record(now - ts);
      }
      if (c.lastSeq >= 0 && seq > c.lastSeq + 1) this.dropped += seq - c.lastSeq - 1;
      c.lastSeq = seq;
      if (seq >= this.completed && seq < this.seq) this.done[seq & (RING - 1)]!++;
      this.publish();
    }
  }

  /** publish keeps `window` messages not yet delivered to every subscriber (closed loop). */
  private publish(): void {
    const pub = this.pub;
    if (!pub?.open || this.stopping) return;
    const now = performance.now();
    while (this.completed < this.seq && this.done[this.completed & (RING - 1)]! >= this.subsOpen) {
      this.completed++;
      this.oldest = now;
    }
    // A message some subscriber will never get (it was closed) must not stall the window.
    if (this.completed < this.seq && now - this.oldest > 2000) {
      this.completed++;
      this.oldest = now;
    }
    const out: Buffer[] = [];
    while (this.seq - this.completed < this.options.window) {
      const ts = Math.round(now * 1000)
        .toString(16)
        .padStart(16, '0');
      const head = Buffer.from(ts + (this.seq % 0x1_0000_0000).toString(16).padStart(8, '0'), 'latin1');
      this.done[this.seq & (RING - 1)] = 0;
      if (this.seq === this.completed) this.oldest = now;
      this.seq++;
      if (this.measuring) this.offered++;
      out.push(clientFrame(1, Buffer.concat([head, this.filler]), { masked: !this.options.raw }));
    }
    if (out.length > 0) pub.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** tick retries a publisher whose window stalled on a lost subscriber. */
  tick(): void {
    if (this.options.mode === 'broadcast') this.publish();
  }

  close(): void {
    this.stopping = true;
    for (const c of this.conns) c.destroy();
  }
}

/** runThread runs one thread's connections through the phases the main thread announces. */
function runThread(
  init: WorkerInit,
  port: { postMessage(m: unknown): void; on(e: 'message', f: (m: unknown) => void): void },
): void {
  const run = new Run(init.options, init.connections);
  let ticker: NodeJS.Timeout | undefined;
  run.connectAll(() => port.postMessage({ type: 'ready', opened: run.openCount }));
  port.on('message', (m) => {
    const msg = m as { type: string };
    if (msg.type === 'go') {
      run.start();
      ticker = setInterval(() => run.tick(), 50);
    } else if (msg.type === 'measure') {
      run.measuring = true;
    } else if (msg.type === 'stop') {
      run.measuring = false;
      run.stopping = true;
      clearInterval(ticker);
      const report: WorkerReport = {
        opened: run.openCount,
        handled: run.handled,
        messages: run.messages,
        bytes: run.bytes,
        hist: run.hist,
        errors: run.errors,
        offered: run.offered,
        dropped: run.dropped,
      };
      port.postMessage({ type: 'report', report });
      run.close();
    }
  });
}

// ------------------------------------------------------------------ main thread

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  // Hard bound: whatever happens, the process ends.
  const bound = 60 + o.warmup + o.duration + (o.mode === 'idle' ? o.hold : 0) + 15;
  hardTimeLimit('load', bound);
  const threads: ThreadChannel[] = [];
  for (let t = 0; t < o.threads; t++) {
    const share = Math.floor(o.connections / o.threads) + (t < o.connections % o.threads ? 1 : 0);
    threads.push(spawnThread('load', new URL(import.meta.url), { options: o, index: t, connections: share }));
  }
  const t0 = performance.now();
  const ready = await Promise.all(threads.map((t) => t.next('ready')));
  const opened = ready.reduce((n, r) => n + (r['opened'] as number), 0);
  const total = o.connections + (o.mode === 'broadcast' ? 1 : 0);
  const connectS = (performance.now() - t0) / 1000;
  process.stderr.write(`load: ${opened}/${total} connections open in ${connectS.toFixed(2)}s\n`);
  if (opened === 0) {
    process.stdout.write(
      `${JSON.stringify({ mode: o.mode, error: 'no connection could be opened', errors: total })}\n`,
    );
    process.exit(1);
  }
  if (o.mode === 'idle') {
    const before = o.pid ? rssKb(o.pid) : Number.NaN;
    await sleep(o.hold * 1000);
    for (const t of threads) t.post({ type: 'stop' });
    const reports = await Promise.all(threads.map((t) => t.next('report')));
    const errors = reports.reduce((n, r) => n + errorTotal((r['report'] as WorkerReport).errors), 0);
    process.stdout.write(
      `${JSON.stringify({ mode: 'idle', connections: opened, requested: o.connections, connect_s: connectS, server_rss_kb: before, errors })}\n`,
    );
    process.exit(0);
  }
  if (o.mode === 'broadcast') await sleep(200); // let the server finish its connection callbacks
  for (const t of threads) t.post({ type: 'go' });
  await sleep(o.warmup * 1000);
  for (const t of threads) t.post({ type: 'measure' });
  const m0 = performance.now();
  const cpu0 = process.cpuUsage();
  const srv0 = o.pid ? cpuTicks(o.pid) : Number.NaN;
  await sleep(o.duration * 1000);
  for (const t of threads) t.post({ type: 'stop' });
  const secs = (performance.now() - m0) / 1000;
  const cpu1 = process.cpuUsage(cpu0);
  const srv1 = o.pid ? cpuTicks(o.pid) : Number.NaN;
  const reports = (await Promise.all(threads.map((t) => t.next('report')))).map(
    (r) => r['report'] as WorkerReport,
  );
  const hist = new Uint32Array(HIST_US);
  let messages = 0;
  let bytes = 0;
  let offered = 0;
  let dropped = 0;
  const errors = noErrors();
  for (const r of reports) {
    messages += r.messages;
    bytes += r.bytes;
    offered += r.offered;
    dropped += r.dropped;
    for (let i = 0; i < HIST_US; i++) hist[i]! += r.hist[i]!;
    for (const k of ERROR_KINDS) errors[k] += r.errors[k];
  }
  const handled = reports.reduce((n, r) => n + r.handled, 0);
  const result: Record<string, unknown> = {
    mode: o.mode,
    generator: 'node',
    threads: o.threads,
    // How the connections do their I/O: `handle` (all drive their handle), `stream`, or `mixed`.
    io: handled === opened ? 'handle' : handled === 0 ? 'stream' : 'mixed',
    connections: reports.reduce((n, r) => n + r.opened, 0) - (o.mode === 'broadcast' ? 1 : 0),
    size: o.size,
    type: o.binary ? 'binary' : 'text',
    inflight: o.inflight,
    raw: o.raw,
    tls: o.tls,
    duration_s: Number(secs.toFixed(2)),
    messages,
    msgs_per_s: Math.round(messages / secs),
    mbytes_per_s: Number((bytes / secs / 1e6).toFixed(1)),
    p50_us: percentile(hist, messages, 0.5),
    p90_us: percentile(hist, messages, 0.9),
    p99_us: percentile(hist, messages, 0.99),
    p999_us: percentile(hist, messages, 0.999),
  };
  if (o.mode === 'broadcast')
    Object.assign(result, { offered_msgs_per_s: Math.round(offered / secs), dropped });
  Object.assign(result, {
    client_cpu_pct: Math.round(((cpu1.user + cpu1.system) / 1e6 / secs) * 100),
    // The kernel's share of it (system time: the socket calls and loopback delivery).
    client_sys_pct: Math.round((cpu1.system / 1e6 / secs) * 100),
    server_cpu_pct: o.pid ? Math.round(((srv1 - srv0) / 100 / secs) * 1000) / 10 : -1,
    server_rss_kb: o.pid ? rssKb(o.pid) : -1,
    errors: errorTotal(errors),
    error_detail: errors,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await Promise.all(threads.map((t) => t.end()));
  process.exit(0);
}

if (isMainThread) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
} else {
  const init = workerData as WorkerInit;
  const port = parentPort!;
  runThread(init, { postMessage: (m) => port.postMessage(m), on: (e, f) => port.on(e, f) });
}
