/**
 * deflate is `npm run bench:deflate`: Duplex's permessage-deflate side by side with `ws`'s
 * (perMessageDeflate on), the same JSON messages for both, servers alternated round by round.
 *
 *   npm run bench:deflate -- [--quick] [--scenarios json-1k,json-64k,memory,json-16k,random-16k]
 *                            [--modes takeover,no-takeover,off] [--rounds N] [--duration S]
 *                            [--warmup S] [--clients P] [--memory-connections N] [--json FILE]
 *
 * - Servers: `duplex echo` (deflate on, its defaults) and bench/servers/ws-deflate.ts (ws
 *   with `perMessageDeflate: true`), each a fresh process pinned with `taskset -c 0`, with
 *   bench/gc-on-signal.ts preloaded (SIGUSR2 runs a full GC).
 * - Clients: P processes of bench/deflate-load.ts pinned to CPU 1, identical for both
 *   servers. They send messages compressed once at start-up and count what comes back
 *   without inflating it (the first replies of every connection are inflated and checked),
 *   so that the zlib work of a run is the server's.
 * - Modes: `takeover` offers plain `permessage-deflate` (context takeover both ways, the
 *   default of both servers); `no-takeover` offers `server_no_context_takeover;
 *   client_no_context_takeover`, which both servers accept; `off` (not run unless named)
 *   offers nothing and sends plain frames: the baseline that deflate is measured against.
 * - Throughput (json-1k: 100 connections, 1,024-byte messages; json-64k: 16 connections,
 *   65,536-byte messages; json-16k and random-16k (not run unless named): 50 connections,
 *   16,384-byte JSON text or random binary messages, the random ones compressed by the client
 *   as ws compresses whatever passes its threshold; one message in flight per connection): round trips per second,
 *   MB/s of payload (uncompressed bytes echoed), and the compression ratio of what the
 *   server sent: wire bytes of its frames (headers included) / payload bytes.
 * - Memory: 1,000 connections (--memory-connections) that each echo 4 messages of 1 KiB
 *   JSON one at a time, so that compression state exists on both sides (ws creates its zlib
 *   streams lazily); RSS of the server after a forced GC, minus its RSS after a GC before
 *   the clients connected, divided by the connections.
 * Every child is bounded in time and killed when it overstays; every loop ends by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  collect,
  cpuTicks,
  fmt,
  int,
  median,
  type Pinning,
  pinning,
  rssKb,
  sleep,
  startServer,
  stopChild,
} from './lib/proc.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench
const root = path.resolve(here, '..', '..');
const CLI = path.join(root, 'dist', 'cli', 'main.js');
const GC_PRELOAD = pathToFileURL(path.join(here, 'gc-on-signal.js')).href;

type ServerName = 'duplex' | 'ws';
type ScenarioName = 'json-1k' | 'json-64k' | 'memory' | 'json-16k' | 'random-16k';
type Mode = 'takeover' | 'no-takeover' | 'off';
const SERVERS: ServerName[] = ['duplex', 'ws'];
const ALL_SCENARIOS: ScenarioName[] = ['json-1k', 'json-64k', 'memory', 'json-16k', 'random-16k'];
const DEFAULT_SCENARIOS: ScenarioName[] = ['json-1k', 'json-64k', 'memory'];
const ALL_MODES: Mode[] = ['takeover', 'no-takeover', 'off'];
const DEFAULT_MODES: Mode[] = ['takeover', 'no-takeover'];

interface Options {
  quick: boolean;
  scenarios: ScenarioName[];
  modes: Mode[];
  rounds: number;
  duration: number;
  warmup: number;
  clients: number;
  memoryConnections: number;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    scenarios: DEFAULT_SCENARIOS,
    modes: DEFAULT_MODES,
    rounds: quick ? 1 : 3,
    duration: quick ? 1 : 5,
    warmup: quick ? 0.5 : 1,
    clients: 2,
    memoryConnections: quick ? 200 : 1000,
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
      o.scenarios = next().split(',') as ScenarioName[];
      for (const s of o.scenarios) if (!ALL_SCENARIOS.includes(s)) usage(`unknown scenario ${s}`);
    } else if (a === '--modes') {
      o.modes = next().split(',') as Mode[];
      for (const m of o.modes) if (!ALL_MODES.includes(m)) usage(`unknown mode ${m}`);
    } else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--clients') o.clients = Number(next());
    else if (a === '--memory-connections') o.memoryConnections = Number(next());
    else if (a === '--json') o.json = path.resolve(next());
    else usage(`unknown option ${a}`);
  }
  if (!(o.duration > 0 && o.duration <= 600) || !(o.warmup >= 0 && o.warmup <= 60))
    usage('bad duration or warmup');
  if (!(o.rounds >= 1 && o.rounds <= 50)) usage('--rounds is 1 to 50');
  if (!(o.clients >= 1 && o.clients <= 16)) usage('--clients is 1 to 16');
  if (!(o.memoryConnections >= 1 && o.memoryConnections <= 10_000))
    usage('--memory-connections is 1 to 10000');
  return o;
}

function usage(message: string): never {
  process.stderr.write(`bench:deflate: ${message}\nsee the comment at the top of bench/deflate.ts\n`);
  process.exit(2);
}

// ------------------------------------------------------------------ processes

function serverArgv(name: ServerName): string[] {
  const node = [process.execPath, '--expose-gc', '--import', GC_PRELOAD];
  return name === 'duplex'
    ? [...node, CLI, 'echo', '--port', '0']
    : [...node, path.join(here, 'servers', 'ws-deflate.js'), '--port', '0'];
}

/** Client is one deflate-load process: its JSON lines arrive in order through `next()`. */
interface Client {
  child: ChildProcess;
  next(): Promise<Record<string, unknown>>;
  send(line: string): void;
}

function startClient(argv: string[], limitS: number): Client {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
  child.once('exit', () => clearTimeout(timer));
  const lines: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  let buf = '';
  let ended = false;
  const deliver = (m: Record<string, unknown>): void => {
    const w = waiting.shift();
    if (w) w(m);
    else lines.push(m);
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        deliver(JSON.parse(line) as Record<string, unknown>);
      } catch {
        process.stderr.write(`bench:deflate: client said: ${line}\n`);
      }
      nl = buf.indexOf('\n');
    }
  });
  child.once('exit', (code) => {
    ended = true;
    while (waiting.length > 0) waiting.shift()!({ type: 'exit', code });
  });
  child.stdin!.on('error', () => {});
  return {
    child,
    next: () => {
      const m = lines.shift();
      if (m) return Promise.resolve(m);
      if (ended) return Promise.resolve({ type: 'exit' });
      return new Promise((resolve) => waiting.push(resolve));
    },
    send: (line) => {
      if (!ended) child.stdin!.write(`${line}\n`);
    },
  };
}

// ------------------------------------------------------------------ runs

interface Measure {
  msgsPerS: number;
  mbPerS: number;
  wireRatio: number; // server's frames on the wire / payload bytes; for memory: unused
  bytesPerConn: number; // memory only
  clientCpu: number;
  serverCpu: number;
  /** Server CPU time per echo in microseconds (robust when the machine is shared). */
  cpuPerMsg: number;
  connections: number;
  verified: number;
  compressedShare: number;
  errors: number;
}

const SIZE: Record<
  Exclude<ScenarioName, 'memory'>,
  { size: number; connections: number; pool: number; random?: boolean }
> = {
  'json-1k': { size: 1024, connections: 100, pool: 256 },
  'json-64k': { size: 65536, connections: 16, pool: 16 },
  'json-16k': { size: 16384, connections: 50, pool: 64 },
  'random-16k': { size: 16384, connections: 50, pool: 64, random: true },
};

function clientArgv(ctx: Context, port: number, mode: Mode, index: number, extra: string[]): string[] {
  return [
    ...ctx.pin.generator,
    process.execPath,
    path.join(here, 'deflate-load.js'),
    '--port',
    String(port),
    ...(mode === 'no-takeover' ? ['--no-takeover'] : mode === 'off' ? ['--no-deflate'] : []),
    '--offset',
    String(index * 31),
    ...extra,
  ];
}

/** share splits n connections over p processes. */
function share(n: number, p: number, i: number): number {
  return Math.floor(n / p) + (i < n % p ? 1 : 0);
}

async function throughputRun(
  ctx: Context,
  scenario: Exclude<ScenarioName, 'memory'>,
  mode: Mode,
  name: ServerName,
): Promise<Measure> {
  const { o } = ctx;
  const spec = SIZE[scenario];
  const server = await startServer([...ctx.pin.server, ...serverArgv(name)]);
  const clients: Client[] = [];
  try {
    const p = Math.min(o.clients, spec.connections);
    for (let i = 0; i < p; i++) {
      const args = [
        '-c',
        String(share(spec.connections, p, i)),
        '-s',
        String(spec.size),
        '--pool',
        String(spec.pool),
        ...(spec.random ? ['--random'] : []),
      ];
      args.push('-d', String(o.duration), '-w', String(o.warmup));
      clients.push(startClient(clientArgv(ctx, server.port, mode, i, args), o.duration + o.warmup + 90));
    }
    const ready = await Promise.all(clients.map((c) => c.next()));
    const opened = ready.reduce((n, r) => n + (Number(r['opened']) || 0), 0);
    if (opened === 0) throw new Error(`${name}: no client connection opened`);
    for (const c of clients) c.send('go');
    await sleep(o.warmup * 1000);
    const t0 = cpuTicks(server.pid);
    await sleep(o.duration * 1000);
    const t1 = cpuTicks(server.pid);
    const results = await Promise.all(clients.map((c) => c.next()));
    let messages = 0;
    let payload = 0;
    let wire = 0;
    let cpu = 0;
    let errors = 0;
    let verified = 0;
    let compressed = 0;
    let secs = 0;
    for (const r of results) {
      if (r['type'] !== 'result') throw new Error(`${name}: a client ended without a result`);
      messages += Number(r['messages']);
      payload += Number(r['payload_bytes']);
      wire += Number(r['wire_bytes_in']);
      cpu += Number(r['cpu_s']);
      errors += Number(r['errors']);
      verified += Number(r['verified']);
      compressed += Number(r['compressed']);
      secs = Math.max(secs, Number(r['duration_s']));
    }
    errors += ready.reduce((n, r) => n + (Number(r['failed']) || 0), 0);
    return {
      msgsPerS: messages / secs,
      mbPerS: payload / secs / 1e6,
      wireRatio: wire / payload,
      bytesPerConn: Number.NaN,
      clientCpu: (cpu / secs) * 100,
      serverCpu: ((t1 - t0) / 100 / o.duration) * 100,
      cpuPerMsg: ((t1 - t0) / 100 / o.duration / (messages / secs)) * 1e6,
      connections: opened,
      verified,
      compressedShare: compressed / messages,
      errors,
    };
  } finally {
    await Promise.all(clients.map((c) => stopChild(c.child, 'SIGKILL')));
    await stopChild(server.child);
  }
}

const EXCHANGES = 4;

async function memoryRun(ctx: Context, mode: Mode, name: ServerName): Promise<Measure> {
  const { o } = ctx;
  const server = await startServer([...ctx.pin.server, ...serverArgv(name)]);
  const clients: Client[] = [];
  try {
    await sleep(300);
    await collect(server.pid);
    const before = rssKb(server.pid);
    const p = Math.min(o.clients, o.memoryConnections);
    for (let i = 0; i < p; i++) {
      const args = ['-c', String(share(o.memoryConnections, p, i)), '-s', '1024', '--pool', '64'];
      args.push('--exchange', String(EXCHANGES), '--verify', String(EXCHANGES), '--hold', '60');
      clients.push(startClient(clientArgv(ctx, server.port, mode, i, args), 150));
    }
    const ready = await Promise.all(clients.map((c) => c.next()));
    for (const c of clients) c.send('go');
    const done = await Promise.all(clients.map((c) => c.next()));
    await sleep(1000);
    await collect(server.pid);
    const after = rssKb(server.pid);
    for (const c of clients) c.send('stop');
    let open = 0;
    let errors = ready.reduce((n, r) => n + (Number(r['failed']) || 0), 0);
    let verified = 0;
    let replies = 0;
    let compressed = 0;
    for (const r of done) {
      if (r['type'] !== 'exchanged') throw new Error(`${name}: a client ended before its exchanges`);
      open += Number(r['connections']);
      errors += Number(r['errors']);
      verified += Number(r['verified']);
      replies += Number(r['replies']);
      compressed += Number(r['compressed']);
    }
    if (replies !== open * EXCHANGES) errors += Math.abs(open * EXCHANGES - replies);
    return {
      msgsPerS: Number.NaN,
      mbPerS: Number.NaN,
      wireRatio: Number.NaN,
      bytesPerConn: ((after - before) * 1024) / open,
      clientCpu: Number.NaN,
      serverCpu: Number.NaN,
      cpuPerMsg: Number.NaN,
      connections: open,
      verified,
      compressedShare: compressed / replies,
      errors,
    };
  } finally {
    await Promise.all(clients.map((c) => stopChild(c.child)));
    await stopChild(server.child);
  }
}

// ------------------------------------------------------------------ report

interface Context {
  o: Options;
  pin: Pinning;
}

interface Result {
  scenario: ScenarioName;
  mode: Mode;
  runs: Record<ServerName, Measure[]>;
}

/** ratio is the median over rounds of duplex[i] / ws[i] (pairs measured in the same round). */
function ratio(r: Result, key: keyof Measure): number {
  const d = r.runs.duplex;
  const w = r.runs.ws;
  const out: number[] = [];
  for (let i = 0; i < Math.min(d.length, w.length); i++) out.push(d[i]![key] / w[i]![key]);
  return median(out);
}

const med = (ms: Measure[], key: keyof Measure): number => median(ms.map((m) => m[key]));
function title(r: Result, o: Options): string {
  const mode =
    r.mode === 'takeover' ? 'context takeover' : r.mode === 'off' ? 'deflate off' : 'no context takeover';
  if (r.scenario === 'memory')
    return `memory per connection, ${int(o.memoryConnections)} connections x ${EXCHANGES} msgs of 1 KiB, ${mode}`;
  const s = SIZE[r.scenario];
  return `echo ${s.size / 1024} KiB ${s.random ? 'random' : 'JSON'}, ${s.connections} connections, ${mode}`;
}

function markdown(results: Result[], o: Options): string {
  const lines: string[] = [];
  lines.push('| scenario | ws 8, perMessageDeflate | Duplex | Duplex / ws |');
  lines.push('|---|---|---|---|');
  for (const r of results) {
    const { duplex: d, ws: w } = r.runs;
    if (r.scenario === 'memory') {
      const kb = (ms: Measure[]) => `${fmt(med(ms, 'bytesPerConn') / 1024, 1)} KiB RSS`;
      lines.push(`| ${title(r, o)} | ${kb(w)} | ${kb(d)} | **${fmt(ratio(r, 'bytesPerConn'))}x** |`);
      continue;
    }
    const tp = (ms: Measure[]) => `${int(med(ms, 'msgsPerS'))} msg/s (${fmt(med(ms, 'mbPerS'), 1)} MB/s)`;
    lines.push(`| ${title(r, o)}: throughput | ${tp(w)} | ${tp(d)} | **${fmt(ratio(r, 'msgsPerS'))}x** |`);
    const cr = (ms: Measure[]) => fmt(med(ms, 'wireRatio'), 3);
    lines.push(
      `| same: wire / payload (lower is better) | ${cr(w)} | ${cr(d)} | ${fmt(ratio(r, 'wireRatio'))}x |`,
    );
    const us = (ms: Measure[]) => `${int(med(ms, 'cpuPerMsg'))} us`;
    lines.push(
      `| same: server CPU per echo (lower is better) | ${us(w)} | ${us(d)} | ${fmt(ratio(r, 'cpuPerMsg'))}x |`,
    );
  }
  lines.push('');
  lines.push(
    'Ratios are medians of per-round ratios (servers alternated in each round); absolute figures are medians.',
  );
  lines.push('');
  lines.push(
    '| scenario | mode | server | runs | client CPU % | server CPU % | replies compressed | replies verified | errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const name of SERVERS) {
      const ms = r.runs[name];
      const runs =
        r.scenario === 'memory'
          ? ms.map((m) => `${int(m.bytesPerConn)} B/conn`).join(', ')
          : ms.map((m) => `${int(m.msgsPerS)}`).join(', ');
      lines.push(
        `| ${r.scenario} | ${r.mode} | ${name} | ${runs} | ${int(med(ms, 'clientCpu'))} | ${int(med(ms, 'serverCpu'))} | ${fmt(med(ms, 'compressedShare') * 100, 0)} % | ${ms.reduce((n, m) => n + m.verified, 0)} | ${ms.reduce((n, m) => n + m.errors, 0)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  setTimeout(() => {
    process.stderr.write('bench:deflate: time limit reached\n');
    process.exit(3);
  }, 30 * 60_000).unref();
  if (!existsSync(CLI)) usage(`${CLI} is missing: run npm run build`);
  const ctx: Context = { o, pin: pinning('clients') };
  const cpuModel = /model name\s*:\s*(.*)/.exec(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  )?.[1];
  const header = [
    `Duplex permessage-deflate benchmark, ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus().length} CPUs (${cpuModel ?? 'unknown'})`,
    `clients: ${o.clients} bench/deflate-load.ts processes; ${ctx.pin.note}`,
    `rounds ${o.rounds}, ${o.duration} s measured after ${o.warmup} s warm-up per run; memory with ${o.memoryConnections} connections`,
  ];
  process.stderr.write(`${header.join('\n')}\n`);
  const results: Result[] = [];
  for (const scenario of o.scenarios) {
    for (const mode of o.modes) {
      const r: Result = { scenario, mode, runs: { duplex: [], ws: [] } };
      for (let round = 0; round < o.rounds; round++) {
        const order = round % 2 === 0 ? SERVERS : [...SERVERS].reverse();
        for (const name of order) {
          const m =
            scenario === 'memory'
              ? await memoryRun(ctx, mode, name)
              : await throughputRun(ctx, scenario, mode, name);
          r.runs[name].push(m);
          const shown =
            scenario === 'memory'
              ? `${int(m.bytesPerConn)} B/conn`
              : `${int(m.msgsPerS)} msg/s, ratio ${fmt(m.wireRatio, 3)}, client CPU ${int(m.clientCpu)}%, server CPU ${int(m.serverCpu)}%`;
          process.stderr.write(
            `bench:deflate: ${scenario} ${mode} round ${round + 1} ${name}: ${shown} (conns ${m.connections}, verified ${m.verified}, errors ${m.errors})\n`,
          );
        }
      }
      results.push(r);
    }
  }
  const out = `${header.map((h) => `> ${h}`).join('\n')}\n\n${markdown(results, o)}\n\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`;
  process.stdout.write(out);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ header, results }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:deflate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
