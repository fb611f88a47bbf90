/**
 * bench-worker is one worker thread of `duplex bench`: it opens its share of the
 * connections, drives them (closed loop or at a fixed rate), records latencies in HDR
 * histograms and answers the main thread's `sample`, `measure` and `stop` messages (to `stop`:
 * its totals, then `stopped` once its connections are closed).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import {
  BenchConnection,
  type BenchHandler,
  type BenchTarget,
  clientFrame,
  ERROR_KINDS,
  type ErrorKind,
} from './bench-client.js';
import { encodeHistogram, newHistogram } from './bench-histogram.js';

/** WorkerInit is what the main thread gives each worker. */
export interface WorkerInit {
  target: BenchTarget;
  /** Index of this worker's first connection among all, and how many it runs. */
  first: number;
  count: number;
  total: number;
  size: number;
  binary: boolean;
  inflight: number;
  /** Open loop: messages per second over all connections. */
  rate: number | undefined;
  rampS: number;
}

/** WorkerSample is one worker's traffic since its previous sample. */
export interface WorkerSample {
  type: 'sample';
  histogram: string;
  messages: number;
  open: number;
  errors: number;
}

/** WorkerFinal is one worker's totals over the measured time. */
export interface WorkerFinal {
  type: 'final';
  histogram: string;
  messages: number;
  bytes: number;
  sent: number;
  opened: number;
  errors: Record<ErrorKind, number>;
  firstErrors: string[];
}

/** Frames in the pool each connection cycles through, each masked with its own random key. */
const POOL = 8;
/** Handshakes in progress at once per worker when there is no --ramp. */
const PARALLEL_CONNECTS = 64;

function payload(size: number, binary: boolean): Buffer {
  const p = Buffer.allocUnsafe(size);
  let s = 0x2545f491;
  for (let i = 0; i < size; i++) {
    if (binary) {
      s = (s * 1103515245 + 12345) >>> 0;
      p[i] = s >>> 24;
    } else p[i] = 0x61 + (i % 26);
  }
  return p;
}

class WorkerRun implements BenchHandler {
  readonly conns: BenchConnection[] = [];
  readonly pool: Buffer[] = [];
  readonly opcode: number;
  /**
   * Latencies since the last sample, each recorded once (one histogram update per message):
   * at a sample they go into `total` when measuring; those from before `measure` wait in
   * `beforeMeasure` to be reported with the sample's interval, never in `total`.
   */
  readonly current = newHistogram();
  readonly beforeMeasure = newHistogram();
  readonly total = newHistogram();
  measuring = false;
  stopping = false;
  open = 0;
  openedCount = 0;
  settled = 0;
  // since the last sample
  sampleMessages = 0;
  sampleErrors = 0;
  // measured
  messages = 0;
  bytes = 0;
  sent = 0;
  readonly errors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
  readonly firstErrors: string[] = [];
  #next = 0;
  #poolIndex = 0;
  #onReady: (() => void) | undefined;
  /** Open loop: ms between two messages of one connection. */
  readonly gap: number;
  readonly start = performance.now();

  constructor(readonly init: WorkerInit) {
    this.opcode = init.binary ? 2 : 1;
    const data = payload(init.size, init.binary);
    for (let i = 0; i < POOL; i++) this.pool.push(clientFrame(this.opcode, data));
    for (let i = 0; i < init.count; i++) {
      const conn = new BenchConnection(init.target, this);
      conn.index = init.first + i;
      this.conns.push(conn);
    }
    this.gap = init.rate === undefined ? 0 : (init.total / init.rate) * 1000;
  }

  connectAll(onReady: () => void): void {
    this.#onReady = onReady;
    if (this.conns.length === 0) {
      onReady();
      return;
    }
    if (this.init.rampS > 0) {
      this.conns.forEach((conn, i) => {
        const at = ((this.init.first + i) / this.init.total) * this.init.rampS * 1000;
        setTimeout(() => conn.connect(), at);
      });
      return;
    }
    while (this.#next < Math.min(PARALLEL_CONNECTS, this.conns.length)) this.conns[this.#next++]!.connect();
  }

  #settle(): void {
    this.settled++;
    if (this.init.rampS === 0 && this.#next < this.conns.length) this.conns[this.#next++]!.connect();
    if (this.settled === this.conns.length) this.#onReady?.();
  }

  opened(conn: BenchConnection): void {
    this.open++;
    this.openedCount++;
    this.#settle();
    if (this.stopping) return;
    if (this.init.rate === undefined) {
      const now = performance.now();
      const frames: Buffer[] = [];
      for (let k = 0; k < this.init.inflight; k++) {
        conn.sent.push(now);
        frames.push(this.#frame());
      }
      conn.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      if (this.measuring) this.sent += frames.length;
    } else {
      // Spread the connections' schedules evenly over one gap.
      conn.nextDue = Math.max(performance.now(), this.start + (conn.index / this.init.total) * this.gap);
    }
  }

  #frame(): Buffer {
    const frame = this.pool[this.#poolIndex]!;
    this.#poolIndex = (this.#poolIndex + 1) % POOL;
    return frame;
  }

  message(conn: BenchConnection, opcode: number, length: number): void {
    if (opcode !== this.opcode || length !== this.init.size) {
      conn.fail(
        'mismatch',
        `echo of ${length} bytes with opcode ${opcode}, expected ${this.init.size} with ${this.opcode}`,
      );
      return;
    }
    const sentAt = conn.sent.shift();
    if (sentAt === undefined) {
      conn.fail('mismatch', 'a message nobody asked for');
      return;
    }
    const now = performance.now();
    const us = Math.max(1, Math.round((now - sentAt) * 1000));
    this.current.recordValue(us);
    this.sampleMessages++;
    if (this.measuring) {
      this.messages++;
      this.bytes += length;
    }
    if (this.stopping || this.init.rate !== undefined) return;
    conn.sent.push(now);
    conn.write(this.#frame());
    if (this.measuring) this.sent++;
  }

  /** tick sends, at a fixed rate, every message that is due and fits the in-flight limit. */
  tick(): void {
    if (this.stopping) return;
    const now = performance.now();
    for (const conn of this.conns) {
      if (!conn.open) continue;
      let frames: Buffer[] | undefined;
      while (conn.nextDue <= now && conn.sent.length < this.init.inflight) {
        // Coordinated omission: latency counts from when the message was due, not from
        // when a slow server let us send it.
        conn.sent.push(conn.nextDue);
        conn.nextDue += this.gap;
        frames ??= [];
        frames.push(this.#frame());
      }
      if (frames) {
        conn.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
        if (this.measuring) this.sent += frames.length;
      }
    }
  }

  lost(_conn: BenchConnection, wasOpen: boolean, kind: ErrorKind, why: string): void {
    if (wasOpen) this.open--;
    else this.#settle();
    if (this.stopping) return;
    this.errors[kind]++;
    this.sampleErrors++;
    if (this.firstErrors.length < 5) this.firstErrors.push(`${kind}: ${why}`);
  }

  /** startMeasuring: what was recorded until now belongs to the interval, not to the measured total. */
  startMeasuring(): void {
    this.beforeMeasure.add(this.current);
    this.current.reset();
    this.measuring = true;
  }

  sample(): WorkerSample {
    if (this.measuring) this.total.add(this.current);
    let interval = this.current;
    if (this.beforeMeasure.totalCount > 0) {
      this.beforeMeasure.add(this.current);
      interval = this.beforeMeasure;
    }
    const out: WorkerSample = {
      type: 'sample',
      histogram: encodeHistogram(interval),
      messages: this.sampleMessages,
      open: this.open,
      errors: this.sampleErrors,
    };
    this.current.reset();
    this.beforeMeasure.reset();
    this.sampleMessages = 0;
    this.sampleErrors = 0;
    return out;
  }

  /** final ends the measured time and gives its totals. */
  final(): WorkerFinal {
    if (this.measuring) {
      this.total.add(this.current);
      this.current.reset();
    }
    this.measuring = false;
    return {
      type: 'final',
      histogram: encodeHistogram(this.total),
      messages: this.messages,
      bytes: this.bytes,
      sent: this.sent,
      opened: this.openedCount,
      errors: this.errors,
      firstErrors: this.firstErrors,
    };
  }

  /**
   * stop closes every connection (a close frame with 1000, then a half-close) and calls
   * `done` once all are closed, so that the thread is not ended with close frames unsent.
   */
  stop(done: () => void): void {
    this.stopping = true;
    let left = this.conns.length;
    if (left === 0) done();
    for (const conn of this.conns)
      conn.close(() => {
        if (--left === 0) done();
      });
  }
}

const port = parentPort;
if (port) {
  const run = new WorkerRun(workerData as WorkerInit);
  let ticker: NodeJS.Timeout | undefined;
  if (run.init.rate !== undefined) ticker = setInterval(() => run.tick(), 1);
  run.connectAll(() => port.postMessage({ type: 'ready', opened: run.openedCount }));
  port.on('message', (m: { type: string }) => {
    switch (m.type) {
      case 'sample':
        port.postMessage(run.sample());
        break;
      case 'measure':
        run.startMeasuring();
        break;
      case 'stop':
        clearInterval(ticker);
        port.postMessage(run.final());
        run.stop(() => port.postMessage({ type: 'stopped' }));
        break;
    }
  });
}
