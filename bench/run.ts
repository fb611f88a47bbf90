/**
 * run is `npm run bench`, the one orchestrator of the benchmarks: it parses the flags, finds
 * out once what the machine offers (pinning, descriptor limits, Bun), runs each scenario asked
 * for (modules under bench/scenarios/, one interface: bench/lib/scenario.ts) and prints one
 * report (bench/lib/report.ts): a Markdown table of ratios for every scenario, the per-run
 * tables, then free text such as the micro-benchmarks.
 *
 *   npm run bench -- [--quick] [--scenarios echo-32,echo-16k,echo-1m,idle,broadcast,wss,micro]
 *                    [--duration S] [--warmup S] [--rounds N] [--generator node|wsload]
 *                    [--servers duplex,duplex-whatwg,ws,raw,raw-batched,raw-handle,bun] [--idle-connections N]
 *                    [--subscribers N] [--cpu-prof DIR] [--wss-cpu-share S] [--json FILE]
 *   npm run bench -- --scenarios churn [--duration S] [--churn-connections N]
 *   npm run bench:hub   (--scenarios hub-room,hub-rooms,hub-idle [--rooms R]
 *                    [--room-subscribers M] [--window W (64; docs/design/hub-bench-window.md)] [--hub-threads T])
 *
 * Every WebSocket scenario starts each server as a fresh process pinned to CPU 0 and drives
 * it with bench/load.ts (the repository's own generator, worker threads) pinned to CPU 1,
 * alternating the servers round by round. `--generator wsload` (with WSLOAD_SRC naming
 * shared/tools/wsload.c) swaps in the C generator as an explicit cross-check; nothing else
 * needs a tool from outside the repository. Every child is bounded in time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUN_CACHE, cachedBun, ensureBun } from './lib/bun.js';
import { fdLimits, pinning } from './lib/proc.js';
import { renderReport, type ScenarioReport } from './lib/report.js';
import type { BenchContext, BenchOptions, Scenario, ServerName } from './lib/scenario.js';
import { compileWsload } from './lib/wsload.js';
import { broadcast } from './scenarios/broadcast.js';
import { churn, churnRounds, churnSeconds } from './scenarios/churn.js';
import { echo1m, echo16k, echo32 } from './scenarios/echo.js';
import { hubIdle, hubRoom, hubRooms } from './scenarios/hub.js';
import { idle } from './scenarios/idle.js';
import { micro } from './scenarios/micro.js';
import { wss } from './scenarios/wss.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench
const root = path.resolve(here, '..', '..');

/** SCENARIOS is every scenario, in the order a run takes them. */
const SCENARIOS: Scenario[] = [
  echo32,
  echo16k,
  echo1m,
  idle,
  broadcast,
  wss,
  churn,
  hubRoom,
  hubRooms,
  hubIdle,
  micro,
];
const byName = new Map(SCENARIOS.map((s) => [s.name, s]));
const SERVERS: ServerName[] = ['duplex', 'duplex-whatwg', 'ws', 'raw', 'raw-batched', 'raw-handle', 'bun'];

interface Options extends BenchOptions {
  scenarios: Scenario[];
  generator: 'node' | 'wsload';
  /** Whether --servers was given (Bun joins the default list only when already installed). */
  serversGiven: boolean;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    scenarios: SCENARIOS.filter((s) => s.inDefault),
    duration: quick ? 1 : 5,
    durationGiven: false,
    warmup: quick ? 0.5 : 1,
    rounds: quick ? 1 : 3,
    roundsGiven: false,
    churnConnections: 1000,
    generator: 'node',
    servers: ['duplex', 'duplex-whatwg', 'ws', 'raw', 'raw-batched', 'raw-handle'],
    serversGiven: false,
    idleConnections: quick ? 1000 : 10_000,
    subscribers: quick ? 200 : 1000,
    rooms: 10,
    roomSubscribers: quick ? 20 : 100,
    window: 64,
    hubThreads: 0,
    cpuProf: undefined,
    wssCpuShare: 0.5,
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
      o.scenarios = next()
        .split(',')
        .map((name) => byName.get(name) ?? usage(`unknown scenario ${name}`));
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
      for (const s of o.servers) if (!SERVERS.includes(s)) usage(`unknown server ${s}`);
      o.serversGiven = true;
    } else if (a === '--idle-connections') o.idleConnections = Number(next());
    else if (a === '--subscribers') o.subscribers = Number(next());
    else if (a === '--rooms') o.rooms = Number(next());
    else if (a === '--room-subscribers') o.roomSubscribers = Number(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--hub-threads') o.hubThreads = Number(next());
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(next());
    else if (a === '--json') o.json = path.resolve(next());
    else if (a === '--wss-cpu-share') o.wssCpuShare = Number(next());
    else usage(`unknown option ${a}`);
  }
  if (!(o.duration > 0 && o.duration <= 600) || !(o.rounds >= 1 && o.rounds <= 50))
    usage('bad duration or rounds');
  if (!(o.churnConnections >= 1 && o.churnConnections <= 10_000)) usage('--churn-connections is 1..10000');
  if (!(o.rooms >= 1 && o.roomSubscribers >= 1 && o.window >= 1 && o.window <= 1024 && o.hubThreads >= 0))
    usage('--rooms, --room-subscribers must be >= 1, --window 1..1024, --hub-threads >= 0 (0: one per CPU)');
  if (!(o.idleConnections >= 1 && o.subscribers >= 1))
    usage('--idle-connections and --subscribers must be >= 1');
  if (!(o.wssCpuShare > 0 && o.wssCpuShare <= 1)) usage('--wss-cpu-share is in (0, 1] (1: no quota)');
  if (!['node', 'wsload'].includes(o.generator)) usage('--generator is node (the default) or wsload');
  if (!o.servers.includes('duplex')) o.servers.unshift('duplex');
  if (!o.servers.includes('ws')) o.servers.splice(1, 0, 'ws');
  return o;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nsee the comment at the top of bench/run.ts for the options\n`);
  process.exit(2);
}

/** timeLimitS bounds the whole run: 30 minutes, plus the churn runs when asked for. */
function timeLimitS(o: Options): number {
  const churnS = o.scenarios.includes(churn) ? churnSeconds(o) * 2 * churnRounds(o) + 120 : 0;
  return 30 * 60 + churnS;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  setTimeout(() => {
    process.stderr.write('bench: time limit reached\n');
    process.exit(3);
  }, timeLimitS(o) * 1000).unref();
  const pin = pinning('generator');
  const limits = fdLimits();
  // The idle scenarios need the most descriptors: cap their connections when the limit is too low.
  const needFds = o.idleConnections + 200;
  if (
    (o.scenarios.includes(idle) || o.scenarios.includes(hubIdle)) &&
    Math.min(limits.hard, limits.soft >= needFds ? limits.soft : limits.hard) < needFds
  ) {
    const cap = Math.max(100, Math.min(limits.soft, limits.hard) - 200);
    process.stderr.write(
      `bench: ulimit -n allows ${limits.hard} descriptors; idle connections capped at ${cap}\n`,
    );
    o.idleConnections = cap;
  }
  let wsload: string | undefined;
  if (o.generator === 'wsload') {
    try {
      wsload = compileWsload(process.env['WSLOAD_SRC']);
    } catch (error) {
      usage((error as Error).message);
    }
  }
  const bun = o.serversGiven ? (o.servers.includes('bun') ? ensureBun() : undefined) : cachedBun();
  if (bun && !o.servers.includes('bun')) o.servers.push('bun');
  if (!bun) o.servers = o.servers.filter((s) => s !== 'bun');
  const ctx: BenchContext = {
    o,
    pin,
    limits,
    bun,
    wsload,
    dir: here,
    root,
    gcPreload: pathToFileURL(path.join(here, 'gc-on-signal.js')).href,
    memoryPreload: pathToFileURL(path.join(here, 'memory-sampler.js')).href,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const cpuModel = /model name\s*:\s*(.*)/.exec(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  )?.[1];
  const wsFamily = o.scenarios.some((s) => [echo32, echo16k, echo1m, idle, broadcast, wss].includes(s));
  const header = [
    `Duplex benchmarks, ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus().length} CPUs (${cpuModel ?? cpus()[0]?.model ?? 'unknown'})`,
    ...(wsFamily
      ? [
          `generator: ${wsload ? 'wsload (shared/tools/wsload.c, C, epoll; --generator wsload)' : 'bench/load.ts (node:net/tls, handle I/O after the handshake, one worker thread)'}; ${pin.note}`,
        ]
      : []),
    ...(bun ? [`Bun ${bun.version} (bench/servers/bun.ts, installed in ${BUN_CACHE})`] : []),
    `rounds ${o.rounds}, ${o.duration} s measured after ${o.warmup} s warm-up per run; idle ${o.idleConnections} connections; broadcast ${o.subscribers} subscribers`,
  ];
  for (const s of o.scenarios)
    for (const line of s.describe?.(ctx) ?? []) if (!header.includes(line)) header.push(line);
  process.stderr.write(`${header.join('\n')}\n`);
  const reports: ScenarioReport[] = [];
  for (const s of o.scenarios) reports.push(await s.run(ctx));
  const out = renderReport(header, reports);
  process.stdout.write(`${out}\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  if (o.json)
    writeFileSync(
      o.json,
      `${JSON.stringify({ header, scenarios: reports.map((r) => ({ scenario: r.scenario, rows: r.rows, runs: r.json })) }, null, 2)}\n`,
    );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
