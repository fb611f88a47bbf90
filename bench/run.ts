/**
 * run is `npm run bench`: it starts Duplex, `ws` and a raw node:net floor side by side,
 * each pinned to CPU 0, drives them with a load generator pinned to CPU 1, alternates them
 * round by round (A/B/A/B, the order flipped every other round), and prints a Markdown
 * table of medians of per-pair ratios (Duplex / ws in the same round), then the
 * micro-benchmarks of the protocol core.
 *
 *   npm run bench -- [--quick] [--scenarios echo-32,echo-16k,echo-1m,idle,broadcast,micro]
 *                    [--duration S] [--warmup S] [--rounds N] [--generator auto|node|wsload]
 *                    [--servers duplex,ws,raw,bun] [--idle-connections N] [--subscribers N]
 *                    [--cpu-prof DIR] [--json FILE]
 *   npm run bench -- --scenarios churn [--duration S] [--churn-connections N]
 *
 * The generator: shared/tools/wsload.c (compiled to a temp dir) when a C compiler and
 * ../shared/tools/wsload.c exist (or WSLOAD_SRC names it), else bench/load.ts; the table
 * says which one ran. Every child is bounded in time and killed when it overstays.
 *
 * Bun (bench/servers/bun.ts) runs where it installs: by default when it is already in the
 * cache (bench/lib/bun.ts), and `--servers ...,bun` installs it there first (npm, once); when
 * that fails the run goes on without it and says so.
 *
 * The hub scenarios (issue 9, not in the default list; `npm run bench:hub` runs all three):
 *
 *   npm run bench -- --scenarios hub-room,hub-rooms,hub-idle [--rounds N] [--duration S]
 *                    [--subscribers N] [--rooms R] [--room-subscribers M] [--window W]
 *                    [--idle-connections N] [--hub-threads T]
 *
 * compare the Duplex hub (bench/servers/hub.ts) with Socket.IO 4 (bench/servers/socketio.ts),
 * driven by bench/hub-load.ts: one room of N subscribers (1,000) and one publisher; R rooms (10)
 * of M subscribers (100) with a publisher each; N idle subscribed connections (10,000) for
 * memory; each publisher keeps W messages in flight (64; docs/design/hub-bench-window.md).
 * See bench/lib/hub-harness.ts.
 *
 * `churn` (not in the default list: it runs 5 minutes per server) keeps 1,000 connections
 * churning through an echo server (bench/churn.ts: connect, 10 messages, close) and samples
 * the server's RSS and heap every few seconds (bench/memory-sampler.ts); it reports start,
 * end and max of both and their slope over the second half of the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUN_CACHE, type BunBinary, cachedBun, ensureBun } from './lib/bun.js';
import {
  HUB_SCENARIOS,
  type HubContext,
  type HubResult,
  type HubScenario,
  hubMarkdown,
  runHubScenario,
} from './lib/hub-harness.js';
import {
  collect,
  type FdLimits,
  fdLimits,
  fmt,
  int,
  median,
  type Pinning,
  pinning,
  rssKb,
  runGenerator,
  sleep,
  startServer,
  stopChild,
  withFdLimit,
} from './lib/proc.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench
const root = path.resolve(here, '..', '..');
const CLI = path.join(root, 'dist', 'cli', 'main.js');

type ServerName = 'duplex' | 'ws' | 'raw' | 'raw-batched' | 'bun';
type ScenarioName =
  | 'echo-32'
  | 'echo-16k'
  | 'echo-1m'
  | 'idle'
  | 'broadcast'
  | 'churn'
  | 'micro'
  | HubScenario;
type LoadScenario = Exclude<ScenarioName, 'micro' | 'churn' | HubScenario>;
const ALL_SCENARIOS: ScenarioName[] = [
  'echo-32',
  'echo-16k',
  'echo-1m',
  'idle',
  'broadcast',
  'churn',
  'micro',
  ...HUB_SCENARIOS,
];
const isLoadScenario = (s: ScenarioName): s is LoadScenario =>
  s !== 'micro' && s !== 'churn' && !isHubScenario(s);
const isHubScenario = (s: ScenarioName): s is HubScenario => (HUB_SCENARIOS as string[]).includes(s);
/** DEFAULT_SCENARIOS is what `npm run bench` runs; `churn` (5 minutes per server) only on request. */
const DEFAULT_SCENARIOS: ScenarioName[] = ['echo-32', 'echo-16k', 'echo-1m', 'idle', 'broadcast', 'micro'];
/** CHURN_DEFAULT_S is the churn scenario's length per server unless --duration says otherwise. */
const CHURN_DEFAULT_S = 300;

interface Options {
  quick: boolean;
  scenarios: ScenarioName[];
  duration: number;
  /** Whether --duration was given (churn keeps its own default otherwise). */
  durationGiven: boolean;
  warmup: number;
  rounds: number;
  /** Whether --rounds was given (churn runs each server once otherwise). */
  roundsGiven: boolean;
  churnConnections: number;
  generator: 'auto' | 'node' | 'wsload';
  servers: ServerName[];
  /** Whether --servers was given (Bun joins the default list only when already installed). */
  serversGiven: boolean;
  idleConnections: number;
  subscribers: number;
  /** Hub scenarios: rooms, subscribers per room, each publisher's window, generator threads. */
  rooms: number;
  roomSubscribers: number;
  window: number;
  hubThreads: number;
  cpuProf: string | undefined;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    scenarios: DEFAULT_SCENARIOS,
    duration: quick ? 1 : 5,
    durationGiven: false,
    warmup: quick ? 0.5 : 1,
    rounds: quick ? 1 : 3,
    roundsGiven: false,
    churnConnections: 1000,
    generator: 'auto',
    servers: ['duplex', 'ws', 'raw', 'raw-batched'],
    serversGiven: false,
    idleConnections: quick ? 1000 : 10_000,
    subscribers: quick ? 200 : 1000,
    rooms: 10,
    roomSubscribers: quick ? 20 : 100,
    window: 64,
    hubThreads: 0,
    cpuProf: undefined,
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') continue;
    else if (a === '--scenarios') {
      const list = next().split(',') as ScenarioName[];
      for (const s of list) if (!ALL_SCENARIOS.includes(s)) usage(`unknown scenario ${s}`);
      o.scenarios = list;
    } else if (a === '--duration') {
      o.duration = Number(next());
      o.durationGiven = true;
    } else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--rounds') {
      o.rounds = Number(next());
      o.roundsGiven = true;
    } else if (a === '--churn-connections') o.churnConnections = Number(next());
    else if (a === '--generator') o.generator = next() as Options['generator'];
    else if (a === '--servers') {
      o.servers = next().split(',') as ServerName[];
      o.serversGiven = true;
    } else if (a === '--idle-connections') o.idleConnections = Number(next());
    else if (a === '--subscribers') o.subscribers = Number(next());
    else if (a === '--rooms') o.rooms = Number(next());
    else if (a === '--room-subscribers') o.roomSubscribers = Number(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--hub-threads') o.hubThreads = Number(next());
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(next());
    else if (a === '--json') o.json = path.resolve(next());
    else usage(`unknown option ${a}`);
  }
  if (!(o.duration > 0 && o.duration <= 600) || !(o.rounds >= 1 && o.rounds <= 50))
    usage('bad duration or rounds');
  if (!(o.churnConnections >= 1 && o.churnConnections <= 10_000)) usage('--churn-connections is 1..10000');
  if (!(o.rooms >= 1 && o.roomSubscribers >= 1 && o.window >= 1 && o.window <= 1024 && o.hubThreads >= 0))
    usage('--rooms, --room-subscribers must be >= 1, --window 1..1024, --hub-threads >= 0 (0: one per CPU)');
  if (!['auto', 'node', 'wsload'].includes(o.generator)) usage('--generator is auto, node or wsload');
  if (!o.servers.includes('duplex')) o.servers.unshift('duplex');
  if (!o.servers.includes('ws')) o.servers.splice(1, 0, 'ws');
  return o;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nsee the comment at the top of bench/run.ts for the options\n`);
  process.exit(2);
}

// ------------------------------------------------------------------ machine

function wsloadBinary(choice: Options['generator']): string | undefined {
  if (choice === 'node') return undefined;
  const src = process.env['WSLOAD_SRC'] ?? path.resolve(root, '..', 'shared', 'tools', 'wsload.c');
  const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!existsSync(src) || !cc) {
    if (choice === 'wsload') usage(`--generator wsload needs a C compiler and ${src}`);
    return undefined;
  }
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'duplex-bench-')), 'wsload');
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`bench: compiling ${src} failed, using bench/load.ts\n${r.stderr}`);
    if (choice === 'wsload') process.exit(1);
    return undefined;
  }
  return out;
}

/** socketIoVersion is the version of the installed socket.io package (the peer of the hub scenarios). */
function socketIoVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(path.join(root, 'node_modules', 'socket.io', 'package.json'), 'utf8'),
    );
    return String((pkg as { version?: unknown }).version);
  } catch {
    return '4 (version unknown)';
  }
}

// ------------------------------------------------------------------ processes

const GC_PRELOAD = pathToFileURL(path.join(here, 'gc-on-signal.js')).href;

const MEMORY_PRELOAD = pathToFileURL(path.join(here, 'memory-sampler.js')).href;

function serverArgs(
  name: ServerName,
  scenario: ScenarioName,
  cpuProf: string | undefined,
  bun?: BunBinary,
): string[] {
  const relay = scenario === 'broadcast';
  if (name === 'bun') {
    if (!bun) throw new Error('bench: no Bun binary');
    return [bun.path, path.join(here, 'servers', 'bun.js'), relay ? 'relay' : 'echo', '--port', '0'];
  }
  const node = [process.execPath, '--expose-gc', '--import', GC_PRELOAD];
  if (scenario === 'churn') node.push('--import', MEMORY_PRELOAD);
  if (name === 'duplex') {
    if (cpuProf) node.push('--cpu-prof', '--cpu-prof-dir', cpuProf);
    return [...node, CLI, relay ? 'broadcast' : 'echo', '--no-deflate', '--port', '0'];
  }
  if (name === 'ws')
    return [...node, path.join(here, 'servers', 'ws.js'), relay ? 'relay' : 'echo', '--port', '0'];
  const mode = relay ? (name === 'raw-batched' ? 'relay-batched' : 'relay') : 'echo';
  return [...node, path.join(here, 'servers', 'raw.js'), mode, '--port', '0'];
}

// ------------------------------------------------------------------ scenarios

interface Measure {
  value: number; // msgs/s, or bytes per idle connection
  p99: number;
  clientCpu: number;
  serverCpu: number;
  errors: number;
  connections: number;
}

interface ScenarioSpec {
  title: string;
  unit: 'msg/s' | 'B/conn';
  servers: ServerName[];
  generatorArgs: (o: Options) => string[];
}

const SCENARIOS: Record<LoadScenario, ScenarioSpec> = {
  'echo-32': {
    title: 'echo, 100 connections, 32 B text',
    unit: 'msg/s',
    servers: ['duplex', 'ws', 'raw', 'bun'],
    generatorArgs: () => ['-c', '100', '-k', '1', '-s', '32', '--text'],
  },
  'echo-16k': {
    title: 'echo, 100 connections, 16 KiB binary',
    unit: 'msg/s',
    servers: ['duplex', 'ws', 'raw', 'bun'],
    generatorArgs: () => ['-c', '100', '-k', '1', '-s', '16384', '--binary'],
  },
  'echo-1m': {
    title: 'echo, 10 connections, 1 MiB binary',
    unit: 'msg/s',
    servers: ['duplex', 'ws', 'raw', 'bun'],
    generatorArgs: () => ['-c', '10', '-k', '1', '-s', '1048576', '--binary'],
  },
  idle: {
    title: 'memory per idle connection',
    unit: 'B/conn',
    servers: ['duplex', 'ws', 'raw', 'bun'],
    generatorArgs: (o) => ['-c', String(o.idleConnections), '--idle'],
  },
  broadcast: {
    title: 'broadcast 64 B to subscribers, max rate',
    unit: 'msg/s',
    servers: ['duplex', 'ws', 'raw', 'raw-batched', 'bun'],
    generatorArgs: (o) => ['-c', String(o.subscribers), '--broadcast', '-s', '64', '--window', '16'],
  },
};

interface Context {
  o: Options;
  pin: Pinning;
  wsload: string | undefined;
  limits: FdLimits;
  bun: BunBinary | undefined;
}

async function runOnce(ctx: Context, scenario: LoadScenario, name: ServerName): Promise<Measure> {
  const spec = SCENARIOS[scenario];
  const { o, pin } = ctx;
  const idle = scenario === 'idle';
  const need = (idle ? o.idleConnections : scenario === 'broadcast' ? o.subscribers : 100) + 200;
  const server = await startServer(
    withFdLimit(
      [...pin.server, ...serverArgs(name, scenario, name === 'duplex' ? o.cpuProf : undefined, ctx.bun)],
      need,
      ctx.limits,
    ),
  );
  try {
    const raw = name === 'raw' || name === 'raw-batched';
    const settle = o.quick ? 1 : 2;
    const gen = ctx.wsload ? [ctx.wsload] : [process.execPath, path.join(here, 'load.js')];
    const args = [...spec.generatorArgs(o), '--port', String(server.port), '--pid', String(server.pid)];
    if (raw) args.push('--raw');
    if (idle)
      args.push('--hold', String(settle + 3), ...(ctx.wsload ? ['--settle', String(settle + 2)] : []));
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
    await collect(server.pid);
    const before = rssKb(server.pid);
    let after = Number.NaN;
    let sampled: Promise<void> | undefined;
    const r = await runGenerator(argv, settle + 3 + 120, (line) => {
      if (/connections open/.test(line) && !sampled) {
        sampled = (async () => {
          await sleep(settle * 1000);
          await collect(server.pid);
          after = rssKb(server.pid);
        })();
      }
    });
    await sampled;
    const open = Number(r['connections']);
    return {
      value: ((after - before) * 1024) / open,
      p99: Number.NaN,
      clientCpu: Number.NaN,
      serverCpu: Number.NaN,
      errors: Number(r['errors']),
      connections: open,
    };
  } finally {
    await stopChild(server.child);
  }
}

interface ScenarioResult {
  scenario: ScenarioName;
  title: string;
  unit: string;
  runs: Record<string, Measure[]>;
}

async function runScenario(ctx: Context, scenario: LoadScenario): Promise<ScenarioResult> {
  const spec = SCENARIOS[scenario];
  const servers = spec.servers.filter((s) => ctx.o.servers.includes(s));
  const runs: Record<string, Measure[]> = {};
  for (const s of servers) runs[s] = [];
  for (let round = 0; round < ctx.o.rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const m = await runOnce(ctx, scenario, s);
      runs[s]!.push(m);
      const shown =
        spec.unit === 'msg/s'
          ? `${Math.round(m.value)} msg/s p99 ${m.p99} us`
          : `${Math.round(m.value)} B/conn`;
      process.stderr.write(
        `bench: ${scenario} round ${round + 1} ${s}: ${shown} (conns ${m.connections}, errors ${m.errors}, gen CPU ${m.clientCpu}%, server CPU ${m.serverCpu}%)\n`,
      );
    }
  }
  return { scenario, title: spec.title, unit: spec.unit, runs };
}

/** ratio is the median over rounds of a[i] / b[i] (per-pair ratios, measured in alternation). */
function ratio(a: Measure[] | undefined, b: Measure[] | undefined, key: 'value' | 'p99' = 'value'): number {
  if (!a || !b) return Number.NaN;
  const r: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) r.push(a[i]![key] / b[i]![key]);
  return median(r);
}

function markdown(results: ScenarioResult[], ctx: Context): string {
  const lines: string[] = [];
  const withBun = results.some((r) => r.runs['bun']);
  const bunHead = withBun ? ` Bun ${ctx.bun?.version ?? ''} |` : '';
  lines.push(
    `| scenario | raw node:net, no WebSocket | ws 8 (pure JS) | Duplex | Duplex p99 / ws p99 |${bunHead}`,
  );
  lines.push(`|---|---|---|---|---|${withBun ? '---|' : ''}`);
  for (const r of results) {
    const d = r.runs['duplex'];
    const w = r.runs['ws'];
    const raw = r.runs['raw'];
    const title =
      r.scenario === 'idle'
        ? `${r.title}, ${int(ctx.o.idleConnections)} open`
        : r.scenario === 'broadcast'
          ? `broadcast 64 B to ${int(ctx.o.subscribers)} subscribers, max rate`
          : r.title;
    if (r.unit === 'B/conn') {
      const kb = (m: Measure[] | undefined) =>
        m ? `${fmt(median(m.map((x) => x.value)) / 1000, 1)} KB` : 'n/a';
      const bunKb = withBun ? ` ${kb(r.runs['bun'])} (${fmt(ratio(r.runs['bun'], w))}x ws) |` : '';
      lines.push(`| ${title} | ${kb(raw)} | ${kb(w)} | ${kb(d)} (${fmt(ratio(d, w))}x ws) | |${bunKb}`);
      continue;
    }
    const abs = (m: Measure[] | undefined) => (m ? `${int(median(m.map((x) => x.value)))} msg/s` : 'n/a');
    const bunCell = withBun ? ` ${fmt(ratio(r.runs['bun'], w))}x (${abs(r.runs['bun'])}) |` : '';
    lines.push(
      `| ${title} | ${fmt(ratio(raw, w))}x | 1 (${abs(w)}) | **${fmt(ratio(d, w))}x** (${abs(d)}) | ${r.scenario === 'broadcast' ? '' : `${fmt(ratio(d, w, 'p99'))} (${int(median((d ?? []).map((x) => x.p99)))} us vs ${int(median((w ?? []).map((x) => x.p99)))} us)`} |${bunCell}`,
    );
    if (r.runs['raw-batched']) {
      lines.push(
        `| same, raw node:net with per-turn write batching | ${fmt(ratio(r.runs['raw-batched'], w))}x | | | |${withBun ? ' |' : ''}`,
      );
    }
  }
  lines.push('');
  lines.push('Medians of per-pair ratios over rounds run in alternation; absolute figures are medians too.');
  lines.push('');
  lines.push('| scenario | server | runs | median | generator CPU % | server CPU % | errors |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const [name, ms] of Object.entries(r.runs)) {
      lines.push(
        `| ${r.scenario} | ${name} | ${ms.map((m) => int(m.value)).join(', ')} | ${int(median(ms.map((m) => m.value)))} ${r.unit} | ${int(median(ms.map((m) => m.clientCpu)))} | ${int(median(ms.map((m) => m.serverCpu)))} | ${ms.reduce((n, m) => n + m.errors, 0)} |`,
      );
    }
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ churn

/** churnSeconds is the churn run's length per server: 5 minutes unless --duration says otherwise. */
function churnSeconds(o: Options): number {
  return o.durationGiven ? o.duration : CHURN_DEFAULT_S;
}

/** churnRounds is 1 (each server once, 5 minutes each) unless --rounds says otherwise. */
function churnRounds(o: Options): number {
  return o.roundsGiven ? o.rounds : 1;
}

interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  gc: boolean;
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
async function churnOnce(ctx: Context, name: ServerName): Promise<ChurnResult> {
  const { o, pin } = ctx;
  const seconds = churnSeconds(o);
  const everyMs = Math.max(100, Math.min(2000, Math.round((seconds * 1000) / 30)));
  const need = o.churnConnections + 200;
  const samples: MemorySample[] = [];
  let waiting: ((s: MemorySample) => void) | undefined;
  const server = await startServer(
    withFdLimit([...pin.server, ...serverArgs(name, 'churn', undefined)], need, ctx.limits),
    (line) => {
      if (!line.startsWith('memory ')) return;
      const s = JSON.parse(line.slice(7)) as MemorySample;
      if (s.gc) {
        waiting?.(s);
        waiting = undefined;
      } else samples.push(s);
    },
    { DUPLEX_BENCH_SAMPLE_MS: String(everyMs) },
  );
  /** gcSample forces a GC in the server and waits (bounded) for the sample taken after it. */
  const gcSample = (): Promise<MemorySample | undefined> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5_000);
      waiting = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      try {
        process.kill(server.pid, 'SIGUSR2');
      } catch {
        resolve(undefined);
      }
    });
  try {
    await sleep(500);
    const gcBefore = await gcSample();
    const from = samples.length;
    const argv = withFdLimit(
      [
        ...pin.generator,
        process.execPath,
        path.join(here, 'churn.js'),
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

async function runChurnScenario(ctx: Context): Promise<ChurnResult[]> {
  const servers = (['duplex', 'ws'] as const).filter((s) => ctx.o.servers.includes(s));
  const out: ChurnResult[] = [];
  for (let round = 0; round < churnRounds(ctx.o); round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const r = await churnOnce(ctx, s);
      out.push(r);
      process.stderr.write(
        `bench: churn round ${round + 1} ${s}: ${r.cyclesPerS} connections/s, ${r.msgsPerS} msg/s, errors ${r.errors}; RSS ${mb(r.rss.start)} -> ${mb(r.rss.end)} MB (max ${mb(r.rss.max)}, ${mb(r.rss.slopePerMin, 2)} MB/min over the second half); heap ${mb(r.heap.start)} -> ${mb(r.heap.end)} MB (${mb(r.heap.slopePerMin, 2)} MB/min)\n`,
      );
    }
  }
  return out;
}

const mb = (bytes: number | undefined, digits = 1): string => fmt((bytes ?? Number.NaN) / 1_048_576, digits);

function churnMarkdown(results: ChurnResult[], ctx: Context): string {
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

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  // Hard bound for the whole run.
  setTimeout(
    () => {
      process.stderr.write('bench: time limit reached\n');
      process.exit(3);
    },
    (30 * 60 + (o.scenarios.includes('churn') ? churnSeconds(o) * 2 * churnRounds(o) + 120 : 0)) * 1000,
  ).unref();
  const pin = pinning('generator');
  const limits = fdLimits();
  const needFds = o.idleConnections + 200;
  if (
    (o.scenarios.includes('idle') || o.scenarios.includes('hub-idle')) &&
    Math.min(limits.hard, limits.soft >= needFds ? limits.soft : limits.hard) < needFds
  ) {
    const cap = Math.max(100, Math.min(limits.soft, limits.hard) - 200);
    process.stderr.write(
      `bench: ulimit -n allows ${limits.hard} descriptors; idle connections capped at ${cap}\n`,
    );
    o.idleConnections = cap;
  }
  const wsload = o.scenarios.some(isLoadScenario) ? wsloadBinary(o.generator) : undefined;
  const bun = o.serversGiven ? (o.servers.includes('bun') ? ensureBun() : undefined) : cachedBun();
  if (bun && !o.servers.includes('bun')) o.servers.push('bun');
  if (!bun) o.servers = o.servers.filter((s) => s !== 'bun');
  const ctx: Context = { o, pin, wsload, limits, bun };
  const cpuModel = /model name\s*:\s*(.*)/.exec(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  )?.[1];
  const hubOnly = !o.scenarios.some((s) => !isHubScenario(s));
  const header = [
    `Duplex benchmarks, ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus().length} CPUs (${cpuModel ?? cpus()[0]?.model ?? 'unknown'})`,
    ...(hubOnly
      ? []
      : [
          `generator: ${wsload ? 'wsload (shared/tools/wsload.c, C, epoll)' : 'bench/load.ts (node:net, worker threads)'}; ${pin.note}`,
        ]),
    ...(bun ? [`Bun ${bun.version} (bench/servers/bun.ts, installed in ${BUN_CACHE})`] : []),
    `rounds ${o.rounds}, ${o.duration} s measured after ${o.warmup} s warm-up per run; idle ${o.idleConnections} connections; ${hubOnly ? `one room ${o.subscribers} subscribers; ${o.rooms} rooms of ${o.roomSubscribers}; window ${o.window}` : `broadcast ${o.subscribers} subscribers`}`,
  ];
  // hub-load's default: one subscriber thread per CPU it is pinned to.
  const hubThreads = o.hubThreads > 0 ? o.hubThreads : pin.generator.length > 0 ? 1 : cpus().length;
  if (o.scenarios.some(isHubScenario))
    header.push(
      `hub: Duplex hub (bench/servers/hub.ts: the Hub's default channel settings) vs Socket.IO ${socketIoVersion()} (bench/servers/socketio.ts: websocket transport only, no compression, no native ws addons); generator bench/hub-load.ts (node:net, ${hubThreads === 1 ? 'subscribers and publishers in one thread' : `${hubThreads} subscriber worker threads, publishers in its main thread`}); ${pinning('hub-load').note}`,
    );
  if (o.scenarios.includes('churn'))
    header.push(
      `churn: generator bench/churn.ts (node:net, one thread), ${o.churnConnections} connections, ${churnSeconds(o)} s per server, ${churnRounds(o)} round(s)`,
    );
  process.stderr.write(`${header.join('\n')}\n`);
  const results: ScenarioResult[] = [];
  for (const s of o.scenarios) if (isLoadScenario(s)) results.push(await runScenario(ctx, s));
  const hubCtx: HubContext = {
    o: {
      quick: o.quick,
      duration: o.duration,
      warmup: o.warmup,
      rounds: o.rounds,
      subscribers: o.subscribers,
      rooms: o.rooms,
      roomSubscribers: o.roomSubscribers,
      idleConnections: o.idleConnections,
      window: o.window,
      threads: o.hubThreads,
    },
    pin: pinning('hub-load'),
    limits,
    dir: here,
    gcPreload: GC_PRELOAD,
    memoryPreload: MEMORY_PRELOAD,
    cpuProf: o.cpuProf,
  };
  const hub: HubResult[] = [];
  for (const s of o.scenarios) if (isHubScenario(s)) hub.push(await runHubScenario(hubCtx, s));
  const churn = o.scenarios.includes('churn') ? await runChurnScenario(ctx) : [];
  let out = `${header.map((h) => `> ${h}`).join('\n')}\n\n`;
  const sections: string[] = [];
  if (results.length > 0) sections.push(markdown(results, ctx));
  if (hub.length > 0) sections.push(hubMarkdown(hub, hubCtx.o));
  if (churn.length > 0) sections.push(churnMarkdown(churn, ctx));
  out += sections.map((x) => `${x}\n`).join('\n');
  if (o.scenarios.includes('micro')) {
    const micro = spawnSync(
      pin.server[0] ?? process.execPath,
      [
        ...pin.server.slice(1),
        ...(pin.server.length ? [process.execPath] : []),
        path.join(here, 'micro.js'),
        ...(o.quick ? ['--quick'] : []),
      ],
      { encoding: 'utf8', timeout: 10 * 60_000, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (micro.status !== 0) throw new Error(`micro-benchmarks failed (${micro.status ?? micro.signal})`);
    out += `\n${micro.stdout}`;
  }
  out += `\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`;
  process.stdout.write(out);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ header, results, hub, churn }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
