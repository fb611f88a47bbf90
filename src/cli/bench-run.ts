import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { decodeHistogram, type Histogram, newHistogram } from './bench-histogram.js';

/** TimelinePoint is one second of a run, over all connections. */
export interface TimelinePoint {
  /** Seconds since the first connection was attempted, at the end of the interval. */
  t: number;
  phase: 'ramp' | 'warmup' | 'measure';
  open: number;
  msgs_per_s: number;
  errors: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
}

/** SampleReply is what a bench worker answers to `{ type: 'sample' }`: its traffic since the previous sample. */
export interface SampleReply {
  histogram: string;
  messages: number;
  open: number;
  errors: number;
}

/** WorkerMessage is any message between the main thread and a bench worker; `type` names it. */
export type WorkerMessage = { type: string };

/** WorkerChannel is the main thread's side of one bench worker: typed waits on its replies, in order. */
export class WorkerChannel<Init> {
  readonly #worker: Worker;
  readonly #inbox = new Map<string, WorkerMessage[]>();
  readonly #waiting = new Map<string, ((m: WorkerMessage) => void)[]>();

  constructor(script: URL, init: Init, onError: (error: Error) => void) {
    this.#worker = new Worker(script, { workerData: init });
    this.#worker.on('message', (m: WorkerMessage) => {
      const waiter = this.#waiting.get(m.type)?.shift();
      if (waiter) waiter(m);
      else this.#inbox.set(m.type, [...(this.#inbox.get(m.type) ?? []), m]);
    });
    this.#worker.on('error', onError);
  }

  post(message: WorkerMessage & Record<string, unknown>): void {
    this.#worker.postMessage(message);
  }

  next<T>(type: string): Promise<T> {
    const queued = this.#inbox.get(type)?.shift();
    if (queued !== undefined) return Promise.resolve(queued as T);
    return new Promise((resolve) => {
      this.#waiting.set(type, [...(this.#waiting.get(type) ?? []), resolve as (m: WorkerMessage) => void]);
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const round = (n: number, digits = 0) => Number(n.toFixed(digits));

/** formatUs renders microseconds for people: `412 µs`, `3.21 ms`, `1.50 s`. */
export function formatUs(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** giveUpAfter ends the process with status 1 if no result came within `seconds` (a hung worker). */
export function giveUpAfter(seconds: number): void {
  setTimeout(() => {
    process.stderr.write(`duplex bench: no result after ${seconds} s, giving up\n`);
    process.exit(1);
  }, seconds * 1000).unref();
}

/** Sampler asks every worker for a sample once a second and keeps the timeline (and the progress line). */
export class Sampler {
  readonly timeline: TimelinePoint[] = [];
  phase: TimelinePoint['phase'] = 'ramp';
  readonly #channels: WorkerChannel<unknown>[];
  readonly #progress: boolean;
  readonly #unit: string;
  readonly #skip: () => boolean;
  readonly #t0 = performance.now();
  readonly #timer: ReturnType<typeof setInterval>;
  #lastSample = this.#t0;
  #sampling = false;

  /** `unit` names the per-second figure in the progress line; `skip` says when not to sample at all. */
  constructor(
    channels: WorkerChannel<unknown>[],
    progress: boolean,
    unit: string,
    skip: () => boolean = () => false,
  ) {
    this.#channels = channels;
    this.#progress = progress;
    this.#unit = unit;
    this.#skip = skip;
    this.#timer = setInterval(() => void this.sample(), 1000);
  }

  /** sample takes one timeline point now, unless a sample is already under way. */
  async sample(): Promise<void> {
    if (this.#sampling || this.#skip()) return;
    this.#sampling = true;
    for (const c of this.#channels) c.post({ type: 'sample' });
    const samples = await Promise.all(this.#channels.map((c) => c.next<SampleReply>('sample')));
    this.#sampling = false;
    const now = performance.now();
    const secs = (now - this.#lastSample) / 1000;
    this.#lastSample = now;
    const h = newHistogram();
    for (const s of samples) h.add(decodeHistogram(s.histogram));
    const point: TimelinePoint = {
      t: round((now - this.#t0) / 1000, 2),
      phase: this.phase,
      open: samples.reduce((n, s) => n + s.open, 0),
      msgs_per_s: Math.round(samples.reduce((n, s) => n + s.messages, 0) / secs),
      errors: samples.reduce((n, s) => n + s.errors, 0),
      p50_us: h.getValueAtPercentile(50),
      p90_us: h.getValueAtPercentile(90),
      p99_us: h.getValueAtPercentile(99),
      max_us: h.maxValue,
    };
    this.timeline.push(point);
    if (this.#progress) {
      process.stderr.write(
        `\r\x1b[K${this.phase} ${point.t.toFixed(0)} s: ${point.open} open, ${point.msgs_per_s.toLocaleString('en-US')} ${this.#unit}/s, p99 ${formatUs(point.p99_us)}, ${point.errors} errors`,
      );
    }
  }

  /** stop ends the once-a-second sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** last stops sampling, waits for a sample under way, and takes the final point. */
  async last(): Promise<void> {
    this.stop();
    while (this.#sampling) await sleep(5);
    await this.sample();
  }
}

/**
 * warmupAndMeasure waits out the warm-up, tells the workers to start counting, and waits the
 * measured time. Returns when measuring began and the CPU time this process used meanwhile.
 */
export async function warmupAndMeasure(
  channels: WorkerChannel<unknown>[],
  sampler: Sampler,
  warmupS: number,
  durationS: number,
): Promise<{ m0: number; cpu: NodeJS.CpuUsage }> {
  sampler.phase = 'warmup';
  await sleep(warmupS * 1000);
  for (const c of channels) c.post({ type: 'measure' });
  sampler.phase = 'measure';
  const m0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(durationS * 1000);
  return { m0, cpu: process.cpuUsage(cpu0) };
}

/** latencyFields are the latency figures of a result, from the merged histogram of the measured time. */
export function latencyFields(total: Histogram) {
  return {
    min_us: total.totalCount === 0 ? 0 : total.minNonZeroValue,
    mean_us: round(total.mean, 1),
    p50_us: total.getValueAtPercentile(50),
    p90_us: total.getValueAtPercentile(90),
    p99_us: total.getValueAtPercentile(99),
    p999_us: total.getValueAtPercentile(99.9),
    max_us: total.maxValue,
    stddev_us: round(total.stdDeviation, 1),
  };
}

/** cpuPct is CPU time over wall time, % of one core. */
export const cpuPct = (cpu: NodeJS.CpuUsage, secs: number) =>
  Math.round(((cpu.user + cpu.system) / 1e6 / secs) * 100);

/** latencySummary is the latency figures of a summary: `p50 412 µs  p90 …  max 3.21 ms`. */
export function latencySummary(r: ReturnType<typeof latencyFields>): string {
  return `p50 ${formatUs(r.p50_us)}  p90 ${formatUs(r.p90_us)}  p99 ${formatUs(r.p99_us)}  p99.9 ${formatUs(r.p999_us)}  max ${formatUs(r.max_us)}`;
}

/** errorLines are the error lines of a summary: the count by kind, then the first errors. */
export function errorLines<K extends string>(
  kinds: readonly K[],
  r: { errors: number; error_detail: Record<K, number>; first_errors: string[] },
): string[] {
  const byKind = kinds
    .filter((k) => r.error_detail[k])
    .map((k) => `${k} ${r.error_detail[k]}`)
    .join(', ');
  return [
    `  errors      ${r.errors}${r.errors ? ` (${byKind})` : ''}`,
    ...r.first_errors.map((e) => `              ${e}`),
  ];
}
