/**
 * soak drives a Duplex server in a child process (test/helpers/server-process.ts: echo at
 * /echo, hub at /hub) with churning load for a fixed time and judges its memory as a slope
 * (issue 13, item 6). The load (test/soak/load.ts: echo clients, a third with
 * permessage-deflate, churning and sometimes dropping TCP; slow readers; hub clients with
 * subscriptions, presence and publishes) runs in this process when `workers` is 0, or is split
 * over `workers` forked load processes (test/soak/load-worker.ts), each with its own counts,
 * added up here: one event loop cannot keep 10,000 clients and check every echo.
 *
 * The server's retained memory (heap + external after a full GC) and RSS are sampled every
 * `sampleMs`; after `warmupMs`, a least-squares slope of each must stay under its bound.
 * Unhandled errors in any process fail the run.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mib } from '../helpers/memory.js';
import { type MemorySample, startServerProcess } from '../helpers/server-process.js';
import { addCounts, emptyCounts, type LoadCounts, type LoadOptions, startLoad } from './load.js';

export interface SoakOptions {
  durationMs: number;
  warmupMs: number;
  connections: number;
  slowReaders: number;
  hubClients: number;
  sampleMs: number;
  /** Mean pause of an echo client between an echo and its next message. */
  thinkMs: number;
  /** Mean pause of a hub client between two publishes. @default 150 */
  hubThinkMs?: number;
  /** Channels the hub clients spread over. @default 5 */
  hubChannels?: number;
  /** Messages an echo client sends before it leaves. @default [5, 50] */
  messagesPerConnection?: [number, number];
  /** Load processes; 0 runs the load in this process. @default 0 */
  workers?: number;
  /** Echo handshakes in flight at most during the ramp-up (over all workers). @default 100 */
  rampInFlight?: number;
  /** Start the run's clock after this long even when the ramp-up is not done. @default no limit */
  rampTimeoutMs?: number;
  /** Bounds of the slopes after warm-up, in bytes per second. */
  maxRetainedSlope: number;
  maxRssSlope: number;
  log?: (line: string) => void;
}

export interface SoakReport extends LoadCounts {
  retainedSlope: number;
  rssSlope: number;
  /** The server's largest RSS and retained memory sampled. */
  peakRss: number;
  peakRetained: number;
  /** The most TCP sockets in TIME_WAIT seen on the machine (/proc/net/sockstat) at a sample. */
  peakTimeWait: number;
  /** The machine's ListenOverflows (a full accept queue) during the run: other processes count too. */
  listenOverflows: number;
  /** The longest event-loop delay seen in the server (outside its sampling GCs) and in a load process, ms. */
  serverLoopDelayMaxMs: number;
  loadLoopDelayMaxMs: number;
  /** Whether every echo client had been started before the clock started. */
  rampDone: boolean;
  rampSeconds: number;
  /** The fewest and most echo connections the server held at a sample after warm-up. */
  minHeld: number;
  maxHeld: number;
  samples: { t: number; retained: number; rss: number; held: number }[];
}

/** slope is the least-squares slope of y over x (per second when x is in ms). */
export function slope(points: { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mx) * (p.y - my);
    den += (p.t - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

/** timeWait reads the machine's TCP sockets in TIME_WAIT (0 where /proc is not there). */
function timeWait(): number {
  try {
    const m = /TCP:.* tw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** listenOverflows reads the machine's count of connections dropped for a full accept queue. */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((l) => l.startsWith('TcpExt:'))?.split(' ') ?? [];
    const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(' ') ?? [];
    const i = names.indexOf('ListenOverflows');
    return i > 0 ? Number(values[i]) : 0;
  } catch {
    return 0;
  }
}

/** share splits n into k parts that differ by at most one. */
function share(n: number, k: number, i: number): number {
  return Math.floor(n / k) + (i < n % k ? 1 : 0);
}

/** LoadHandle is one share of the load, in this process or in a worker. */
interface LoadHandle {
  ready: Promise<void>;
  counts(): Promise<LoadCounts>;
  stop(): Promise<LoadCounts>;
}

const WORKER = fileURLToPath(new URL('./load-worker.js', import.meta.url));

function forkLoad(options: LoadOptions, problems: string[]): LoadHandle {
  const child: ChildProcess = fork(WORKER, [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let exited = false;
  let last: LoadCounts = emptyCounts();
  const waiting: ((c: LoadCounts) => void)[] = [];
  let final: ((c: LoadCounts) => void) | undefined;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.on('message', (m: { type: string; counts?: LoadCounts }) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'counts') {
      last = m.counts!;
      waiting.shift()?.(last);
    } else if (m.type === 'final') {
      last = m.counts!;
      final?.(last);
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    if (final === undefined) problems.push(`load worker ${child.pid} exited early (${code ?? signal})`);
    onReady();
    for (const w of waiting.splice(0)) w(last);
    final?.(last);
  });
  const ask = (message: object, keep: (resolve: (c: LoadCounts) => void) => void, timeoutMs: number) =>
    new Promise<LoadCounts>((resolve) => {
      if (exited) return resolve(last);
      const timer = setTimeout(() => resolve(last), timeoutMs);
      keep((c) => {
        clearTimeout(timer);
        resolve(c);
      });
      child.send(message);
    });
  return {
    ready,
    counts: () => ask({ type: 'counts' }, (r) => waiting.push(r), 10_000),
    stop: async () => {
      const counts = await ask(
        { type: 'stop' },
        (r) => {
          final = r;
        },
        20_000,
      );
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await gone;
      }
      return counts;
    },
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const problems: string[] = [];
  let unhandled = 0;
  const onUnhandled = (error: unknown) => {
    unhandled++;
    problems.push(`unhandled in the soak process: ${String(error)}`);
  };
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  const server = await startServerProcess({});
  const workers = options.workers ?? 0;
  const parts = Math.max(1, workers);
  const rampInFlight = options.rampInFlight ?? 100;
  const loads: LoadHandle[] = [];
  let firstSlot = 0;
  let firstHub = 0;
  for (let i = 0; i < parts; i++) {
    const part: LoadOptions = {
      port: server.port,
      connections: share(options.connections, parts, i),
      firstSlot,
      slowReaders: share(options.slowReaders, parts, i),
      hubClients: share(options.hubClients, parts, i),
      firstHub,
      hubChannels: options.hubChannels ?? 5,
      thinkMs: options.thinkMs,
      hubThinkMs: options.hubThinkMs ?? 150,
      messagesPerConnection: options.messagesPerConnection ?? [5, 50],
      rampInFlight: Math.max(1, Math.floor(rampInFlight / parts)),
    };
    firstSlot += part.connections;
    firstHub += part.hubClients;
    if (workers === 0) {
      const load = startLoad(part);
      loads.push({ ready: load.ready, counts: async () => load.counts(), stop: () => load.stop() });
    } else loads.push(forkLoad(part, problems));
  }
  const rampStart = Date.now();
  // The run's clock starts once every echo client was started, or after rampTimeoutMs (the
  // ramp goes on in the background then, and the samples show how many connections were held).
  let rampDone = false;
  const ramped = Promise.all(loads.map((l) => l.ready)).then(() => {
    rampDone = true;
  });
  const rampDeadline = rampStart + (options.rampTimeoutMs ?? Number.POSITIVE_INFINITY);
  while (!rampDone && Date.now() < rampDeadline) {
    await Promise.race([
      ramped,
      new Promise((r) => setTimeout(r, Math.min(10_000, rampDeadline - Date.now()))),
    ]);
    if (rampDone) break;
    const now = emptyCounts();
    for (const c of await Promise.all(loads.map((l) => l.counts()))) addCounts(now, c);
    log(
      `ramp-up: ${now.live} echo clients open, ${now.opened} opened, ${((Date.now() - rampStart) / 1000).toFixed(0)} s`,
    );
  }
  const start = Date.now();
  const deadline = start + options.durationMs;
  log(
    rampDone
      ? `ramp-up done: ${options.connections} echo clients started in ${((start - rampStart) / 1000).toFixed(0)} s over ${parts} load process(es)`
      : `ramp-up NOT done after ${((start - rampStart) / 1000).toFixed(0)} s: the run starts with what is open`,
  );

  const samples: SoakReport['samples'] = [];
  let serverUnhandled = 0;
  let peakTimeWait = 0;
  const overflowsAtStart = listenOverflows();
  let serverLoopDelayMaxMs = 0;
  let loadLoopDelayMaxMs = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(options.sampleMs, Math.max(0, deadline - Date.now()))));
    let m: MemorySample;
    try {
      m = await server.memory();
    } catch (error) {
      problems.push(`server memory sample failed: ${String(error)}`);
      break;
    }
    const t = Date.now() - start;
    samples.push({ t, retained: m.retained, rss: m.rss, held: m.echoClients });
    if (m.unhandled > 0) serverUnhandled = m.unhandled;
    const tw = timeWait();
    peakTimeWait = Math.max(peakTimeWait, tw);
    const now = emptyCounts();
    for (const c of await Promise.all(loads.map((l) => l.counts()))) addCounts(now, c);
    serverLoopDelayMaxMs = Math.max(serverLoopDelayMaxMs, m.loopDelayMaxMs);
    loadLoopDelayMaxMs = Math.max(loadLoopDelayMaxMs, now.loopDelayMaxMs);
    log(
      `t=${(t / 1000).toFixed(0)}s retained ${mib(m.retained)} rss ${mib(m.rss)} echo clients ${m.echoClients} hub ${m.hubClients} ` +
        `echoes ${now.echoes} opened ${now.opened} published ${now.published} corrupt ${now.corrupt} errors ${now.clientErrors} ` +
        `time-wait ${tw} listen-overflows +${listenOverflows() - overflowsAtStart} ` +
        `loop delay max: server ${m.loopDelayMaxMs.toFixed(0)} ms, load ${now.loopDelayMaxMs.toFixed(0)} ms`,
    );
    if (server.exited) {
      problems.push(`the server process exited: ${server.output()}`);
      break;
    }
  }
  const total = emptyCounts();
  for (const c of await Promise.all(loads.map((l) => l.stop()))) addCounts(total, c);
  const after = samples.filter((s) => s.t >= options.warmupMs);
  const report: SoakReport = {
    ...total,
    problems: [...problems, ...total.problems],
    unhandled: total.unhandled + unhandled + serverUnhandled,
    retainedSlope: slope(after.map((s) => ({ t: s.t, y: s.retained }))),
    rssSlope: slope(after.map((s) => ({ t: s.t, y: s.rss }))),
    peakRss: Math.max(0, ...samples.map((s) => s.rss)),
    peakRetained: Math.max(0, ...samples.map((s) => s.retained)),
    peakTimeWait,
    listenOverflows: listenOverflows() - overflowsAtStart,
    serverLoopDelayMaxMs,
    loadLoopDelayMaxMs,
    rampDone,
    rampSeconds: (start - rampStart) / 1000,
    minHeld: after.length > 0 ? Math.min(...after.map((s) => s.held)) : 0,
    maxHeld: after.length > 0 ? Math.max(...after.map((s) => s.held)) : 0,
    samples,
  };
  if (/uncaught|unhandled/i.test(server.output())) report.problems.push(`server output: ${server.output()}`);
  await server.stop();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  return report;
}
