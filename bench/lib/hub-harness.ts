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
import { GcSamples, type MemorySample } from './gc-samples.js';
import {
  type FdLimits,
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
export const SERVERS: readonly HubServer[] = ['hub', 'socketio'];

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
export const TARGETS = {
  room: 10,
  rooms: 5,
  p99: 1,
  memory: 0.45,
};

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
  const memory = new GcSamples();
  const server = await startServer(
    withFdLimit([...pin.server, ...serverArgv(ctx, name)], need, ctx.limits),
    (line) => memory.line(line),
    // memory-sampler prints a sample after every forced GC; its periodic one (hourly) never comes.
    { DUPLEX_BENCH_SAMPLE_MS: '3600000' },
  );
  /** gcSample forces a full GC in the server and resolves with the sample taken after it. */
  const gcSample = () => memory.afterGc(server.pid);
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
export const perCpu = (m: HubMeasure): number =>
  m.serverCpu > 0 ? m.value / (m.serverCpu / 100) : Number.NaN;

/** ratio is the median over rounds of hub[i] / socketio[i] (pairs measured in the same round). */
export function ratio(r: HubResult, key: 'value' | 'p99' | 'heap' | 'perCpu' | 'serverCpu'): number {
  const out: number[] = [];
  const n = Math.min(r.runs.hub.length, r.runs.socketio.length);
  const get = (m: HubMeasure): number => (key === 'perCpu' ? perCpu(m) : m[key]);
  for (let i = 0; i < n; i++) out.push(get(r.runs.hub[i]!) / get(r.runs.socketio[i]!));
  return median(out);
}

export const med = (ms: HubMeasure[], key: keyof HubMeasure): number => median(ms.map((m) => m[key]));
