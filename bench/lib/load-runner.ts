/**
 * load-runner is what the WebSocket scenarios (bench/scenarios/echo.ts, idle.ts, broadcast.ts,
 * wss.ts) share: the server command lines (Duplex as users run it, `ws`, the raw node:net
 * floor, Bun), one measured run of one server driven by the load generator (bench/load.ts by
 * default, wsload with `--generator wsload`), the rounds in alternation, the medians of
 * per-round ratios and the per-run table.
 */
import path from 'node:path';
import { GcSamples } from './gc-samples.js';
import {
  collect,
  cpuQuota,
  fmt,
  int,
  median,
  rssKb,
  runGenerator,
  sleep,
  startServer,
  stopChild,
  withFdLimit,
} from './proc.js';
import type { DetailTable, RatioRow, Target } from './report.js';
import type { BenchContext, ServerName } from './scenario.js';

/** Measure is one run of one server. */
export interface Measure {
  /** msgs/s, or bytes per idle connection: V8 heap used + external after a forced GC. */
  value: number;
  /** Idle memory only: RSS (VmRSS) per connection after a forced GC. */
  rss?: number;
  p99: number;
  clientCpu: number;
  serverCpu: number;
  errors: number;
  connections: number;
}

/** LoadSpec says what one WebSocket scenario runs. */
export interface LoadSpec {
  name: string;
  title: string;
  unit: 'msg/s' | 'B/conn';
  /** The servers it compares (those also asked for with --servers run). */
  servers: ServerName[];
  /** The servers' mode: echo every message, or relay it to every other client. */
  serverMode: 'echo' | 'relay';
  /** The generator's arguments besides port, pid, duration and the idle hold. */
  generatorArgs: string[];
  /** Connections of its biggest run (for the descriptor limit). */
  connections: number;
  /** Echo over TLS: the servers are bench/servers/tls-echo.ts with this certificate, the generator bench/load.ts --tls. */
  tls?: { cert: string; key: string };
  /**
   * Hold each server to this share of one CPU (a CFS quota, bench/lib/proc.ts cpuQuota), the
   * same for every server, so that a generator that costs about as much per message as the
   * servers can still saturate them (the wss scenario; docs/design/wss-bench.md).
   */
  serverCpuShare?: number;
}

/** SERVER_LABEL is how the tables name each server. */
export const SERVER_LABEL: Record<ServerName, string> = {
  duplex: 'Duplex',
  'duplex-whatwg': 'Duplex, WHATWG handler (addEventListener, event.data decoded to a string)',
  ws: 'ws 8',
  raw: 'raw node:net (no WebSocket)',
  'raw-batched': 'raw node:net, writes batched per turn',
  'raw-handle': 'raw TLSWrap handle (no WebSocket, no TLSSocket streams)',
  bun: 'Bun',
};

/** TLS_LABEL names the floors of the TLS row, whose raw server is node:tls. */
const TLS_LABEL: Partial<Record<ServerName, string>> = {
  raw: 'raw node:tls socket (no WebSocket)',
};

/** SHORT names each server in the ratio table's `compared` column. */
const SHORT: Record<ServerName, string> = {
  duplex: 'Duplex',
  'duplex-whatwg': 'Duplex WHATWG',
  ws: 'ws 8',
  raw: 'raw',
  'raw-batched': 'raw batched',
  'raw-handle': 'raw handle',
  bun: 'Bun',
};

function serverArgs(ctx: BenchContext, spec: LoadSpec, name: ServerName): string[] {
  const relay = spec.serverMode === 'relay';
  if (name === 'bun') {
    if (!ctx.bun) throw new Error('bench: no Bun binary');
    return [ctx.bun.path, path.join(ctx.dir, 'servers', 'bun.js'), relay ? 'relay' : 'echo', '--port', '0'];
  }
  const node = [process.execPath, '--expose-gc', '--import', ctx.gcPreload];
  // Idle memory: memory-sampler prints the heap after each forced GC.
  if (spec.unit === 'B/conn') node.push('--import', ctx.memoryPreload);
  if (name === 'duplex' && ctx.o.cpuProf) node.push('--cpu-prof', '--cpu-prof-dir', ctx.o.cpuProf);
  if (spec.tls) {
    const { cert, key } = spec.tls;
    if (name === 'raw' || name === 'raw-handle') {
      const script = path.join(ctx.dir, 'servers', 'raw.js');
      const handle = name === 'raw-handle' ? ['--handle'] : [];
      return [...node, script, 'echo', '--cert', cert, '--key', key, ...handle, '--port', '0'];
    }
    const script = path.join(ctx.dir, 'servers', 'tls-echo.js');
    if (name === 'duplex-whatwg')
      return [...node, script, 'duplex', '--whatwg', '--cert', cert, '--key', key, '--port', '0'];
    if (name !== 'duplex' && name !== 'ws') throw new Error(`bench: no TLS server for ${name}`);
    return [...node, script, name, '--cert', cert, '--key', key, '--port', '0'];
  }
  if (name === 'duplex') {
    const cli = path.join(ctx.root, 'dist', 'cli', 'main.js');
    return [...node, cli, relay ? 'broadcast' : 'echo', '--no-deflate', '--port', '0'];
  }
  if (name === 'ws')
    return [...node, path.join(ctx.dir, 'servers', 'ws.js'), relay ? 'relay' : 'echo', '--port', '0'];
  const mode = relay ? (name === 'raw-batched' ? 'relay-batched' : 'relay') : 'echo';
  return [...node, path.join(ctx.dir, 'servers', 'raw.js'), mode, '--port', '0'];
}

/** runOnce starts one server, drives it with the generator, and stops it. */
export async function runOnce(ctx: BenchContext, spec: LoadSpec, name: ServerName): Promise<Measure> {
  const { o, pin } = ctx;
  const idle = spec.unit === 'B/conn';
  const need = spec.connections + 200;
  const memory = new GcSamples();
  const server = await startServer(
    withFdLimit([...pin.server, ...serverArgs(ctx, spec, name)], need, ctx.limits),
    idle ? (line) => memory.line(line) : undefined,
    // memory-sampler prints a sample after every forced GC; its periodic one (hourly) never comes.
    idle ? { DUPLEX_BENCH_SAMPLE_MS: '3600000' } : undefined,
  );
  const quota = spec.serverCpuShare ? cpuQuota(server.pid, spec.serverCpuShare) : undefined;
  if (typeof quota === 'string') ctx.log(`bench: ${spec.name}: ${name} runs without its CPU quota: ${quota}`);
  try {
    const raw = name === 'raw' || name === 'raw-batched' || name === 'raw-handle';
    const settle = o.quick ? 1 : 2;
    // wsload speaks no TLS: the wss scenario always runs the repository's generator.
    const wsload = spec.tls ? undefined : ctx.wsload;
    const gen = wsload ? [wsload] : [process.execPath, path.join(ctx.dir, 'load.js')];
    const args = [...spec.generatorArgs, '--port', String(server.port), '--pid', String(server.pid)];
    if (raw) args.push('--raw');
    if (spec.tls) args.push('--tls');
    if (idle) args.push('--hold', String(settle + 3), ...(wsload ? ['--settle', String(settle + 2)] : []));
    else args.push('-d', String(o.duration), '-w', String(o.warmup));
    const argv = withFdLimit([...pin.generator, ...gen, ...args], need, ctx.limits);
    if (!idle) {
      const r = await runGenerator(argv, o.duration + o.warmup + 120);
      return {
        value: Number(r['msgs_per_s']),
        p99: Number(r['p99_us']),
        clientCpu: Number(r['client_cpu_pct']),
        serverCpu: Number(r['server_cpu_pct']),
        errors: Number(r['errors']),
        connections: Number(r['connections']),
      };
    }
    const sample = () => sampleMemory(server.pid, name === 'bun' ? undefined : memory);
    await sleep(300);
    const before = await sample();
    let after: Footprint | undefined;
    let sampled: Promise<void> | undefined;
    const r = await runGenerator(argv, settle + 3 + 120, (line) => {
      if (/connections open/.test(line) && !sampled) {
        sampled = (async () => {
          await sleep(settle * 1000);
          after = await sample();
        })();
      }
    });
    await sampled;
    const open = Number(r['connections']);
    const per = (key: keyof Footprint): number =>
      before && after && open > 0 ? (after[key] - before[key]) / open : Number.NaN;
    return {
      value: per('heap'),
      rss: per('rss'),
      p99: Number.NaN,
      clientCpu: Number.NaN,
      serverCpu: Number.NaN,
      errors: Number(r['errors']),
      connections: open,
    };
  } finally {
    await stopChild(server.child);
    if (typeof quota === 'object') quota.release();
  }
}

/** Footprint is a server's memory after a forced GC, in bytes. */
interface Footprint {
  /** V8 heap used + external (Buffers): what the server's objects hold. */
  heap: number;
  /** VmRSS. */
  rss: number;
}

/** FOOTPRINT_SAMPLES is how many forced-GC samples make one Footprint (their medians). */
const FOOTPRINT_SAMPLES = 3;

/**
 * sampleMemory forces a full GC in the server FOOTPRINT_SAMPLES times, 200 ms apart, and
 * returns the medians of heap used + external and of RSS, read by the server itself
 * (bench/memory-sampler.ts); `memory` undefined (Bun, which has no sampler) gives the
 * RSS from /proc and no heap figure.
 */
async function sampleMemory(pid: number, memory: GcSamples | undefined): Promise<Footprint> {
  const heap: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < FOOTPRINT_SAMPLES; i++) {
    if (i > 0) await sleep(200);
    if (memory === undefined) {
      await collect(pid);
      rss.push(rssKb(pid) * 1024);
      continue;
    }
    const s = await memory.afterGc(pid);
    if (s === undefined) continue;
    heap.push(s.heapUsed + s.external);
    rss.push(s.rss);
  }
  return { heap: median(heap), rss: median(rss) };
}

/** runRounds runs every server of the scenario once per round, the order flipped every other round. */
export async function runRounds(ctx: BenchContext, spec: LoadSpec): Promise<Record<string, Measure[]>> {
  const servers = spec.servers.filter((s) => ctx.o.servers.includes(s));
  const runs: Record<string, Measure[]> = {};
  for (const s of servers) runs[s] = [];
  for (let round = 0; round < ctx.o.rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const m = await runOnce(ctx, spec, s);
      runs[s]!.push(m);
      const shown =
        spec.unit === 'msg/s'
          ? `${Math.round(m.value)} msg/s p99 ${m.p99} us`
          : `${Math.round(m.value)} B/conn heap, ${Math.round(m.rss ?? Number.NaN)} B/conn RSS`;
      ctx.log(
        `bench: ${spec.name} round ${round + 1} ${s}: ${shown} (conns ${m.connections}, errors ${m.errors}, gen CPU ${m.clientCpu}%, server CPU ${m.serverCpu}%)`,
      );
    }
  }
  return runs;
}

/** ratio is the median over rounds of a[i] / b[i] (per-pair ratios, measured in alternation). */
export function ratio(
  a: Measure[] | undefined,
  b: Measure[] | undefined,
  key: 'value' | 'p99' = 'value',
): number {
  if (!a || !b) return Number.NaN;
  const r: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) r.push(a[i]![key] / b[i]![key]);
  return median(r);
}

/** cpuPerMessage is the server's CPU time per message (or delivery) of a run, in microseconds. */
export const cpuPerMessage = (m: Measure): number =>
  m.serverCpu > 0 && m.value > 0 ? ((m.serverCpu / 100) * 1e6) / m.value : Number.NaN;

/** cpuRatio is the median over rounds of the CPU per message of a[i] / b[i]. */
function cpuRatio(a: Measure[] | undefined, b: Measure[] | undefined): number {
  if (!a || !b) return Number.NaN;
  const r: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) r.push(cpuPerMessage(a[i]!) / cpuPerMessage(b[i]!));
  return median(r);
}

const med = (ms: Measure[] | undefined, key: keyof Measure): number =>
  median((ms ?? []).map((m) => m[key] ?? Number.NaN));

function figure(ms: Measure[] | undefined, unit: LoadSpec['unit']): string {
  if (!ms) return 'n/a';
  return unit === 'B/conn' ? `${fmt(med(ms, 'value') / 1000, 1)} KB` : `${int(med(ms, 'value'))} msg/s`;
}

/**
 * ratioRows is a WebSocket scenario's rows of the ratio table: Duplex against ws (the
 * headline, with its target), for throughput also the p99 latency, then every other server
 * that ran against ws (the raw floor, Bun).
 */
export function ratioRows(
  spec: LoadSpec,
  runs: Record<string, Measure[]>,
  target: Target | undefined,
  title = spec.title,
): RatioRow[] {
  const ws = runs['ws'];
  const versus = `/ ${SERVER_LABEL.ws}`;
  const rows: RatioRow[] = [
    {
      measure: `${title}: ${spec.unit === 'B/conn' ? 'V8 heap used + external per connection after GC' : spec.unit}`,
      compared: `Duplex ${versus}`,
      peer: figure(ws, spec.unit),
      subject: figure(runs['duplex'], spec.unit),
      ratio: ratio(runs['duplex'], ws),
      headline: true,
      ...(target ? { target } : {}),
    },
  ];
  if (spec.unit === 'msg/s' && spec.serverMode === 'echo')
    rows.push({
      measure: 'same: p99 round trip',
      compared: `Duplex ${versus}`,
      peer: `${int(med(ws, 'p99'))} us`,
      subject: `${int(med(runs['duplex'], 'p99'))} us`,
      ratio: ratio(runs['duplex'], ws, 'p99'),
    });
  if (spec.unit === 'msg/s')
    rows.push({
      measure:
        'same: server CPU time per message (what a message costs the server, whatever CPU share the shared machine left it; lower is better)',
      compared: `Duplex ${versus}`,
      peer: `${fmt(median((ws ?? []).map(cpuPerMessage)), 1)} us`,
      subject: `${fmt(median((runs['duplex'] ?? []).map(cpuPerMessage)), 1)} us`,
      ratio: cpuRatio(runs['duplex'], ws),
    });
  for (const s of Object.keys(runs) as ServerName[]) {
    if (s === 'duplex' || s === 'ws') continue;
    rows.push({
      measure: `same: ${(spec.tls && TLS_LABEL[s]) || SERVER_LABEL[s]}`,
      compared: `${SHORT[s]} ${versus}`,
      peer: figure(ws, spec.unit),
      subject: figure(runs[s], spec.unit),
      ratio: ratio(runs[s], ws),
    });
  }
  return rows;
}

/** DETAIL_HEAD is the per-run table's columns, the same for every WebSocket scenario. */
const DETAIL_HEAD = ['scenario', 'server', 'runs', 'median', 'generator CPU %', 'server CPU %', 'errors'];

/** detail is a WebSocket scenario's rows of the per-run table. */
export function detail(spec: LoadSpec, runs: Record<string, Measure[]>): DetailTable {
  const rows: string[][] = [];
  for (const [name, ms] of Object.entries(runs)) {
    const idle = spec.unit === 'B/conn';
    rows.push([
      spec.name,
      name,
      idle
        ? `heap ${ms.map((m) => int(m.value)).join(', ')}; RSS ${ms.map((m) => int(m.rss ?? Number.NaN)).join(', ')}`
        : ms.map((m) => int(m.value)).join(', '),
      idle
        ? `heap ${int(med(ms, 'value'))}, RSS ${int(med(ms, 'rss'))} ${spec.unit}`
        : `${int(med(ms, 'value'))} ${spec.unit}`,
      int(med(ms, 'clientCpu')),
      fmt(med(ms, 'serverCpu'), 1),
      String(ms.reduce((n, m) => n + m.errors, 0)),
    ]);
  }
  return { head: DETAIL_HEAD, rows };
}
