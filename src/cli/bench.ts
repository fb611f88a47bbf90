import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { ERROR_KINDS, type ErrorKind } from './bench-client.js';
import { decodeHistogram, type Histogram, newHistogram } from './bench-histogram.js';
import type { BenchOptions } from './bench-options.js';
import { renderReport } from './bench-report.js';
import {
  cpuPct,
  errorLines,
  giveUpAfter,
  latencyFields,
  latencySummary,
  round,
  Sampler,
  sleep,
  WorkerChannel,
  warmupAndMeasure,
} from './bench-run.js';
import type { WorkerFinal, WorkerInit } from './bench-worker.js';

export { formatUs, type TimelinePoint } from './bench-run.js';

/** BenchResult is what `duplex bench --json` prints (one object), and what the report shows. */
export interface BenchResult {
  url: string;
  connections: number;
  connected: number;
  threads: number;
  size: number;
  type: 'text' | 'binary';
  mode: 'closed-loop' | 'rate';
  inflight: number;
  rate: number | null;
  warmup_s: number;
  duration_s: number;
  messages: number;
  msgs_per_s: number;
  sent_per_s: number;
  mbytes_per_s: number;
  min_us: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  stddev_us: number;
  /** Where latency counts from: the send (closed loop) or the time a message was due (--rate). */
  latency_from: 'send' | 'due';
  /** CPU time of this process (every thread) over the measured time, % of one core: near 100 x threads means the tool itself was the limit. */
  client_cpu_pct: number;
  errors: number;
  error_detail: Record<ErrorKind, number>;
  first_errors: string[];
}

function summary(o: BenchOptions, r: BenchResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const load =
    r.rate === null
      ? `${r.inflight} in flight each`
      : `${n(r.rate)} msgs/s offered (at most ${r.inflight} in flight each), latency from when due`;
  return [
    `duplex bench ${o.url.href}`,
    `  ${r.connected}/${r.connections} connections, ${r.size} B ${r.type}, ${load}, ${r.threads} thread${r.threads === 1 ? '' : 's'}`,
    `  ${r.duration_s} s measured after ${r.warmup_s} s warm-up`,
    '',
    `  throughput  ${n(r.msgs_per_s)} msgs/s  ${r.mbytes_per_s} MB/s`,
    `  latency     ${latencySummary(r)}`,
    ...errorLines(ERROR_KINDS, r),
    '',
  ].join('\n');
}

/**
 * runBench runs `duplex bench`: it spreads the connections over worker threads, samples
 * them every second (progress line, timeline), measures after the warm-up, and prints the
 * summary or one JSON object. Every phase is bounded in time: a hard limit ends the process
 * if a worker hangs. Resolves to the exit status.
 */
export async function runBench(o: BenchOptions): Promise<number> {
  giveUpAfter(o.rampS + o.warmupS + o.durationS + 60);
  const target = {
    url: o.url.href,
    headers: o.headers,
    protocols: o.protocols,
    ca: o.ca,
    insecure: o.insecure,
    handshakeTimeoutMs: 10_000,
  };
  if (o.insecure)
    process.stderr.write('duplex bench: WARNING: --insecure: TLS certificates are not checked\n');
  let failed: Error | undefined;
  const channels: WorkerChannel<WorkerInit>[] = [];
  let first = 0;
  for (let t = 0; t < o.threads; t++) {
    const count = Math.floor(o.connections / o.threads) + (t < o.connections % o.threads ? 1 : 0);
    const init: WorkerInit = {
      target,
      first,
      count,
      total: o.connections,
      size: o.size,
      binary: o.binary,
      inflight: o.inflight,
      rate: o.rate,
      rampS: o.rampS,
    };
    first += count;
    channels.push(
      new WorkerChannel(new URL('./bench-worker.js', import.meta.url), init, (error) => {
        failed = error;
      }),
    );
  }

  const sampler = new Sampler(channels, o.progress, 'msgs');

  const ready = await Promise.all(channels.map((c) => c.next<{ opened: number }>('ready')));
  const opened = ready.reduce((n, r) => n + r.opened, 0);
  if (opened === 0 || failed) {
    sampler.stop();
    const finals = await Promise.all(
      channels.map((c) => {
        c.post({ type: 'stop' });
        return c.next<WorkerFinal>('final');
      }),
    );
    await Promise.all(channels.map((c) => c.terminate()));
    const why = failed?.message ?? finals.flatMap((f) => f.firstErrors)[0] ?? 'unknown error';
    if (o.progress) process.stderr.write('\r\x1b[K');
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ url: o.url.href, connections: o.connections, connected: 0, error: `no connection could be opened: ${why}`, errors: o.connections })}\n`,
      );
    }
    process.stderr.write(`duplex bench: no connection to ${o.url.href} could be opened: ${why}\n`);
    return 1;
  }

  const { m0, cpu } = await warmupAndMeasure(channels, sampler, o.warmupS, o.durationS);
  await sampler.last();
  for (const c of channels) c.post({ type: 'stop' });
  const secs = (performance.now() - m0) / 1000;
  const finals = await Promise.all(channels.map((c) => c.next<WorkerFinal>('final')));
  // The workers close their connections (close frame, half-close) before they are ended:
  // at most about a second, as each connection gives up waiting for the server after 1 s.
  await Promise.race([Promise.all(channels.map((c) => c.next('stopped'))), sleep(2000)]);
  await Promise.all(channels.map((c) => c.terminate()));
  if (o.progress) process.stderr.write('\r\x1b[K');

  const total: Histogram = newHistogram();
  for (const f of finals) total.add(decodeHistogram(f.histogram));
  const errorDetail = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
  for (const f of finals) for (const k of ERROR_KINDS) errorDetail[k] += f.errors[k];
  const messages = finals.reduce((n, f) => n + f.messages, 0);
  const result: BenchResult = {
    url: o.url.href,
    connections: o.connections,
    connected: opened,
    threads: o.threads,
    size: o.size,
    type: o.binary ? 'binary' : 'text',
    mode: o.rate === undefined ? 'closed-loop' : 'rate',
    inflight: o.inflight,
    rate: o.rate ?? null,
    warmup_s: o.warmupS,
    duration_s: round(secs, 2),
    messages,
    msgs_per_s: Math.round(messages / secs),
    sent_per_s: Math.round(finals.reduce((n, f) => n + f.sent, 0) / secs),
    mbytes_per_s: round(finals.reduce((n, f) => n + f.bytes, 0) / secs / 1e6, 2),
    ...latencyFields(total),
    latency_from: o.rate === undefined ? 'send' : 'due',
    client_cpu_pct: cpuPct(cpu, secs),
    errors: ERROR_KINDS.reduce((n, k) => n + errorDetail[k], 0),
    error_detail: errorDetail,
    first_errors: finals.flatMap((f) => f.firstErrors).slice(0, 5),
  };
  if (o.report) {
    await writeFile(o.report, renderReport(result, sampler.timeline, total));
    process.stderr.write(`duplex bench: report written to ${o.report}\n`);
  }
  process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : summary(o, result));
  return 0;
}
