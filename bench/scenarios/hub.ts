/**
 * The hub scenarios of issue 9 (`npm run bench:hub`): the Duplex hub (bench/servers/hub.ts)
 * beside Socket.IO 4 (bench/servers/socketio.ts), driven by bench/hub-load.ts. What they run and
 * measure is bench/lib/hub-harness.ts; this module hands the harness its options and turns its
 * results into rows of the one report.
 *
 * - `hub-room`: one room of N subscribers (1,000), one publisher, 64 B (target >= 10x);
 * - `hub-rooms`: R rooms (10) of M subscribers (100), a publisher each (>= 5x);
 * - `hub-idle`: N idle connections (10,000), each subscribed to one of R rooms: RSS and V8
 *   heap after GC per connection (<= 0.45x).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type HubContext,
  type HubMeasure,
  type HubResult,
  type HubScenario,
  med,
  perCpu,
  ratio,
  runHubScenario,
  SERVERS,
  TARGETS,
} from '../lib/hub-harness.js';
import { fmt, int, median, pinning } from '../lib/proc.js';
import type { DetailTable, RatioRow } from '../lib/report.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';

const COMPARED = 'Duplex hub / Socket.IO 4';

/** socketIoVersion is the version of the installed socket.io package. */
function socketIoVersion(root: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(path.join(root, 'node_modules', 'socket.io', 'package.json'), 'utf8'),
    );
    return String((pkg as { version?: unknown }).version);
  } catch {
    return '4 (version unknown)';
  }
}

function hubContext(ctx: BenchContext): HubContext {
  const { o } = ctx;
  return {
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
    limits: ctx.limits,
    dir: ctx.dir,
    gcPreload: ctx.gcPreload,
    memoryPreload: ctx.memoryPreload,
    cpuProf: ctx.o.cpuProf,
  };
}

function rows(r: HubResult, ctx: BenchContext): RatioRow[] {
  const { o } = ctx;
  const io = r.runs.socketio;
  const hub = r.runs.hub;
  if (r.scenario === 'hub-idle') {
    const kb = (ms: HubMeasure[], key: 'value' | 'heap') => `${fmt(med(ms, key) / 1000, 1)} KB`;
    return [
      {
        measure: `memory per idle connection with one subscription (${int(o.idleConnections)} connections in ${o.rooms} rooms): RSS after GC`,
        compared: COMPARED,
        peer: kb(io, 'value'),
        subject: kb(hub, 'value'),
        ratio: ratio(r, 'value'),
        digits: 3,
        headline: true,
        target: { op: '<=', value: TARGETS.memory },
      },
      {
        measure: 'same: V8 heap used after GC',
        compared: COMPARED,
        peer: kb(io, 'heap'),
        subject: kb(hub, 'heap'),
        ratio: ratio(r, 'heap'),
      },
    ];
  }
  const one = r.scenario === 'hub-room';
  const title = one
    ? `one room: ${int(o.subscribers)} subscribers, 1 publisher, 64 B, window ${o.window}: deliveries/s`
    : `${o.rooms} rooms of ${int(o.roomSubscribers)} subscribers, a publisher each, 64 B, window ${o.window}: deliveries/s`;
  const cpu = (ms: HubMeasure[]) => int(median(ms.map(perCpu)));
  const use = (ms: HubMeasure[]) => `${int(med(ms, 'serverCpu'))} % / ${int(med(ms, 'clientCpu'))} %`;
  return [
    {
      measure: title,
      compared: COMPARED,
      peer: int(med(io, 'value')),
      subject: int(med(hub, 'value')),
      ratio: ratio(r, 'value'),
      headline: true,
      target: { op: '>=', value: one ? TARGETS.room : TARGETS.rooms },
    },
    {
      measure: 'same: p99 delivery latency',
      compared: COMPARED,
      peer: `${int(med(io, 'p99'))} us`,
      subject: `${int(med(hub, 'p99'))} us`,
      ratio: ratio(r, 'p99'),
      target: { op: '<=', value: TARGETS.p99 },
    },
    {
      measure:
        'same: CPU used, server / load generator (% of one CPU each, medians; near 100 % is the limit)',
      compared: COMPARED,
      peer: use(io),
      subject: use(hub),
      ratio: ratio(r, 'serverCpu'),
    },
    {
      measure:
        'same: deliveries per second of server CPU time (cost per delivery, whatever CPU share the server got)',
      compared: COMPARED,
      peer: cpu(io),
      subject: cpu(hub),
      ratio: ratio(r, 'perCpu'),
    },
  ];
}

const DETAIL_HEAD = [
  'scenario',
  'server',
  'runs',
  'median',
  'p99 us (runs)',
  'generator CPU %',
  'server CPU %',
  'dropped',
  'stalls',
  'errors',
];

function detail(r: HubResult): DetailTable {
  const out: string[][] = [];
  for (const name of SERVERS) {
    const ms = r.runs[name];
    const idle = r.scenario === 'hub-idle';
    const unit = idle ? 'B/conn RSS' : 'deliveries/s';
    const p99 = idle
      ? `heap ${ms.map((m) => int(m.heap)).join(', ')} B/conn`
      : ms.map((m) => int(m.p99)).join(', ');
    const sum = (key: 'errors' | 'dropped' | 'stalls') => String(ms.reduce((n, m) => n + m[key], 0));
    out.push([
      r.scenario,
      name === 'hub' ? 'duplex hub' : 'socket.io',
      ms.map((m) => int(m.value)).join(', '),
      `${int(med(ms, 'value'))} ${unit}`,
      p99,
      int(med(ms, 'clientCpu')),
      int(med(ms, 'serverCpu')),
      sum('dropped'),
      sum('stalls'),
      sum('errors'),
    ]);
  }
  return { head: DETAIL_HEAD, rows: out };
}

function hubScenario(name: HubScenario): Scenario {
  return {
    name,
    inDefault: false,
    fds: (o) =>
      (name === 'hub-idle'
        ? o.idleConnections
        : name === 'hub-room'
          ? o.subscribers
          : o.rooms * o.roomSubscribers) + 200,
    describe(ctx) {
      const threads =
        ctx.o.hubThreads > 0 ? ctx.o.hubThreads : ctx.pin.generator.length > 0 ? 1 : 'one per CPU';
      return [
        `hub: Duplex hub (bench/servers/hub.ts: the Hub's default channel settings) vs Socket.IO ${socketIoVersion(ctx.root)} (bench/servers/socketio.ts: websocket transport only, no compression, no native ws addons); generator bench/hub-load.ts (node:net, ${threads === 1 ? 'subscribers and publishers in one thread' : `${threads} subscriber worker thread(s), publishers in its main thread`}); ${pinning('hub-load').note}; one room ${ctx.o.subscribers} subscribers; ${ctx.o.rooms} rooms of ${ctx.o.roomSubscribers}; window ${ctx.o.window}`,
      ];
    },
    async run(ctx) {
      const r = await runHubScenario(hubContext(ctx), name);
      return { scenario: name, rows: rows(r, ctx), detail: detail(r), json: r };
    },
  };
}

export const hubRoom = hubScenario('hub-room');
export const hubRooms = hubScenario('hub-rooms');
export const hubIdle = hubScenario('hub-idle');
