/**
 * agreement is `npm run bench:agreement` (issue 11): does `duplex bench`, the load tester users
 * get, report what the C load generator beside the project (shared/tools/wsload.c, one thread,
 * epoll) reports for the same load, within 10 %? Both drive the same server process, one after
 * the other, alternately (wsload first in even pairs, duplex bench first in odd ones), pinned to
 * the same CPU (the server on CPU 0, the tools on CPU 1), in one process tree. A pair's ratio is
 * duplex bench's msgs/s over wsload's; the table gives the median of the pairs' ratios. Then
 * the same number of side-by-side runs: both tools at once, half the connections each, so that
 * the machine's drift hits both alike (a tool slower to turn echoes around gets fewer). There
 * duplex bench starts first, wsload as soon as the server holds duplex bench's connections
 * (its socket count in /proc/PID/fd), with its warm-up shortened by the time its own
 * connections took to open in the row's earlier runs: the two measured windows coincide.
 * Before the pairs, each tool runs once against the fresh server, not counted (the server's
 * JIT warms up on it). With `--poll-idle` the run holds /dev/cpu_dma_latency at 0 (root only,
 * machine-wide while it lasts): idle CPUs poll instead of halting (see pollIdle below).
 *
 *   WSLOAD_SRC=../shared/tools/wsload.c npm run bench:agreement -- [--pairs N] [--duration S]
 *        [--warmup S] [--connections N] [--servers duplex,ws] [--sizes 32,16384] [--poll-idle]
 *
 * Servers: `duplex echo` as users run it, and ws 8 (bench/servers/ws.ts echo), each a fresh
 * process per server and message size. Load: 100 connections, one message in flight each, 32 B
 * text and 16 KiB binary. wsload is compiled into a temporary directory from WSLOAD_SRC
 * (default: ../shared/tools/wsload.c beside the repository); without it the script says so and
 * exits 2. Every child is bounded in time.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cpuTicks,
  fmt,
  int,
  median,
  pinning,
  runGenerator,
  sleep,
  startServer,
  stopChild,
} from './lib/proc.js';
import { compileWsload } from './lib/wsload.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench
const root = path.resolve(here, '..', '..');
const CLI = path.join(root, 'dist', 'cli', 'main.js');

type Tool = 'wsload' | 'bench';
type ServerKind = 'duplex' | 'ws';

interface Options {
  pairs: number;
  duration: number;
  warmup: number;
  connections: number;
  servers: ServerKind[];
  sizes: number[];
  /** Hold /dev/cpu_dma_latency at 0 during the run: idle CPUs poll instead of halting (see pollIdle). */
  pollIdle: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = {
    pairs: 5,
    duration: 5,
    warmup: 1,
    connections: 100,
    servers: ['duplex', 'ws'],
    sizes: [32, 16384],
    pollIdle: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--poll-idle') {
      o.pollIdle = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) usage(`${a} needs a value`);
    if (a === '--pairs') o.pairs = Number(v);
    else if (a === '--duration') o.duration = Number(v);
    else if (a === '--warmup') o.warmup = Number(v);
    else if (a === '--connections') o.connections = Number(v);
    else if (a === '--servers') o.servers = v.split(',') as ServerKind[];
    else if (a === '--sizes') o.sizes = v.split(',').map(Number);
    else usage(`unknown option ${a}`);
  }
  if (!(o.pairs >= 1 && o.pairs <= 50 && o.duration > 0 && o.duration <= 120 && o.warmup >= 0))
    usage('--pairs 1..50, --duration 0..120 s, --warmup >= 0');
  if (!(o.connections >= 1 && o.connections <= 10_000)) usage('--connections 1..10000');
  if (!o.servers.every((s) => s === 'duplex' || s === 'ws')) usage('--servers is a list of duplex, ws');
  if (!o.sizes.every((s) => Number.isInteger(s) && s >= 1 && s <= 16 * 1024 * 1024))
    usage('--sizes 1..16777216');
  return o;
}

function usage(message: string): never {
  process.stderr.write(`agreement: ${message}\nsee the comment at the top of bench/agreement.ts\n`);
  process.exit(2);
}

interface Run {
  msgs: number;
  p50: number;
  p99: number;
  clientCpu: number;
  serverCpu: number;
  /** How much of the tools' CPU (CPU 1 when pinned) was idle over the measured window, %. */
  toolCpuIdle: number;
  errors: number;
}

interface Cell {
  server: ServerKind;
  size: number;
  wsload: Run[];
  bench: Run[];
  /** bench / wsload per pair. */
  ratios: number[];
  /** Side by side: bench / wsload msgs/s, each tool with half the connections, at the same time. */
  together: number[];
}

function serverArgv(kind: ServerKind): string[] {
  return kind === 'duplex'
    ? [process.execPath, CLI, 'echo', '--port', '0']
    : [process.execPath, path.join(here, 'servers', 'ws.js'), 'echo', '--port', '0'];
}

function toolArgv(
  tool: Tool,
  wsload: string,
  o: Options,
  port: number,
  pid: number,
  size: number,
  connections = o.connections,
  warmup = o.warmup,
): string[] {
  const binary = size >= 1024;
  if (tool === 'wsload')
    return [
      wsload,
      '--port',
      String(port),
      '-c',
      String(connections),
      '-k',
      '1',
      '-s',
      String(size),
      binary ? '--binary' : '--text',
      '-d',
      String(o.duration),
      '-w',
      String(warmup),
      '--pid',
      String(pid),
    ];
  return [
    process.execPath,
    CLI,
    'bench',
    `ws://127.0.0.1:${port}/`,
    '-c',
    String(connections),
    '-k',
    '1',
    '--size',
    String(size),
    ...(binary ? ['--binary'] : []),
    '-d',
    String(o.duration),
    '-w',
    String(o.warmup),
    '--json',
  ];
}

/**
 * runTool runs one tool against the server. The server's CPU is read from /proc every 100 ms
 * while it runs and taken over the tool's measured window: its last `duration_s` seconds
 * before it printed its result (both tools stop measuring, print and exit at once).
 */
async function runTool(argv: string[], limitS: number, serverPid: number): Promise<Run> {
  const samples: { t: number; ticks: number; idle: CpuIdle }[] = [];
  const poll = setInterval(
    () => samples.push({ t: performance.now(), ticks: cpuTicks(serverPid), idle: toolCpuIdle() }),
    100,
  );
  let r: Record<string, unknown>;
  try {
    r = await runGenerator(argv, limitS);
  } finally {
    clearInterval(poll);
  }
  const end = performance.now();
  const secs = Number(r['duration_s']);
  const at = (t: number) =>
    samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best));
  let serverCpu = Number.NaN;
  let idle = Number.NaN;
  if (samples.length >= 2 && secs > 0) {
    const a = at(end - secs * 1000 - 100);
    const b = at(end - 100);
    if (b.t > a.t) serverCpu = ((b.ticks - a.ticks) / 100 / ((b.t - a.t) / 1000)) * 100;
    if (b.idle.all > a.idle.all) idle = ((b.idle.idle - a.idle.idle) / (b.idle.all - a.idle.all)) * 100;
  }
  return {
    msgs: Number(r['msgs_per_s']),
    p50: Number(r['p50_us']),
    p99: Number(r['p99_us']),
    clientCpu: Number(r['client_cpu_pct']),
    serverCpu,
    toolCpuIdle: idle,
    errors: Number(r['errors']),
  };
}

async function measureCell(o: Options, wsload: string, server: ServerKind, size: number): Promise<Cell> {
  const pin = pinning('the tools');
  const srv = await startServer([...pin.server, ...serverArgv(server)]);
  const cell: Cell = { server, size, wsload: [], bench: [], ratios: [], together: [] };
  try {
    await sleep(300);
    // The server's socket count with no tool connected (its listening socket and the like).
    const idle = serverSockets(srv.pid);
    const limit = o.duration + o.warmup + 60;
    // One uncounted run of each tool first: the server process is fresh, and its JIT is still
    // compiling the per-message path (for ws 16 KiB half its CPU is one inlined unmask loop,
    // whose cost moves with V8's optimizations); without this, pair 1's first run, always
    // wsload's, met a colder server than every later run.
    for (const tool of ['wsload', 'bench'] as Tool[]) {
      const r = await runTool(
        [...pin.generator, ...toolArgv(tool, wsload, o, srv.port, srv.pid, size)],
        limit,
        srv.pid,
      );
      process.stderr.write(
        `agreement: ${server} ${size} B server warm-up (not counted): ${tool} ${int(r.msgs)} msgs/s, server ${fmt((r.serverCpu * 1e4) / r.msgs, 1)} us per echo\n`,
      );
      await sleep(300);
    }
    for (let pair = 0; pair < o.pairs; pair++) {
      const order: Tool[] = pair % 2 === 0 ? ['wsload', 'bench'] : ['bench', 'wsload'];
      const got: Partial<Record<Tool, Run>> = {};
      for (const tool of order) {
        got[tool] = await runTool(
          [...pin.generator, ...toolArgv(tool, wsload, o, srv.port, srv.pid, size)],
          limit,
          srv.pid,
        );
        await sleep(300); // let the server close the last connections
      }
      const w = got.wsload!;
      const b = got.bench!;
      cell.wsload.push(w);
      cell.bench.push(b);
      cell.ratios.push(b.msgs / w.msgs);
      process.stderr.write(
        `agreement: ${server} ${size} B pair ${pair + 1} (${order[0]} first): wsload ${int(w.msgs)} msgs/s, duplex bench ${int(b.msgs)} msgs/s, ratio ${fmt(b.msgs / w.msgs)} (client CPU ${w.clientCpu} / ${b.clientCpu} %, server CPU ${fmt(w.serverCpu, 0)} / ${fmt(b.serverCpu, 0)} % = ${fmt((w.serverCpu * 1e4) / w.msgs, 1)} / ${fmt((b.serverCpu * 1e4) / b.msgs, 1)} us per echo, tools' CPU idle ${fmt(w.toolCpuIdle, 0)} / ${fmt(b.toolCpuIdle, 0)} %, errors ${w.errors} / ${b.errors})\n`,
      );
    }
    // Side by side: both tools at once against the server, half the connections each. Both
    // see the same machine at the same moment, so its drift cancels; a tool that turns echoes
    // around more slowly gets fewer of them. duplex bench starts first, wsload once the
    // server holds duplex bench's connections (below).
    const half = Math.max(1, Math.floor(o.connections / 2));
    /** How long wsload took from its launch to its connections being open, per run. */
    const leads: number[] = [];
    for (let run = 0; run < o.pairs; run++) {
      // Wait for the last run's connections to be gone, then start duplex bench and start
      // wsload as soon as the server holds duplex bench's connections: duplex bench's
      // warm-up starts when they are open, and wsload's a few ms later (its connects), so
      // the two measured windows coincide whatever duplex bench's start-up costs today.
      await waitSockets(srv.pid, (n) => n <= idle, 3000);
      const t0 = performance.now();
      const bench = runTool(
        [...pin.generator, ...toolArgv('bench', wsload, o, srv.port, srv.pid, size, half)],
        limit,
        srv.pid,
      );
      if (!(idle >= 0 && (await waitSockets(srv.pid, (n) => n >= idle + half, 30_000)))) {
        unaligned++;
        await sleep(Math.max(0, 2000 - (performance.now() - t0)));
      }
      startDelays.push(performance.now() - t0);
      // wsload's window starts once its own connections are open, `lead` ms after duplex
      // bench's: its warm-up is shortened by the lead measured in the runs before, so that
      // neither tool has the server to itself at either end of its window.
      const lead = leads.length ? median(leads) : 0;
      const t1 = performance.now();
      const wRun = runTool(
        [
          ...pin.generator,
          ...toolArgv(
            'wsload',
            wsload,
            o,
            srv.port,
            srv.pid,
            size,
            half,
            Math.max(0, o.warmup - lead / 1000),
          ),
        ],
        limit,
        srv.pid,
      );
      if (await waitSockets(srv.pid, (n) => n >= idle + 2 * half, 10_000)) leads.push(performance.now() - t1);
      const w = await wRun;
      const b = await bench;
      cell.together.push(b.msgs / w.msgs);
      allLeads.push(...leads.slice(-1));
      process.stderr.write(
        `agreement: ${server} ${size} B side by side ${run + 1}: wsload ${int(w.msgs)} msgs/s, duplex bench ${int(b.msgs)} msgs/s on ${half} connections each, ratio ${fmt(b.msgs / w.msgs)} (wsload launched ${Math.round(startDelays.at(-1)!)} ms after duplex bench, its connections open ${leads.length ? Math.round(leads.at(-1)!) : '?'} ms later, warm-up shortened by ${Math.round(lead)} ms)\n`,
      );
      await sleep(300);
    }
  } finally {
    await stopChild(srv.child);
  }
  return cell;
}

interface CpuIdle {
  idle: number;
  all: number;
}

/** The tools' CPU: CPU 1 when pinned (bench/lib/proc.ts pinning), else none. */
let toolCpu: number | undefined;

/** toolCpuIdle reads the tools' CPU's idle and total ticks from /proc/stat (zeros where that cannot be read). */
function toolCpuIdle(): CpuIdle {
  if (toolCpu === undefined) return { idle: 0, all: 0 };
  try {
    const line = readFileSync('/proc/stat', 'latin1')
      .split('\n')
      .find((l) => l.startsWith(`cpu${toolCpu} `));
    const f = line!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3]! + f[4]!, all: f.reduce((x, y) => x + y, 0) };
  } catch {
    return { idle: 0, all: 0 };
  }
}

/**
 * pollIdle (`--poll-idle`) asks the kernel for a CPU wake-up latency of 0 (PM QoS, by holding
 * /dev/cpu_dma_latency open with 0 written) for as long as the run lasts: idle CPUs then poll
 * instead of halting, so the server wakes a sleeping tool by setting a flag, not by an
 * inter-processor interrupt to a halted (virtual) CPU. Why that matters here: on this
 * machine's KVM guest a wake-up of a halted CPU costs the server several microseconds per
 * echo (BENCHMARKS.md, the agreement section), and a tool that is cheaper per echo sleeps,
 * and so has to be woken, more often: the server's cost per echo then depends on the tool's
 * idleness, not only on what the tool sends. The request ends when the file is closed (also
 * when the process dies). Returns the function that closes it.
 */
function pollIdle(): () => void {
  let fd: number;
  try {
    fd = openSync('/dev/cpu_dma_latency', 'w');
    const zero = Buffer.alloc(4);
    writeSync(fd, zero);
  } catch (error) {
    usage(`--poll-idle needs write access to /dev/cpu_dma_latency (root): ${(error as Error).message}`);
  }
  return () => closeSync(fd);
}

/**
 * serverSockets counts the sockets a process holds (its listening socket and its connections),
 * from /proc/PID/fd; -1 where that cannot be read.
 */
function serverSockets(pid: number): number {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {}
    }
    return n;
  } catch {
    return -1;
  }
}

/** waitSockets polls the server's socket count every 10 ms until `done` says so or `limitMs` passed; true if done. */
async function waitSockets(pid: number, done: (n: number) => boolean, limitMs: number): Promise<boolean> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs) {
    const n = serverSockets(pid);
    if (n < 0) return false;
    if (done(n)) return true;
    await sleep(10);
  }
  return false;
}

/** Side by side: how long after duplex bench's launch wsload was started (ms), one per run. */
const startDelays: number[] = [];
/** Side by side: wsload's launch to its connections open (ms), every run. */
const allLeads: number[] = [];
/** Side by side runs where the server's socket count could not be followed (wsload then started after 2 s). */
let unaligned = 0;

function table(cells: Cell[]): string {
  const lines = [
    '| server | message | pairs | wsload msgs/s | duplex bench msgs/s | one after the other: bench / wsload (median of pairs) | range of pairs | one after the other within 10 %? | p50 wsload / bench | p99 wsload / bench | client CPU wsload / bench | client CPU per message wsload / bench | server CPU wsload / bench | server CPU per message wsload / bench | tool CPU idle wsload / bench | side by side: bench / wsload (median, range) | side by side within 10 %? | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    const m = (runs: Run[], k: keyof Run) => median(runs.map((r) => r[k]));
    const ms = (us: number) => `${fmt(us / 1000, 1)}`;
    const x = median(c.ratios);
    const within = (r: number) => (Number.isFinite(r) ? (Math.abs(r - 1) <= 0.1 ? 'yes' : '**no**') : 'n/a');
    const ok = within(x);
    const together = median(c.together);
    const errors = [...c.wsload, ...c.bench].reduce((n, r) => n + r.errors, 0);
    const per = (runs: Run[], k: 'clientCpu' | 'serverCpu') =>
      fmt(median(runs.map((r) => ((r[k] / 100) * 1e6) / r.msgs)), 1);
    lines.push(
      `| ${c.server === 'duplex' ? 'duplex echo' : 'ws 8'} | ${c.size >= 1024 ? `${c.size / 1024} KiB binary` : `${c.size} B text`} | ${c.ratios.length} | ${int(m(c.wsload, 'msgs'))} | ${int(m(c.bench, 'msgs'))} | **${fmt(x)}** | ${fmt(Math.min(...c.ratios))}-${fmt(Math.max(...c.ratios))} | ${ok} | ${ms(m(c.wsload, 'p50'))} / ${ms(m(c.bench, 'p50'))} ms | ${ms(m(c.wsload, 'p99'))} / ${ms(m(c.bench, 'p99'))} ms | ${int(m(c.wsload, 'clientCpu'))} / ${int(m(c.bench, 'clientCpu'))} % | ${per(c.wsload, 'clientCpu')} / ${per(c.bench, 'clientCpu')} us | ${int(m(c.wsload, 'serverCpu'))} / ${int(m(c.bench, 'serverCpu'))} % | ${per(c.wsload, 'serverCpu')} / ${per(c.bench, 'serverCpu')} us | ${int(m(c.wsload, 'toolCpuIdle'))} / ${int(m(c.bench, 'toolCpuIdle'))} % | ${c.together.length ? `${fmt(together)} (${fmt(Math.min(...c.together))}-${fmt(Math.max(...c.together))})` : 'n/a'} | ${c.together.length ? within(together) : 'n/a'} | ${errors} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const src = process.env['WSLOAD_SRC'] ?? path.resolve(root, '..', 'shared', 'tools', 'wsload.c');
  if (!existsSync(src)) usage(`no wsload source at ${src}: set WSLOAD_SRC=path/to/wsload.c`);
  let wsload: string;
  try {
    wsload = compileWsload(src);
  } catch (error) {
    usage((error as Error).message);
  }
  const cells = o.servers.length * o.sizes.length;
  setTimeout(
    () => {
      process.stderr.write('agreement: time limit reached\n');
      process.exit(3);
    },
    (cells * (o.pairs * 3 + 2) * (o.duration + o.warmup + 10) + 120) * 1000,
  ).unref();
  const pin = pinning('wsload and duplex bench');
  if (pin.generator.length > 0) toolCpu = 1;
  const unpoll = o.pollIdle ? pollIdle() : undefined;
  const started = Date.now();
  const out: Cell[] = [];
  try {
    for (const server of o.servers)
      for (const size of o.sizes) out.push(await measureCell(o, wsload, server, size));
  } finally {
    unpoll?.();
  }
  const header = [
    `duplex bench vs wsload (shared/tools/wsload.c), ${new Date().toISOString().slice(0, 10)}: node ${process.version}; ${pin.note}; ${o.pollIdle ? 'idle CPUs polling (--poll-idle: /dev/cpu_dma_latency held at 0)' : 'idle CPUs as the machine has them (no --poll-idle)'}`,
    `${o.connections} connections, 1 message in flight each, ${o.duration} s measured after ${o.warmup} s warm-up; ${o.pairs} pairs per row, alternating which tool runs first; one server process per row; side by side: both tools at once with ${Math.floor(o.connections / 2)} connections each, wsload launched as soon as the server held duplex bench's connections (${startDelays.length ? `${Math.round(Math.min(...startDelays))}-${Math.round(Math.max(...startDelays))} ms after its launch` : 'no run'}; wsload's connections open ${allLeads.length ? `${Math.round(Math.min(...allLeads))}-${Math.round(Math.max(...allLeads))} ms` : '?'} after its launch, its warm-up shortened by the median of that in the row's runs before${unaligned ? `; ${unaligned} runs could not follow the server's sockets and started wsload 2 s after` : ''})`,
  ];
  process.stdout.write(
    `${header.map((h) => `> ${h}`).join('\n')}\n\n${table(out)}\n\nRatio > 1: duplex bench counted more echoes per second than wsload against the same server (one after the other; side by side, on half the connections each). Latencies and CPU are medians over the runs; server CPU is over each tool's measured window (from /proc, sampled every 100 ms); CPU per message is CPU time over messages counted, in microseconds.\n\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `agreement: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
