/**
 * hub-harness is the hub benchmark of issue 9 inside `npm run bench` (bench/run.ts): the
 * Duplex hub (bench/servers/hub.ts) beside Socket.IO 4 (bench/servers/socketio.ts), driven by
 * bench/hub-load.ts, servers alternated round by round, the table made of medians of per-round
 * ratios (Duplex / Socket.IO of the same round).
 *
 * - `hub-room`: one room, N subscribers (1,000), one publisher, 64 B messages.
 * - `hub-rooms`: R rooms (10) of M subscribers (100), a publisher each.
 *   Both measure deliveries per second (messages received by all subscribers) and the p99 of
 *   the delay from the publisher's send time (in the payload) to a subscriber's receipt; each
 *   publisher keeps a window of W messages (64, the same for both servers) not yet received by
 *   every subscriber (16 until 2026-11-29: the hub then sat idle a third of the time and the
 *   closed loop set its figure; docs/design/hub-bench-window.md).
 * - `hub-idle`: N idle connections (10,000), each subscribed to one of R rooms: the server's
 *   RSS and V8 heap after a forced GC (bench/gc-on-signal.ts, then bench/memory-sampler.ts
 *   reports), before the clients connect (the baseline) and once they all have subscribed,
 *   divided by N.
 */
import path from 'node:path';
import {
  type FdLimits,
  fmt,
  int,
  median,
  type Pinning,
  runGenerator,
  sleep,
  startServer,
  stopChild,
  withFdLimit,
} from './proc.js';

export type HubScenario = 'hub-room' | 'hub-rooms' | 'hub-idle';
export const HUB_SCENARIOS: readonly HubScenario[] = ['hub-room', 'hub-rooms', 'hub-idle'];
export type HubServer = 'hub' | 'socketio';
const SERVERS: readonly HubServer[] = ['hub', 'socketio'];

/** HubOptions are the harness options the hub scenarios read. */
export interface HubOptions {
  quick: boolean;
  duration: number;
  warmup: number;
  rounds: number;
  /** Subscribers of the one room of `hub-room`. */
  subscribers: number;
  /** Rooms of `hub-rooms` (and of `hub-idle`). */
  rooms: number;
  /** Subscribers per room in `hub-rooms`. */
  roomSubscribers: number;
  /** Idle subscribed connections of `hub-idle`. */
  idleConnections: number;
  /** Messages each publisher keeps in flight. */
  window: number;
  /** Worker threads of the generator's subscribers; 0: one per CPU it is pinned to. */
  threads: number;
}

export interface HubContext {
  o: HubOptions;
  pin: Pinning;
  limits: FdLimits;
  /** build/bench, where the compiled servers and generator are. */
  dir: string;
  /** The file URLs of bench/gc-on-signal.js and bench/memory-sampler.js. */
  gcPreload: string;
  memoryPreload: string;
  /** Write a V8 CPU profile of every hub server run into this directory (`--cpu-prof DIR`). */
  cpuProf: string | undefined;
}

/** HubMeasure is one run of one server. */
export interface HubMeasure {
  /** Deliveries per second, or bytes of RSS per idle connection. */
  value: number;
  p99: number;
  /** Bytes of V8 heap (used, after GC) per idle connection. */
  heap: number;
  clientCpu: number;
  serverCpu: number;
  errors: number;
  dropped: number;
  stalls: number;
  connections: number;
}

export interface HubResult {
  scenario: HubScenario;
  runs: Record<HubServer, HubMeasure[]>;
}

/** HUB_TARGETS are issue 9's targets, Duplex / Socket.IO. */
const TARGETS = {
  room: 10,
  rooms: 5,
  p99: 1,
  memory: 0.45,
};

interface MemorySample {
  rss: number;
  heapUsed: number;
  gc: boolean;
}

function serverArgv(ctx: HubContext, name: HubServer): string[] {
  const script = path.join(ctx.dir, 'servers', name === 'hub' ? 'hub.js' : 'socketio.js');
  const prof = name === 'hub' && ctx.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', ctx.cpuProf] : [];
  return [
    process.execPath,
    '--expose-gc',
    ...prof,
    '--import',
    ctx.gcPreload,
    '--import',
    ctx.memoryPreload,
    script,
    '--port',
    '0',
  ];
}

function connectionsOf(o: HubOptions, scenario: HubScenario): { subscribers: number; rooms: number } {
  if (scenario === 'hub-room') return { subscribers: o.subscribers, rooms: 1 };
  if (scenario === 'hub-rooms') return { subscribers: o.rooms * o.roomSubscribers, rooms: o.rooms };
  return { subscribers: o.idleConnections, rooms: o.rooms };
}

/** runOnce starts one server, drives it with hub-load and stops it. */
async function runOnce(ctx: HubContext, scenario: HubScenario, name: HubServer): Promise<HubMeasure> {
  const { o, pin } = ctx;
  const { subscribers, rooms } = connectionsOf(o, scenario);
  const need = subscribers + rooms + 200;
  let waiting: ((s: MemorySample) => void) | undefined;
  const server = await startServer(
    withFdLimit([...pin.server, ...serverArgv(ctx, name)], need, ctx.limits),
    (line) => {
      if (!line.startsWith('memory ')) return;
      const s = JSON.parse(line.slice(7)) as MemorySample;
      if (s.gc) {
        waiting?.(s);
        waiting = undefined;
      }
    },
    // memory-sampler prints a sample after every forced GC; its periodic one (hourly) never comes.
    { DUPLEX_BENCH_SAMPLE_MS: '3600000' },
  );
  /** gcSample forces a full GC in the server and resolves with the sample taken after it. */
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
    const gen = [
      process.execPath,
      path.join(ctx.dir, 'hub-load.js'),
      '--protocol',
      name === 'hub' ? 'duplex' : 'socketio',
      '--port',
      String(server.port),
      '--pid',
      String(server.pid),
      '-c',
      String(subscribers),
      '--rooms',
      String(rooms),
    ];
    if (o.threads > 0) gen.push('--threads', String(o.threads));
    if (scenario !== 'hub-idle') {
      gen.push('-s', '64', '--window', String(o.window), '-d', String(o.duration), '-w', String(o.warmup));
      const r = await runGenerator(
        withFdLimit([...pin.generator, ...gen], need, ctx.limits),
        o.duration + o.warmup + 120,
      );
      return {
        value: Number(r['msgs_per_s']),
        p99: Number(r['p99_us']),
        heap: Number.NaN,
        clientCpu: Number(r['client_cpu_pct']),
        serverCpu: Number(r['server_cpu_pct']),
        errors: Number(r['errors']),
        dropped: Number(r['dropped']),
        stalls: Number(r['stalls']),
        connections: Number(r['connections']),
      };
    }
    const settle = o.quick ? 1 : 2;
    await sleep(300);
    const before = await gcSample();
    let after: MemorySample | undefined;
    let sampled: Promise<void> | undefined;
    gen.push('--idle', '--hold', String(settle + 3));
    const r = await runGenerator(
      withFdLimit([...pin.generator, ...gen], need, ctx.limits),
      settle + 3 + 120,
      (line) => {
        if (/connections open/.test(line) && !sampled) {
          sampled = (async () => {
            await sleep(settle * 1000);
            after = await gcSample();
          })();
        }
      },
    );
    await sampled;
    const open = Number(r['connections']);
    const per = (key: 'rss' | 'heapUsed'): number =>
      before && after && open > 0 ? (after[key] - before[key]) / open : Number.NaN;
    return {
      value: per('rss'),
      p99: Number.NaN,
      heap: per('heapUsed'),
      clientCpu: Number.NaN,
      serverCpu: Number.NaN,
      errors: Number(r['errors']) + Math.max(0, subscribers - (Number.isFinite(open) ? open : 0)),
      dropped: 0,
      stalls: 0,
      connections: open,
    };
  } finally {
    await stopChild(server.child);
  }
}

/** runHubScenario runs both servers once per round, the order flipped every other round. */
export async function runHubScenario(ctx: HubContext, scenario: HubScenario): Promise<HubResult> {
  const runs: Record<HubServer, HubMeasure[]> = { hub: [], socketio: [] };
  for (let round = 0; round < ctx.o.rounds; round++) {
    const order = round % 2 === 0 ? SERVERS : [...SERVERS].reverse();
    for (const s of order) {
      const m = await runOnce(ctx, scenario, s);
      runs[s].push(m);
      const shown =
        scenario === 'hub-idle'
          ? `${int(m.value)} B/conn RSS, ${int(m.heap)} B/conn heap`
          : `${int(m.value)} deliveries/s p99 ${int(m.p99)} us`;
      process.stderr.write(
        `bench: ${scenario} round ${round + 1} ${s}: ${shown} (conns ${m.connections}, errors ${m.errors}, dropped ${m.dropped}, stalls ${m.stalls}, gen CPU ${m.clientCpu}%, server CPU ${m.serverCpu}%)\n`,
      );
    }
  }
  return { scenario, runs };
}

/**
 * perCpu is deliveries per second of the server's CPU time: what one delivery costs the
 * server, whatever share of its CPU it got (the machine is shared).
 */
const perCpu = (m: HubMeasure): number => (m.serverCpu > 0 ? m.value / (m.serverCpu / 100) : Number.NaN);

/** ratio is the median over rounds of hub[i] / socketio[i] (pairs measured in the same round). */
function ratio(r: HubResult, key: 'value' | 'p99' | 'heap' | 'perCpu'): number {
  const out: number[] = [];
  const n = Math.min(r.runs.hub.length, r.runs.socketio.length);
  const get = (m: HubMeasure): number => (key === 'perCpu' ? perCpu(m) : m[key]);
  for (let i = 0; i < n; i++) out.push(get(r.runs.hub[i]!) / get(r.runs.socketio[i]!));
  return median(out);
}

const med = (ms: HubMeasure[], key: keyof HubMeasure): number => median(ms.map((m) => m[key]));

function verdict(value: number, target: number, atMost: boolean): string {
  if (!Number.isFinite(value)) return 'n/a';
  return (atMost ? value <= target : value >= target) ? 'yes' : '**no**';
}

/** hubMarkdown is the table of ratios against issue 9's targets, then every run. */
export function hubMarkdown(results: HubResult[], o: HubOptions): string {
  const lines: string[] = [];
  lines.push('| scenario | Socket.IO 4 | Duplex hub | Duplex / Socket.IO | target | met? |');
  lines.push('|---|---|---|---|---|---|');
  for (const r of results) {
    const io = r.runs.socketio;
    const hub = r.runs.hub;
    if (r.scenario === 'hub-idle') {
      const kb = (ms: HubMeasure[], key: 'value' | 'heap') => `${fmt(med(ms, key) / 1000, 1)} KB`;
      const x = ratio(r, 'value');
      lines.push(
        `| memory per idle connection with one subscription (${int(o.idleConnections)} connections in ${o.rooms} rooms): RSS after GC | ${kb(io, 'value')} | ${kb(hub, 'value')} | **${fmt(x, 3)}x** | <= ${TARGETS.memory}x | ${verdict(x, TARGETS.memory, true)} |`,
      );
      lines.push(
        `| same: V8 heap used after GC | ${kb(io, 'heap')} | ${kb(hub, 'heap')} | ${fmt(ratio(r, 'heap'))}x | | |`,
      );
      continue;
    }
    const one = r.scenario === 'hub-room';
    const title = one
      ? `one room: ${int(o.subscribers)} subscribers, 1 publisher, 64 B, window ${o.window}: deliveries/s`
      : `${o.rooms} rooms of ${int(o.roomSubscribers)} subscribers, a publisher each, 64 B, window ${o.window}: deliveries/s`;
    const target = one ? TARGETS.room : TARGETS.rooms;
    const x = ratio(r, 'value');
    const p = ratio(r, 'p99');
    lines.push(
      `| ${title} | ${int(med(io, 'value'))} | ${int(med(hub, 'value'))} | **${fmt(x)}x** | >= ${target}x | ${verdict(x, target, false)} |`,
    );
    lines.push(
      `| same: p99 delivery latency | ${int(med(io, 'p99'))} us | ${int(med(hub, 'p99'))} us | ${fmt(p)}x | <= ${TARGETS.p99}x | ${verdict(p, TARGETS.p99, true)} |`,
    );
    const use = (ms: HubMeasure[]) => `${int(med(ms, 'serverCpu'))} % / ${int(med(ms, 'clientCpu'))} %`;
    lines.push(
      `| same: CPU used, server / load generator (% of one CPU each, medians; near 100 % is the limit) | ${use(io)} | ${use(hub)} | | | |`,
    );
    const cpu = (ms: HubMeasure[]) => int(median(ms.map(perCpu)));
    lines.push(
      `| same: deliveries per second of server CPU time (cost per delivery, whatever CPU share the server got) | ${cpu(io)} | ${cpu(hub)} | ${fmt(ratio(r, 'perCpu'))}x | | |`,
    );
  }
  lines.push('');
  lines.push(
    'Ratios are medians of per-round ratios (servers alternated in each round); absolute figures are medians.',
  );
  lines.push('');
  lines.push(
    '| scenario | server | runs | median | p99 us (runs) | generator CPU % | server CPU % | dropped | stalls | errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const name of SERVERS) {
      const ms = r.runs[name];
      const idle = r.scenario === 'hub-idle';
      const unit = idle ? 'B/conn RSS' : 'deliveries/s';
      const p99 = idle
        ? `heap ${ms.map((m) => int(m.heap)).join(', ')} B/conn`
        : ms.map((m) => int(m.p99)).join(', ');
      const sum = (key: 'errors' | 'dropped' | 'stalls') => ms.reduce((n, m) => n + m[key], 0);
      lines.push(
        `| ${r.scenario} | ${name === 'hub' ? 'duplex hub' : 'socket.io'} | ${ms.map((m) => int(m.value)).join(', ')} | ${int(med(ms, 'value'))} ${unit} | ${p99} | ${int(med(ms, 'clientCpu'))} | ${int(med(ms, 'serverCpu'))} | ${sum('dropped')} | ${sum('stalls')} | ${sum('errors')} |`,
      );
    }
  }
  return lines.join('\n');
}
