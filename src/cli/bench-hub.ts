import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { decodeHistogram, newHistogram } from './bench-histogram.js';
import type { HubBenchOptions } from './bench-hub-options.js';
import type {
  HubWorkerFinal,
  HubWorkerInit,
  HubWorkerPublished,
  PublisherReport,
} from './bench-hub-worker.js';
import { HUB_ERROR_KINDS, type HubErrorKind } from './bench-hub-worker.js';
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
  WorkerChannel,
  warmupAndMeasure,
} from './bench-run.js';

/** HubBenchResult is what `duplex bench --hub CHANNEL --json` prints (one object). */
export interface HubBenchResult {
  url: string;
  mode: 'hub';
  channel: string;
  subscribers: number;
  publishers: number;
  /** Subscribers subscribed, and publishers connected, when publishing started. */
  subscribed: number;
  connected_publishers: number;
  threads: number;
  size: number;
  rate: number;
  inflight: number;
  warmup_s: number;
  duration_s: number;
  /** Acknowledged publishes that were due in the measured time. */
  publishes: number;
  publishes_per_s: number;
  /** Deliveries of those publishes to the subscribers (duplicates not counted). */
  deliveries: number;
  /** publishes x subscribed: what a hub that loses nothing delivers. */
  expected_deliveries: number;
  /** Deliveries per second: the throughput figure of the hub mode. */
  msgs_per_s: number;
  mbytes_per_s: number;
  /** Messages a subscriber should have received and did not, over the whole run (warm-up included). */
  lost: number;
  /** Messages a subscriber received more than once, over the whole run. */
  duplicated: number;
  /** Subscribers that lost or duplicated anything: global index -> count. */
  lost_by_subscriber: Record<string, number>;
  duplicated_by_subscriber: Record<string, number>;
  /** Subscriptions resumed without their missed messages (recovered: false). */
  unrecovered: number;
  reconnects: number;
  /** Messages on the channel that this run did not publish (another publisher is active). */
  foreign: number;
  /** False when some subscriber still missed messages at the end of the drain (5 s after the last publish). */
  drained: boolean;
  min_us: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  stddev_us: number;
  /** Latency counts from when each publish was due (stamped in the message) to its arrival at a subscriber. */
  latency_from: 'due';
  client_cpu_pct: number;
  errors: number;
  error_detail: Record<HubErrorKind, number>;
  first_errors: string[];
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function summary(o: BenchOptions, r: HubBenchResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lossLine =
    r.lost === 0 && r.duplicated === 0
      ? '0 lost, 0 duplicated'
      : `${n(r.lost)} lost (${Object.keys(r.lost_by_subscriber).length} subscribers), ${n(r.duplicated)} duplicated (${Object.keys(r.duplicated_by_subscriber).length} subscribers)`;
  return [
    `duplex bench ${o.url.href} --hub ${r.channel}`,
    `  ${r.subscribed}/${r.subscribers} subscribers, ${r.connected_publishers}/${r.publishers} publishers, ${r.size} B JSON, ${n(r.rate)} publishes/s offered, ${r.threads} thread${r.threads === 1 ? '' : 's'}`,
    `  ${r.duration_s} s measured after ${r.warmup_s} s warm-up`,
    '',
    `  publishes   ${n(r.publishes)} (${n(r.publishes_per_s)}/s)`,
    `  deliveries  ${n(r.deliveries)} of ${n(r.expected_deliveries)} expected (${n(r.msgs_per_s)}/s, ${r.mbytes_per_s} MB/s)`,
    `  latency     ${latencySummary(r)}  (publish due -> subscriber)`,
    `  losses      ${lossLine}${r.unrecovered ? `, ${r.unrecovered} unrecovered resubscriptions` : ''}${r.drained ? '' : ' (not drained)'}`,
    ...errorLines(HUB_ERROR_KINDS, r),
    '',
  ].join('\n');
}

/** spread deals `count` global indexes over `threads` threads, round robin. */
function spread(count: number, threads: number): number[][] {
  const out: number[][] = Array.from({ length: threads }, () => []);
  for (let i = 0; i < count; i++) out[i % threads]!.push(i);
  return out;
}

/**
 * runHubBench runs `duplex bench --hub CHANNEL`: subscribers and publishers (HubClients)
 * spread over worker threads; once every subscriber is subscribed the publishers publish
 * stamped messages at the given rate; after warm-up and the measured time they stop, and the
 * subscribers get a drain period to receive the rest. Losses and duplicates come from the
 * publishers' sequence numbers. Resolves to the exit status.
 */
export async function runHubBench(o: BenchOptions, h: HubBenchOptions): Promise<number> {
  const connectTimeoutMs = 10_000;
  giveUpAfter(o.rampS + o.warmupS + o.durationS + 90);
  if (o.insecure)
    process.stderr.write('duplex bench: WARNING: --insecure: TLS certificates are not checked\n');
  const threads = Math.max(1, Math.min(o.threads, h.subscribers + h.publishers));
  const subs = spread(h.subscribers, threads);
  const pubs = spread(h.publishers, threads);
  const run = randomBytes(6).toString('hex');
  let failed: Error | undefined;
  const channels: WorkerChannel<HubWorkerInit>[] = [];
  for (let t = 0; t < threads; t++) {
    channels.push(
      new WorkerChannel(
        new URL('./bench-hub-worker.js', import.meta.url),
        {
          url: o.url.href,
          channel: h.channel,
          token: h.token,
          headers: o.headers,
          ca: o.ca,
          insecure: o.insecure,
          run,
          subscribers: subs[t]!,
          publishers: pubs[t]!,
          totalSubscribers: h.subscribers,
          totalPublishers: h.publishers,
          rate: h.rate,
          inflight: h.inflight,
          size: h.size,
          rampS: o.rampS,
          connectTimeoutMs,
        },
        (error) => {
          failed = error;
        },
      ),
    );
  }

  const sampler = new Sampler(channels, o.progress, 'deliveries', () => failed !== undefined);
  const end = async (): Promise<void> => {
    sampler.stop();
    await Promise.all(channels.map((c) => c.terminate()));
    if (o.progress) process.stderr.write('\r\x1b[K');
  };

  const ready = await Promise.all(
    channels.map((c) => c.next<{ subscribed: number; publishers: number }>('ready')),
  );
  const subscribed = ready.reduce((n, r) => n + r.subscribed, 0);
  const publishersOpen = ready.reduce((n, r) => n + r.publishers, 0);
  if (publishersOpen === 0 || failed) {
    await end();
    const why = failed?.message ?? 'no publisher could connect';
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ url: o.url.href, mode: 'hub', channel: h.channel, subscribed, connected_publishers: 0, error: why, errors: h.subscribers + h.publishers - subscribed })}\n`,
      );
    }
    process.stderr.write(`duplex bench: cannot run against the hub at ${o.url.href}: ${why}\n`);
    return 1;
  }

  for (const c of channels) c.post({ type: 'go' });
  const counted = (await Promise.all(channels.map((c) => c.next<{ subscribers: number }>('counted')))).reduce(
    (n, r) => n + r.subscribers,
    0,
  );
  const { m0, cpu } = await warmupAndMeasure(channels, sampler, o.warmupS, o.durationS);
  for (const c of channels) c.post({ type: 'stop' });
  const secs = (performance.now() - m0) / 1000;
  const published = await Promise.all(channels.map((c) => c.next<HubWorkerPublished>('published')));
  const reports: PublisherReport[] = published.flatMap((p) => p.publishers);
  for (const c of channels) c.post({ type: 'expect', publishers: reports });
  const finals = await Promise.all(channels.map((c) => c.next<HubWorkerFinal>('final')));
  await sampler.last();
  await end();

  const total = newHistogram();
  for (const f of finals) total.add(decodeHistogram(f.histogram));
  const errorDetail = Object.fromEntries(HUB_ERROR_KINDS.map((k) => [k, 0])) as Record<HubErrorKind, number>;
  for (const f of finals) for (const k of HUB_ERROR_KINDS) errorDetail[k] += f.errors[k];
  const lostBy: Record<string, number> = Object.assign({}, ...finals.map((f) => f.lost));
  const dupBy: Record<string, number> = Object.assign({}, ...finals.map((f) => f.duplicated));
  const publishes = reports.reduce((n, r) => n + r.measured, 0);
  const deliveries = finals.reduce((n, f) => n + f.deliveries, 0);
  const result: HubBenchResult = {
    url: o.url.href,
    mode: 'hub',
    channel: h.channel,
    subscribers: h.subscribers,
    publishers: h.publishers,
    subscribed: counted,
    connected_publishers: publishersOpen,
    threads,
    size: h.size,
    rate: h.rate,
    inflight: h.inflight,
    warmup_s: o.warmupS,
    duration_s: round(secs, 2),
    publishes,
    publishes_per_s: round(publishes / secs, 1),
    deliveries,
    expected_deliveries: publishes * counted,
    msgs_per_s: Math.round(deliveries / secs),
    mbytes_per_s: round(finals.reduce((n, f) => n + f.payloadBytes, 0) / secs / 1e6, 3),
    lost: sum(lostBy),
    duplicated: sum(dupBy),
    lost_by_subscriber: lostBy,
    duplicated_by_subscriber: dupBy,
    unrecovered: finals.reduce((n, f) => n + f.unrecovered, 0),
    reconnects: finals.reduce((n, f) => n + f.reconnects, 0),
    foreign: finals.reduce((n, f) => n + f.foreign, 0),
    drained: finals.every((f) => f.drained),
    ...latencyFields(total),
    latency_from: 'due',
    client_cpu_pct: cpuPct(cpu, secs),
    errors: HUB_ERROR_KINDS.reduce((n, k) => n + errorDetail[k], 0),
    error_detail: errorDetail,
    first_errors: finals.flatMap((f) => f.firstErrors).slice(0, 5),
  };
  if (o.report) {
    const rows: [string, string][] = [
      ['target', `${result.url} channel ${result.channel}`],
      [
        'clients',
        `${result.subscribed} of ${result.subscribers} subscribers, ${result.connected_publishers} of ${result.publishers} publishers, ${result.threads} threads`,
      ],
      [
        'messages',
        `${result.size} B JSON, ${result.rate} publishes/s offered, at most ${result.inflight} awaiting ack per publisher`,
      ],
      ['time', `${result.duration_s} s measured after ${result.warmup_s} s warm-up`],
      [
        'throughput',
        `${result.publishes_per_s} publishes/s, ${result.msgs_per_s.toLocaleString('en-US')} deliveries/s (${result.deliveries} of ${result.expected_deliveries} expected)`,
      ],
      [
        'latency',
        `publish due -> subscriber: p50 ${result.p50_us} µs, p90 ${result.p90_us} µs, p99 ${result.p99_us} µs, p99.9 ${result.p999_us} µs, max ${result.max_us} µs`,
      ],
      ['losses', `${result.lost} lost, ${result.duplicated} duplicated, ${result.unrecovered} unrecovered`],
      ['errors', String(result.errors)],
    ];
    await writeFile(o.report, renderReport(result, sampler.timeline, total, rows));
    process.stderr.write(`duplex bench: report written to ${o.report}\n`);
  }
  process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : summary(o, result));
  return 0;
}
