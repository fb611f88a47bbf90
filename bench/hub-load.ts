/**
 * hub-load is the load generator of the hub benchmark (issue 9): subscribers in rooms and one
 * publisher per room, speaking either the Duplex hub's protocol duplex.v1 or Socket.IO 4's
 * wire format by hand (bench/lib/hub-wire.ts) over raw node:net sockets (bench/lib/raw-client.ts),
 * so that it stays much cheaper per delivery than the servers it drives.
 *
 *   node build/bench/hub-load.js --port P --protocol duplex|socketio [--path /hub]
 *        [-c SUBSCRIBERS] [--rooms R] [-s BYTES] [--window W] [-d S] [-w S]
 *        [--idle --hold S] [--threads T] [--workers] [--pid PID] [--parallel N]
 *
 * - Subscribers are spread over T worker threads, by default one per CPU the process may run
 *   on (pinned to one CPU by the harness: one thread; more threads on one CPU measured slower,
 *   they only add switches and latency). One share runs in the main thread, beside the
 *   publishers, unless `--workers` (see localThread). Contiguous shares; subscriber i is in room
 *   i mod R, so every thread has subscribers in every room). Each connects (duplex: `connect`,
 *   then `subscribe` to `room-r`; socket.io: the room in the query, namespace connect `40`) and
 *   answers the server's pings.
 * - The main thread runs one publisher per room. Each keeps `window` messages in flight: a
 *   message leaves the window once every subscriber of its room received it (the threads
 *   report, per room, the first sequence number not yet received by all their subscribers),
 *   so the servers' queues cannot grow without bound. A message a subscriber skipped (a
 *   sequence gap, counted as dropped) and a subscriber lost settle the window all the same; a
 *   window stuck for 10 s regardless moves on by one message (counted as a stall).
 * - Every message carries its send time (bench/lib/hub-wire.ts); a subscriber records the
 *   delay to its receipt in a histogram of 10 µs buckets (up to 10 s).
 * - `--idle`: subscribers connect and subscribe, the line `... connections open ...` goes to
 *   stderr, they stay `--hold` seconds, no publisher.
 *
 * It prints one JSON line on stdout: `msgs_per_s` (deliveries per second: messages received
 * by all subscribers), `p50_us` ... `p999_us`, `offered_msgs_per_s` (publishes per second),
 * `dropped` (sequence gaps seen by subscribers), `stalls`, `errors`, `client_cpu_pct` (all of
 * the generator's threads, from getrusage), `server_cpu_pct` (from /proc, with --pid). Every
 * run is bounded: a hard timer ends the process whatever happens.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type Flags, parseFlags, requireLoopback } from './lib/args.js';
import {
  classify,
  deliveryStamp,
  duplexFrames,
  fillerFor,
  HUB_PROTOCOLS,
  type HubProtocol,
  handshakeTarget,
  type Incoming,
  nowUs,
  roomName,
  STAMP,
  type Stamp,
  socketioFrames,
  stampedData,
} from './lib/hub-wire.js';
import { ConnectPacer } from './lib/pacer.js';
import { allowedCpus, cpuTicks, hardTimeLimit, rssKb, sleep } from './lib/proc.js';
import { ERROR_KINDS, type ErrorKind, errorTotal, noErrors, RawClient } from './lib/raw-client.js';
import { percentile, spawnThread, type ThreadChannel } from './lib/threads.js';

export interface HubLoadOptions {
  host: string;
  port: number;
  protocol: string;
  path: string;
  connections: number;
  rooms: number;
  size: number;
  window: number;
  duration: number;
  warmup: number;
  mode: 'broadcast' | 'idle';
  hold: number;
  pid: number;
  threads: number;
  /** Subscribers in worker threads even when there is one share (by default one share runs in the main thread). */
  workers: boolean;
  parallel: number;
}

const DEFAULTS: HubLoadOptions = {
  host: '127.0.0.1',
  port: 0,
  protocol: 'duplex',
  path: '/hub',
  connections: 1000,
  rooms: 1,
  size: 64,
  window: 16,
  duration: 5,
  warmup: 1,
  mode: 'broadcast',
  hold: 5,
  pid: 0,
  threads: 0,
  workers: false,
  parallel: 200,
};

const FLAGS: Flags<HubLoadOptions> = {
  '--host': 'host',
  '--port': 'port',
  '-p': 'port',
  '--protocol': 'protocol',
  '--path': 'path',
  '-c': 'connections',
  '--connections': 'connections',
  '--rooms': 'rooms',
  '-s': 'size',
  '--size': 'size',
  '--window': 'window',
  '-d': 'duration',
  '--duration': 'duration',
  '-w': 'warmup',
  '--warmup': 'warmup',
  '--idle': ['mode', 'idle'],
  '--hold': 'hold',
  '--pid': 'pid',
  '--threads': 'threads',
  '--workers': ['workers', true],
  '--parallel': 'parallel',
};

/** BUCKET_US is the width of a latency histogram bucket; HIST_BUCKETS of them reach 10 s. */
const BUCKET_US = 10;
const HIST_BUCKETS = 1_000_000;
/** RING is how many sequence numbers per room a thread tracks at once (far more than a window). */
const RING = 1 << 12;
/** PREFIX is how much of each incoming message a connection keeps to classify it. */
const PREFIX = 1024;
/**
 * STALL_MS is how long a window may stay stuck before it moves on by one message: a last
 * resort (a message lost at the end of a run), as missed messages and lost subscribers already
 * settle the window; far longer than any server takes to deliver a window here.
 */
const STALL_MS = 10_000;
/** READY_MS bounds how long a connection may take from TCP connect to subscribed (or connected). */
const READY_MS = 15_000;
/** READ_BUFFER is what every connection of this thread reads into (node:net `onread`). */
const READ_BUFFER = Buffer.alloc(1 << 16);
/** NONE is a thread's report for a room where it has no subscriber left: it holds nothing back. */
const NONE = Number.MAX_SAFE_INTEGER;

function parseArgs(argv: string[]): HubLoadOptions {
  const o = parseFlags(argv, DEFAULTS, FLAGS);
  if (!(o.port > 0) || !(o.connections >= 1) || !(o.rooms >= 1) || !(o.window >= 1 && o.window < RING / 2))
    throw new Error(
      'usage: hub-load --port P --protocol duplex|socketio [-c N] [--rooms R] [-s BYTES] [--window W] [-d S] [-w S] [--idle --hold S]',
    );
  if (!HUB_PROTOCOLS.includes(o.protocol as HubProtocol))
    throw new Error(`hub-load: --protocol is ${HUB_PROTOCOLS.join(' or ')}`);
  if (o.size < STAMP) throw new Error(`hub-load: --size must be at least ${STAMP}`);
  requireLoopback('hub-load', o.host);
  o.rooms = Math.min(o.rooms, o.connections);
  // Default: one subscriber thread per CPU the generator may run on (taskset -c 1: one).
  if (o.threads <= 0) o.threads = allowedCpus();
  o.threads = Math.max(1, Math.min(o.threads, o.connections));
  return o;
}

// ------------------------------------------------------------------ one connection

/** Owner is the thread's run a connection reports to. */
interface Owner {
  readonly protocol: HubProtocol;
  ready(c: HubConn): void;
  delivery(c: HubConn, stamp: Stamp): void;
  lost(c: HubConn, wasReady: boolean, kind: ErrorKind, why: string): void;
}

/**
 * HubConn is one subscriber or publisher: the WebSocket handshake (RawClient), then the
 * protocol's own connect (and, for a duplex subscriber, subscribe) up to `ready`.
 */
class HubConn extends RawClient {
  isReady = false;
  lastSeq = -1;
  private readonly prefix = Buffer.alloc(PREFIX);
  private prefixLen = 0;
  private opcode = 0;
  /** Whether the message being read is a delivery decoded on the fast path. */
  private fast = false;
  private readonly stamp: Stamp = { tsUs: 0, seq: 0, hint: 0 };
  private readyTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly role: 'sub' | 'pub',
    readonly room: number,
    private readonly owner: Owner,
    options: HubLoadOptions,
  ) {
    super({
      host: options.host,
      port: options.port,
      readBuffer: READ_BUFFER,
      ...handshakeTarget(owner.protocol, options.path, role === 'sub' ? room : undefined),
    });
  }

  override connect(): void {
    super.connect();
    this.readyTimer = setTimeout(() => this.fail('handshake', `not ready after ${READY_MS} ms`), READY_MS);
  }

  protected opened(): void {
    // socket.io waits for the engine.io open packet; the hub for `connect`.
    if (this.owner.protocol === 'duplex') this.write(duplexFrames.connect(1));
  }

  protected lost(_wasOpen: boolean, kind: ErrorKind, why: string): void {
    const wasReady = this.isReady;
    this.isReady = false;
    clearTimeout(this.readyTimer);
    this.owner.lost(this, wasReady, kind, why);
  }

  messageStart(opcode: number): void {
    this.opcode = opcode;
    this.prefixLen = 0;
    this.fast = false;
  }

  messageData(chunk: Buffer, start: number, end: number): void {
    // The fast path: a delivery whose stamp is in its first piece is decoded in place.
    if (this.prefixLen === 0 && !this.fast && this.opcode === 1 && this.role === 'sub') {
      this.fast = deliveryStamp(this.owner.protocol, chunk, start, end, this.stamp);
      if (this.fast) return;
    }
    if (this.fast) return;
    if (this.prefixLen < PREFIX) {
      const k = Math.min(PREFIX - this.prefixLen, end - start);
      chunk.copy(this.prefix, this.prefixLen, start, start + k);
      this.prefixLen += k;
    }
  }

  messageEnd(length: number): void {
    if (this.opcode !== 1) {
      this.fail('protocol', `unexpected frame opcode ${this.opcode}`);
      return;
    }
    const kind = this.fast
      ? 'delivery'
      : classify(this.owner.protocol, this.prefix, this.prefixLen, length, this.stamp);
    this.handle(kind);
  }

  private handle(kind: Incoming): void {
    const duplex = this.owner.protocol === 'duplex';
    switch (kind) {
      case 'delivery':
        if (this.role === 'sub' && this.isReady) this.owner.delivery(this, this.stamp);
        else this.fail('protocol', 'a delivery before subscribing, or to a publisher');
        return;
      case 'ping':
        this.write(duplex ? duplexFrames.pong() : socketioFrames.pong());
        return;
      case 'ack':
        return;
      case 'open':
        if (duplex) break;
        this.write(socketioFrames.connect());
        return;
      case 'connected':
        if (duplex && this.role === 'sub') this.write(duplexFrames.subscribe(2, roomName(this.room)));
        else this.becomeReady();
        return;
      case 'subscribed':
        if (!duplex) break;
        this.becomeReady();
        return;
      case 'error':
        break;
    }
    const text = this.prefix.toString('utf8', 0, Math.min(this.prefixLen, 200));
    this.fail('protocol', `unexpected message: ${text}`);
  }

  private becomeReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    clearTimeout(this.readyTimer);
    this.owner.ready(this);
  }
}

// ------------------------------------------------------------------ subscriber threads

interface SubInit {
  options: HubLoadOptions;
  /** Global index of this thread's first subscriber (its room is index mod rooms). */
  first: number;
  count: number;
}

interface SubReport {
  ready: number;
  messages: number;
  hist: Uint32Array;
  errors: Record<ErrorKind, number>;
  dropped: number;
  duplicates: number;
}

/**
 * SubRun is one thread's subscribers. Per room it counts, for each sequence number, how many
 * of its subscribers got it, and tells the main thread how far every one of them got.
 */
class SubRun implements Owner {
  readonly protocol: HubProtocol;
  readonly conns: HubConn[] = [];
  private readonly pacer: ConnectPacer;
  readonly perRoom: Int32Array;
  private readonly counts: Uint32Array;
  readonly done: number[];
  private readonly dirty = new Set<number>();
  private flushing = false;
  readonly hist = new Uint32Array(HIST_BUCKETS);
  readonly errors = noErrors();
  readyCount = 0;
  messages = 0;
  dropped = 0;
  duplicates = 0;
  measuring = false;
  stopping = false;
  private verbose = 5;

  constructor(
    readonly options: HubLoadOptions,
    first: number,
    count: number,
    private readonly report: (done: [room: number, next: number][]) => void,
  ) {
    this.protocol = options.protocol as HubProtocol;
    this.perRoom = new Int32Array(options.rooms);
    this.counts = new Uint32Array(options.rooms * RING);
    this.done = new Array<number>(options.rooms).fill(0);
    for (let i = first; i < first + count; i++)
      this.conns.push(new HubConn('sub', i % options.rooms, this, options));
    this.pacer = new ConnectPacer(this.conns, options.parallel);
  }

  connectAll(onDone: () => void): void {
    this.pacer.start(onDone);
  }

  ready(c: HubConn): void {
    this.readyCount++;
    this.perRoom[c.room]!++;
    this.pacer.settled();
  }

  lost(c: HubConn, wasReady: boolean, kind: ErrorKind, why: string): void {
    if (wasReady) {
      this.readyCount--;
      this.perRoom[c.room]!--;
      this.advance(c.room);
    } else this.pacer.settled();
    if (this.stopping) return;
    this.errors[kind]++;
    if (this.verbose-- > 0) process.stderr.write(`hub-load: ${kind} error: ${why}\n`);
  }

  delivery(c: HubConn, stamp: Stamp): void {
    if (this.measuring) {
      this.messages++;
      const b = Math.floor((nowUs() - stamp.tsUs) / BUCKET_US);
      this.hist[b < HIST_BUCKETS ? (b < 0 ? 0 : b) : HIST_BUCKETS - 1]!++;
    }
    const seq = stamp.seq;
    if (seq <= c.lastSeq) {
      this.duplicates++;
      return;
    }
    // Every subscriber is ready before the first publish, so its first message is number 0.
    // A message it never got counts as settled for it, so that the window does not wait for it.
    const r = c.room;
    const from = Math.max(c.lastSeq + 1, this.done[r]!);
    if (seq > c.lastSeq + 1) this.dropped += seq - c.lastSeq - 1;
    c.lastSeq = seq;
    for (let s = from; s <= seq && s < this.done[r]! + RING; s++) this.counts[r * RING + (s & (RING - 1))]!++;
    if (seq >= this.done[r]!) this.advance(r);
  }

  /** advance moves room r's mark past every sequence number all its subscribers here got. */
  private advance(r: number): void {
    const before = this.done[r]!;
    if (this.perRoom[r]! <= 0) this.done[r] = NONE;
    else {
      let next = before;
      const base = r * RING;
      while (this.counts[base + (next & (RING - 1))]! >= this.perRoom[r]!) {
        this.counts[base + (next & (RING - 1))] = 0;
        next++;
      }
      this.done[r] = next;
    }
    if (this.done[r] === before) return;
    this.dirty.add(r);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    const out: [number, number][] = [];
    for (const r of this.dirty) out.push([r, this.done[r]!]);
    this.dirty.clear();
    if (out.length > 0 && !this.stopping) this.report(out);
  }

  close(): void {
    this.stopping = true;
    for (const c of this.conns) c.socket?.destroy();
  }
}

/** SubPort is what runSubscribers talks through: a worker's parentPort, or the in-process one. */
interface SubPort {
  postMessage(m: unknown): void;
  on(event: 'message', f: (m: { type: string }) => void): void;
}

function runSubscribers(init: SubInit, port: SubPort): void {
  const run = new SubRun(init.options, init.first, init.count, (done) =>
    port.postMessage({ type: 'done', done }),
  );
  run.connectAll(() =>
    port.postMessage({
      type: 'ready',
      ready: run.readyCount,
      perRoom: Array.from(run.perRoom),
      done: run.done,
    }),
  );
  port.on('message', (m: { type: string }) => {
    if (m.type === 'measure') run.measuring = true;
    else if (m.type === 'stop') {
      run.measuring = false;
      run.stopping = true;
      const report: SubReport = {
        ready: run.readyCount,
        messages: run.messages,
        hist: run.hist,
        errors: run.errors,
        dropped: run.dropped,
        duplicates: run.duplicates,
      };
      port.postMessage({ type: 'report', report });
      run.close();
    }
  });
}

// ------------------------------------------------------------------ publishers (main thread)

/**
 * PubRun is the publishers, one per room, in the main thread. A room's window is measured
 * against `completed`: the smallest mark the threads with subscribers in the room reported.
 */
class PubRun implements Owner {
  readonly protocol: HubProtocol;
  readonly pubs: HubConn[] = [];
  private readonly pacer: ConnectPacer;
  private readonly seq: number[];
  private readonly completed: number[];
  private readonly floor: number[];
  private readonly since: number[];
  /** marks[t][r]: thread t's first sequence number of room r not yet received by all its subscribers. */
  private readonly marks: number[][];
  private readonly filler: string;
  private nextId = 10;
  readonly errors = noErrors();
  readyCount = 0;
  offered = 0;
  stalls = 0;
  measuring = false;
  stopping = false;
  private verbose = 5;

  constructor(
    readonly options: HubLoadOptions,
    readyReports: { perRoom: number[]; done: number[] }[],
  ) {
    this.protocol = options.protocol as HubProtocol;
    const rooms = options.rooms;
    this.seq = new Array<number>(rooms).fill(0);
    this.completed = new Array<number>(rooms).fill(0);
    this.floor = new Array<number>(rooms).fill(0);
    this.since = new Array<number>(rooms).fill(0);
    this.marks = readyReports.map((r) => r.perRoom.map((n, room) => (n > 0 ? r.done[room]! : NONE)));
    this.filler = fillerFor(options.size);
    for (let r = 0; r < rooms; r++) this.pubs.push(new HubConn('pub', r, this, options));
    this.pacer = new ConnectPacer(this.pubs, options.parallel);
  }

  connectAll(onDone: () => void): void {
    this.pacer.start(onDone);
  }

  ready(_c: HubConn): void {
    this.readyCount++;
    this.pacer.settled();
  }

  lost(_c: HubConn, wasReady: boolean, kind: ErrorKind, why: string): void {
    if (wasReady) this.readyCount--;
    else this.pacer.settled();
    if (this.stopping) return;
    this.errors[kind]++;
    if (this.verbose-- > 0) process.stderr.write(`hub-load: publisher ${kind} error: ${why}\n`);
  }

  delivery(c: HubConn): void {
    c.fail('protocol', 'a publisher got a delivery');
  }

  /** marked takes a thread's new marks and publishes into the windows they opened. */
  marked(thread: number, done: [number, number][]): void {
    for (const [r, next] of done) {
      this.marks[thread]![r] = next;
      this.publish(r);
    }
  }

  start(): void {
    const now = performance.now();
    for (let r = 0; r < this.options.rooms; r++) {
      this.since[r] = now;
      this.publish(r);
    }
  }

  private publish(r: number): void {
    const pub = this.pubs[r]!;
    if (!pub.isReady || this.stopping) return;
    let mark = NONE;
    for (const m of this.marks) mark = Math.min(mark, m[r]!);
    if (mark === NONE) return; // nobody listens in this room
    mark = Math.max(mark, this.floor[r]!);
    if (mark > this.completed[r]!) {
      this.completed[r] = mark;
      this.since[r] = performance.now();
    }
    const out: Buffer[] = [];
    const channel = roomName(r);
    while (this.seq[r]! - this.completed[r]! < this.options.window) {
      const data = stampedData(this.options.size, nowUs(), this.seq[r]!, this.filler);
      const id = this.nextId++;
      out.push(
        this.protocol === 'duplex'
          ? duplexFrames.publish(id, channel, data)
          : socketioFrames.publish(id, channel, data),
      );
      this.seq[r]!++;
      if (this.measuring) this.offered++;
    }
    if (out.length > 0) pub.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** tick moves a window stuck for STALL_MS (a subscriber lost a message or its connection) by one. */
  tick(): void {
    const now = performance.now();
    for (let r = 0; r < this.options.rooms; r++) {
      if (this.seq[r]! > this.completed[r]! && now - this.since[r]! > STALL_MS) {
        this.stalls++;
        this.floor[r] = this.completed[r]! + 1;
        this.since[r] = now;
        this.publish(r);
      }
    }
  }

  close(): void {
    this.stopping = true;
    for (const c of this.pubs) c.socket?.destroy();
  }
}

/**
 * localThread runs one share of subscribers in this thread, behind the same ThreadChannel as a
 * worker. With one subscriber thread (the generator pinned to one CPU) this is the default:
 * the marks reach the publishers without a message between threads, so each turn of the
 * closed loop waits for one thread to be scheduled on the generator's CPU instead of two. (On
 * a loaded machine an A/B against `--workers` showed no gain; it is kept as the choice that
 * does not give the generator a second share of a contended CPU: BENCHMARKS.md.)
 */
function localThread(init: SubInit): ThreadChannel {
  const waiting = new Map<string, (m: Record<string, unknown>) => void>();
  const streams = new Map<string, (m: Record<string, unknown>) => void>();
  const inbox: Record<string, unknown>[] = [];
  const handlers: ((m: { type: string }) => void)[] = [];
  const fromRun = (m: Record<string, unknown>): void => {
    const type = m['type'] as string;
    const stream = streams.get(type);
    const w = stream ? undefined : waiting.get(type);
    if (stream) stream(m);
    else if (w) {
      waiting.delete(type);
      w(m);
    } else inbox.push(m);
  };
  runSubscribers(init, {
    postMessage: (m) => fromRun(m as Record<string, unknown>),
    on: (_event, f) => handlers.push(f),
  });
  return {
    post: (m) => {
      for (const f of handlers) f(m as { type: string });
    },
    next: (type) => {
      const i = inbox.findIndex((m) => m['type'] === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      return new Promise((resolve) => waiting.set(type, resolve));
    },
    on: (type, f) => {
      streams.set(type, f);
    },
    end: async () => {},
  };
}

// ------------------------------------------------------------------ main thread

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  hardTimeLimit('hub-load', 90 + o.warmup + o.duration + (o.mode === 'idle' ? o.hold : 0));
  const threads: ThreadChannel[] = [];
  let first = 0;
  for (let t = 0; t < o.threads; t++) {
    const count = Math.floor(o.connections / o.threads) + (t < o.connections % o.threads ? 1 : 0);
    const init: SubInit = { options: o, first, count };
    threads.push(
      o.threads === 1 && !o.workers
        ? localThread(init)
        : spawnThread('hub-load', new URL(import.meta.url), init),
    );
    first += count;
  }
  const t0 = performance.now();
  const ready = await Promise.all(threads.map((t) => t.next('ready')));
  const subscribed = ready.reduce((n, r) => n + (r['ready'] as number), 0);
  const connectS = (performance.now() - t0) / 1000;
  process.stderr.write(
    `hub-load: ${subscribed}/${o.connections} connections open and subscribed (${o.protocol}, ${o.rooms} rooms) in ${connectS.toFixed(2)}s\n`,
  );
  if (subscribed === 0) {
    process.stdout.write(
      `${JSON.stringify({ mode: o.mode, protocol: o.protocol, error: 'no subscriber could subscribe', errors: o.connections })}\n`,
    );
    process.exit(1);
  }
  const collectReports = async (): Promise<SubReport[]> => {
    for (const t of threads) t.post({ type: 'stop' });
    return (await Promise.all(threads.map((t) => t.next('report')))).map((r) => r['report'] as SubReport);
  };
  if (o.mode === 'idle') {
    await sleep(o.hold * 1000);
    const reports = await collectReports();
    const errors = reports.reduce((n, r) => n + errorTotal(r.errors), 0);
    process.stdout.write(
      `${JSON.stringify({ mode: 'idle', protocol: o.protocol, connections: reports.reduce((n, r) => n + r.ready, 0), requested: o.connections, rooms: o.rooms, connect_s: connectS, server_rss_kb: o.pid ? rssKb(o.pid) : -1, errors })}\n`,
    );
    process.exit(0);
  }
  const pubs = new PubRun(
    o,
    ready.map((r) => ({ perRoom: r['perRoom'] as number[], done: r['done'] as number[] })),
  );
  threads.forEach((t, i) => {
    t.on('done', (m) => pubs.marked(i, m['done'] as [number, number][]));
  });
  await new Promise<void>((resolve) => pubs.connectAll(resolve));
  if (pubs.readyCount < o.rooms)
    process.stderr.write(`hub-load: ${pubs.readyCount}/${o.rooms} publishers ready\n`);
  await sleep(200); // let the server finish its connection callbacks
  pubs.start();
  const ticker = setInterval(() => pubs.tick(), 50);
  await sleep(o.warmup * 1000);
  for (const t of threads) t.post({ type: 'measure' });
  pubs.measuring = true;
  const m0 = performance.now();
  const cpu0 = process.cpuUsage();
  const srv0 = o.pid ? cpuTicks(o.pid) : Number.NaN;
  await sleep(o.duration * 1000);
  pubs.measuring = false;
  clearInterval(ticker);
  const reports = await collectReports();
  const secs = (performance.now() - m0) / 1000;
  const cpu1 = process.cpuUsage(cpu0);
  const srv1 = o.pid ? cpuTicks(o.pid) : Number.NaN;
  pubs.close();
  const hist = new Uint32Array(HIST_BUCKETS);
  let messages = 0;
  let dropped = 0;
  let duplicates = 0;
  const errors = noErrors();
  for (const k of ERROR_KINDS) errors[k] += pubs.errors[k];
  for (const r of reports) {
    messages += r.messages;
    dropped += r.dropped;
    duplicates += r.duplicates;
    for (let i = 0; i < HIST_BUCKETS; i++) hist[i]! += r.hist[i]!;
    for (const k of ERROR_KINDS) errors[k] += r.errors[k];
  }
  const pct = (p: number): number => percentile(hist, messages, p) * BUCKET_US;
  const result = {
    mode: 'broadcast',
    generator: 'node',
    protocol: o.protocol,
    threads: o.threads,
    connections: reports.reduce((n, r) => n + r.ready, 0),
    publishers: pubs.readyCount,
    rooms: o.rooms,
    size: o.size,
    window: o.window,
    duration_s: Number(secs.toFixed(2)),
    msgs_per_s: Math.round(messages / secs),
    offered_msgs_per_s: Math.round(pubs.offered / secs),
    p50_us: pct(0.5),
    p90_us: pct(0.9),
    p99_us: pct(0.99),
    p999_us: pct(0.999),
    dropped,
    duplicates,
    stalls: pubs.stalls,
    client_cpu_pct: Math.round(((cpu1.user + cpu1.system) / 1e6 / secs) * 100),
    server_cpu_pct: o.pid ? Math.round(((srv1 - srv0) / 100 / secs) * 100) : -1,
    server_rss_kb: o.pid ? rssKb(o.pid) : -1,
    errors: errorTotal(errors),
    error_detail: errors,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await Promise.all(threads.map((t) => t.end()));
  process.exit(0);
}

if (isMainThread) {
  main().catch((error: unknown) => {
    process.stderr.write(`hub-load: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
} else {
  runSubscribers(workerData as SubInit, parentPort!);
}
