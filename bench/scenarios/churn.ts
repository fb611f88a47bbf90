/**
 * `churn` (not in the default run: 5 minutes per server) keeps 1,000 connection slots busy
 * through an echo server (bench/churn.ts: connect, 10 messages of 32 B each echoed before the
 * next, close handshake, TCP teardown) and samples the server's RSS and heap every few seconds
 * (bench/memory-sampler.ts preloaded); it reports start, end and max of both, their slope over
 * the second half of the run, and both after a forced GC before and after the load. Duplex
 * (`duplex echo --no-deflate`) and ws, one after the other (`--rounds N` alternates them).
 */
import path from 'node:path';
import { GcSamples, type MemorySample } from '../lib/gc-samples.js';
import { fmt, int, runGenerator, sleep, startServer, stopChild, withFdLimit } from '../lib/proc.js';
import type { BenchContext, BenchOptions, Scenario, ServerName } from '../lib/scenario.js';

/** CHURN_DEFAULT_S is the churn scenario's length per server unless --duration says otherwise. */
const CHURN_DEFAULT_S = 300;

function churnServer(ctx: BenchContext, name: ServerName): string[] {
  const node = [process.execPath, '--expose-gc', '--import', ctx.gcPreload, '--import', ctx.memoryPreload];
  if (name === 'duplex')
    return [...node, path.join(ctx.root, 'dist', 'cli', 'main.js'), 'echo', '--no-deflate', '--port', '0'];
  return [...node, path.join(ctx.dir, 'servers', 'ws.js'), 'echo', '--port', '0'];
}

/** churnSeconds is the churn run's length per server: 5 minutes unless --duration says otherwise. */
export function churnSeconds(o: BenchOptions): number {
  return o.durationGiven ? o.duration : CHURN_DEFAULT_S;
}

/** churnRounds is 1 (each server once, 5 minutes each) unless --rounds says otherwise. */
export function churnRounds(o: BenchOptions): number {
  return o.roundsGiven ? o.rounds : 1;
}

interface MemoryFigures {
  start: number;
  end: number;
  max: number;
  /** Least-squares slope over the second half of the run, bytes per minute. */
  slopePerMin: number;
}

interface ChurnResult {
  server: ServerName;
  seconds: number;
  cycles: number;
  cyclesPerS: number;
  msgsPerS: number;
  errors: number;
  clientCpu: number;
  /** RSS and heap after a forced GC, before the load and after it ended. */
  gcBefore: MemorySample | undefined;
  gcAfter: MemorySample | undefined;
  rss: MemoryFigures;
  heap: MemoryFigures;
  samples: MemorySample[];
}

/** slope is the least-squares slope of y over x (x in ms), in units per minute. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 60_000;
}

function figures(samples: MemorySample[], key: 'rss' | 'heapUsed'): MemoryFigures {
  if (samples.length === 0)
    return { start: Number.NaN, end: Number.NaN, max: Number.NaN, slopePerMin: Number.NaN };
  return {
    start: samples[0]![key],
    end: samples[samples.length - 1]![key],
    max: Math.max(...samples.map((s) => s[key])),
    // The second half by sample count (samples are evenly spaced unless the server stalls).
    slopePerMin: slope(samples.slice(samples.length >> 1).map((s) => ({ x: s.t, y: s[key] }))),
  };
}

/** churnOnce runs one server under churn for the scenario's length, sampling its memory. */
async function churnOnce(ctx: BenchContext, name: ServerName): Promise<ChurnResult> {
  const { o, pin } = ctx;
  const seconds = churnSeconds(o);
  const everyMs = Math.max(100, Math.min(2000, Math.round((seconds * 1000) / 30)));
  const need = o.churnConnections + 200;
  const samples: MemorySample[] = [];
  const memory = new GcSamples();
  const server = await startServer(
    withFdLimit([...pin.server, ...churnServer(ctx, name)], need, ctx.limits),
    (line) => memory.line(line, (s) => samples.push(s)),
    { DUPLEX_BENCH_SAMPLE_MS: String(everyMs) },
  );
  /** gcSample forces a GC in the server and waits (bounded) for the sample taken after it. */
  const gcSample = () => memory.afterGc(server.pid);
  try {
    await sleep(500);
    const gcBefore = await gcSample();
    const from = samples.length;
    const argv = withFdLimit(
      [
        ...pin.generator,
        process.execPath,
        path.join(ctx.dir, 'churn.js'),
        '-c',
        String(o.churnConnections),
        '-m',
        '10',
        '-s',
        '32',
        '-d',
        String(seconds),
        '--port',
        String(server.port),
      ],
      need,
      ctx.limits,
    );
    const r = await runGenerator(argv, seconds + 60);
    const during = samples.slice(from);
    const gcAfter = await gcSample();
    return {
      server: name,
      seconds: Number(r['seconds']),
      cycles: Number(r['cycles']),
      cyclesPerS: Number(r['cycles_per_s']),
      msgsPerS: Number(r['msgs_per_s']),
      errors: Number(r['errors']),
      clientCpu: Number(r['client_cpu_pct']),
      gcBefore,
      gcAfter,
      rss: figures(during, 'rss'),
      heap: figures(during, 'heapUsed'),
      samples: during,
    };
  } finally {
    await stopChild(server.child);
  }
}

async function runChurnScenario(ctx: BenchContext): Promise<ChurnResult[]> {
  const servers = (['duplex', 'ws'] as const).filter((s) => ctx.o.servers.includes(s));
  const out: ChurnResult[] = [];
  for (let round = 0; round < churnRounds(ctx.o); round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const r = await churnOnce(ctx, s);
      out.push(r);
      ctx.log(
        `bench: churn round ${round + 1} ${s}: ${r.cyclesPerS} connections/s, ${r.msgsPerS} msg/s, errors ${r.errors}; RSS ${mb(r.rss.start)} -> ${mb(r.rss.end)} MB (max ${mb(r.rss.max)}, ${mb(r.rss.slopePerMin, 2)} MB/min over the second half); heap ${mb(r.heap.start)} -> ${mb(r.heap.end)} MB (${mb(r.heap.slopePerMin, 2)} MB/min)`,
      );
    }
  }
  return out;
}

const mb = (bytes: number | undefined, digits = 1): string => fmt((bytes ?? Number.NaN) / 1_048_576, digits);

function churnMarkdown(results: ChurnResult[], ctx: BenchContext): string {
  const lines: string[] = [];
  lines.push(
    `Churn: ${int(ctx.o.churnConnections)} connections, each connecting, sending 10 messages of 32 B (each echoed before the next), closing; ${int(churnSeconds(ctx.o))} s per server. Memory sampled in the server without forcing GC; "after GC" figures after a forced full collection before the load and after it ended. MB = MiB.`,
  );
  lines.push('');
  lines.push(
    '| server | connections/s | msg/s | errors | RSS start / end / max | RSS slope, 2nd half | heap start / end / max | heap slope, 2nd half | after GC, before -> after load: RSS; heap |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    lines.push(
      `| ${r.server} | ${int(r.cyclesPerS)} | ${int(r.msgsPerS)} | ${int(r.errors)} | ${mb(r.rss.start)} / ${mb(r.rss.end)} / ${mb(r.rss.max)} MB | ${mb(r.rss.slopePerMin, 2)} MB/min | ${mb(r.heap.start)} / ${mb(r.heap.end)} / ${mb(r.heap.max)} MB | ${mb(r.heap.slopePerMin, 2)} MB/min | ${mb(r.gcBefore?.rss)} -> ${mb(r.gcAfter?.rss)} MB; ${mb(r.gcBefore?.heapUsed)} -> ${mb(r.gcAfter?.heapUsed)} MB |`,
    );
  }
  return lines.join('\n');
}

export const churn: Scenario = {
  name: 'churn',
  inDefault: false,
  fds: (o) => o.churnConnections + 200,
  describe: (ctx) => [
    `churn: generator bench/churn.ts (node:net, one thread), ${ctx.o.churnConnections} connections, ${churnSeconds(ctx.o)} s per server, ${churnRounds(ctx.o)} round(s)`,
  ],
  async run(ctx) {
    const results = await runChurnScenario(ctx);
    return { scenario: 'churn', rows: [], text: churnMarkdown(results, ctx), json: results };
  },
};
