/**
 * deflate-stall is `npm run bench:deflate-stall`: what one peer sending large compressed
 * messages does to every other connection of the same server. One connection echoes 16 MiB
 * JSON messages compressed with permessage-deflate (the server inflates each one and
 * deflates its echo), while 20 other connections each ping-pong a 64-byte text message.
 * Measured per run: the server's event-loop delay (perf_hooks.monitorEventLoopDelay,
 * 1 ms resolution, in the server process), the round-trip time of the small messages
 * (p50, p99, max, seen by the client), and the large echoes per second.
 *
 *   npm run bench:deflate-stall -- [--rounds N] [--duration S] [--warmup S] [--size BYTES]
 *                                  [--small N] [--json FILE]
 *
 * Servers (bench/servers/stall-echo.ts, each a fresh process, pinned to CPU 0 with taskset
 * when present; servers alternated round by round):
 * - `duplex-sync`: Duplex with `asyncThreshold` at its maximum, i.e. every message inflated
 *   and deflated on the event loop: the behaviour before zlib's thread pool was used;
 * - `duplex`: Duplex with its defaults (messages from 256 KiB on go to zlib's thread pool);
 * - `ws`: ws 8 with `perMessageDeflate: true` (zlib streams, asynchronous).
 * The client is this script run with `--client` (pinned to CPU 1): raw sockets, the large
 * message compressed and masked once at start-up, echoes counted and not inflated.
 * Every child is bounded in time; every loop ends by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, constants as zlib } from 'node:zlib';
import { jsonMessages } from './json-messages.js';
import { clientFrame } from './lib/frames.js';
import { fmt, hardTimeLimit, int, median, pinning, sleep, stopChild } from './lib/proc.js';
import { type ErrorKind, errorTotal, noErrors, RawClient } from './lib/raw-client.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench
const SERVER = path.join(here, 'servers', 'stall-echo.js');

type ServerName = 'duplex-sync' | 'duplex' | 'ws';
const SERVERS: ServerName[] = ['duplex-sync', 'duplex', 'ws'];

interface Options {
  rounds: number;
  duration: number;
  warmup: number;
  size: number;
  small: number;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    duration: 8,
    warmup: 2,
    size: 16 * 1024 * 1024,
    small: 20,
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) usage(`${a} needs a value`);
    if (a === '--rounds') o.rounds = Number(v);
    else if (a === '--duration') o.duration = Number(v);
    else if (a === '--warmup') o.warmup = Number(v);
    else if (a === '--size') o.size = Number(v);
    else if (a === '--small') o.small = Number(v);
    else if (a === '--json') o.json = path.resolve(v);
    else usage(`unknown option ${a}`);
  }
  if (!(o.rounds >= 1 && o.rounds <= 20)) usage('--rounds is 1 to 20');
  if (!(o.duration > 0 && o.duration <= 120) || !(o.warmup >= 0 && o.warmup <= 30)) usage('bad duration');
  if (!(o.size >= 65536 && o.size <= 64 * 1024 * 1024)) usage('--size is 64 KiB to 64 MiB');
  if (!(o.small >= 1 && o.small <= 200)) usage('--small is 1 to 200');
  return o;
}

function usage(message: string): never {
  process.stderr.write(
    `bench:deflate-stall: ${message}\nsee the comment at the top of bench/deflate-stall.ts\n`,
  );
  process.exit(2);
}

// ------------------------------------------------------------------ the client (--client)

const TAIL = 4;

/** Conn is one connection of the client: `onReply` runs at the end of each message the server sends. */
class Conn extends RawClient {
  constructor(
    port: number,
    private readonly frame: Buffer,
    private readonly onReply: (c: Conn) => void,
    private readonly onOpen: () => void,
    private readonly onLost: (why: string) => void,
  ) {
    super({ host: '127.0.0.1', port, offer: 'permessage-deflate' });
  }
  sentAt = 0;
  protected opened(): void {
    this.onOpen();
  }
  protected lost(_wasOpen: boolean, kind: ErrorKind, why: string): void {
    this.onLost(`${kind}: ${why}`);
  }
  messageStart(): void {}
  messageData(): void {}
  messageEnd(): void {
    this.onReply(this);
  }
  send(): void {
    if (!this.open || !this.socket || this.socket.destroyed) return;
    this.sentAt = performance.now();
    this.write(this.frame);
  }
}

async function client(argv: string[]): Promise<void> {
  const get = (n: string): number => Number(argv[argv.indexOf(n) + 1]);
  const port = get('--port');
  const size = get('--size');
  const smallCount = get('--small');
  const warmup = get('--warmup');
  const duration = get('--duration');
  hardTimeLimit('deflate-stall client', 90 + warmup + duration);
  // The large message: JSON, compressed on its own, as a binary frame with RSV1.
  const plain = Buffer.concat(jsonMessages(65536, Math.ceil(size / 65536))).subarray(0, size);
  const deflated = deflateRawSync(plain, { level: 6, finishFlush: zlib.Z_SYNC_FLUSH });
  const largeFrame = clientFrame(0x2, deflated.subarray(0, deflated.length - TAIL), { compressed: true });
  const smallFrame = clientFrame(0x1, Buffer.from('x'.repeat(64)));
  const errors = noErrors();
  let measuring = false;
  let stopping = false;
  let large = 0;
  const rtts: number[] = [];
  let opened = 0;
  let failed = 0;
  let settle: () => void = () => {};
  const allSettled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const total = smallCount + 1;
  const onOpen = (): void => {
    if (++opened + failed === total) settle();
  };
  const onLost = (why: string): void => {
    if (stopping) return;
    errors.closed++;
    process.stderr.write(`deflate-stall client: ${why}\n`);
    if (opened + ++failed === total) settle();
  };
  const big = new Conn(
    port,
    largeFrame,
    (c) => {
      if (measuring) large++;
      if (!stopping) c.send();
    },
    onOpen,
    onLost,
  );
  const smalls = Array.from(
    { length: smallCount },
    () =>
      new Conn(
        port,
        smallFrame,
        (c) => {
          if (measuring && rtts.length < 2_000_000) rtts.push(performance.now() - c.sentAt);
          if (!stopping) c.send();
        },
        onOpen,
        onLost,
      ),
  );
  for (const c of [big, ...smalls]) c.connect();
  await allSettled;
  process.stdout.write(`${JSON.stringify({ type: 'ready', opened, failed })}\n`);
  await new Promise<void>((resolve) =>
    process.stdin.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('go')) resolve();
    }),
  );
  for (const c of smalls) c.send();
  big.send();
  await sleep(warmup * 1000);
  measuring = true;
  await sleep(duration * 1000);
  measuring = false;
  stopping = true;
  rtts.sort((a, b) => a - b);
  const pct = (p: number): number =>
    rtts[Math.min(rtts.length - 1, Math.floor((p / 100) * rtts.length))] ?? NaN;
  process.stdout.write(
    `${JSON.stringify({
      type: 'result',
      large_per_s: large / duration,
      small_per_s: rtts.length / duration,
      rtt_p50_ms: pct(50),
      rtt_p99_ms: pct(99),
      rtt_max_ms: rtts[rtts.length - 1] ?? NaN,
      compressed_bytes: largeFrame.length,
      errors: errorTotal(errors),
    })}\n`,
  );
  for (const c of [big, ...smalls]) c.socket?.destroy();
  process.exit(0);
}

// ------------------------------------------------------------------ the harness

/** Child is a spawned process whose stdout JSON lines arrive in order through `next()`. */
interface Child {
  child: ChildProcess;
  next(): Promise<Record<string, unknown>>;
  send(line: string): void;
}

function startChild(argv: string[], limitS: number, onText?: (line: string) => void): Child {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
  child.once('exit', () => clearTimeout(timer));
  const lines: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line) as Record<string, unknown>;
      } catch {
        onText?.(line);
        continue;
      }
      const w = waiting.shift();
      if (w) w(m);
      else lines.push(m);
    }
  });
  child.once('exit', (code) => {
    while (waiting.length > 0) waiting.shift()!({ type: 'exit', code });
  });
  child.stdin!.on('error', () => {});
  return {
    child,
    next: () => {
      const m = lines.shift();
      if (m) return Promise.resolve(m);
      if (child.exitCode !== null) return Promise.resolve({ type: 'exit' });
      return new Promise((resolve) => waiting.push(resolve));
    },
    send: (line) => {
      if (child.exitCode === null) child.stdin!.write(`${line}\n`);
    },
  };
}

interface Measure {
  delayP50: number;
  delayP99: number;
  delayMax: number;
  rttP50: number;
  rttP99: number;
  rttMax: number;
  largePerS: number;
  smallPerS: number;
  errors: number;
}

async function run(o: Options, pin: ReturnType<typeof pinning>, name: ServerName): Promise<Measure> {
  const serverArgv = [
    ...pin.server,
    process.execPath,
    SERVER,
    '--impl',
    name === 'ws' ? 'ws' : 'duplex',
    ...(name === 'duplex-sync' ? ['--async-threshold', String(Number.MAX_SAFE_INTEGER)] : []),
  ];
  let server: Child | undefined;
  let client: Child | undefined;
  let port = 0;
  const gotPort = new Promise<void>((resolve) => {
    server = startChild(serverArgv, o.warmup + o.duration + 120, (line) => {
      const m = /listening on ws:\/\/[^:]+:(\d+)\//.exec(line);
      if (m) {
        port = Number(m[1]);
        resolve();
      }
    });
  });
  try {
    await Promise.race([gotPort, sleep(15_000)]);
    if (port === 0) throw new Error(`${name}: no ready line`);
    client = startChild(
      [
        ...pin.generator,
        process.execPath,
        fileURLToPath(import.meta.url),
        '--client',
        '--port',
        String(port),
        '--size',
        String(o.size),
        '--small',
        String(o.small),
        '--warmup',
        String(o.warmup),
        '--duration',
        String(o.duration),
      ],
      o.warmup + o.duration + 120,
    );
    const ready = await client.next();
    if (ready['type'] !== 'ready' || Number(ready['failed']) > 0)
      throw new Error(`${name}: ${JSON.stringify(ready)}`);
    client.send('go');
    await sleep(o.warmup * 1000);
    server!.send('reset');
    await sleep(o.duration * 1000);
    server!.send('report');
    const delay = await server!.next();
    const result = await client.next();
    if (delay['type'] !== 'delay' || result['type'] !== 'result')
      throw new Error(`${name}: ${JSON.stringify(delay)} ${JSON.stringify(result)}`);
    return {
      delayP50: Number(delay['p50_ms']),
      delayP99: Number(delay['p99_ms']),
      delayMax: Number(delay['max_ms']),
      rttP50: Number(result['rtt_p50_ms']),
      rttP99: Number(result['rtt_p99_ms']),
      rttMax: Number(result['rtt_max_ms']),
      largePerS: Number(result['large_per_s']),
      smallPerS: Number(result['small_per_s']),
      errors: Number(result['errors']),
    };
  } finally {
    if (client) await stopChild(client.child, 'SIGKILL');
    if (server) await stopChild(server.child);
  }
}

function markdown(runs: Record<ServerName, Measure[]>, o: Options): string {
  const med = (name: ServerName, key: keyof Measure): number => median(runs[name].map((m) => m[key]));
  const ratio = (name: ServerName, key: keyof Measure): number => {
    const out: number[] = [];
    for (let i = 0; i < Math.min(runs[name].length, runs.ws.length); i++)
      out.push(runs[name][i]![key] / runs.ws[i]![key]);
    return median(out);
  };
  const rows: Array<[string, keyof Measure, (n: number) => string]> = [
    ['server event-loop delay p50 (ms)', 'delayP50', (n) => fmt(n, 1)],
    ['server event-loop delay p99 (ms)', 'delayP99', (n) => fmt(n, 1)],
    ['server event-loop delay max (ms)', 'delayMax', (n) => fmt(n, 1)],
    [`small echo round trip p50 (ms), ${o.small} connections`, 'rttP50', (n) => fmt(n, 2)],
    ['small echo round trip p99 (ms)', 'rttP99', (n) => fmt(n, 1)],
    ['small echo round trip max (ms)', 'rttMax', (n) => fmt(n, 1)],
    ['small echoes per second (all connections)', 'smallPerS', (n) => int(n)],
    [`large echoes per second (${o.size / 1024 / 1024} MiB JSON)`, 'largePerS', (n) => fmt(n, 2)],
  ];
  const lines = [
    '| measure | ws 8 (perMessageDeflate) | Duplex before (all sync) | Duplex (thread pool from 256 KiB) | before / ws | Duplex / ws |',
    '|---|---|---|---|---|---|',
  ];
  for (const [label, key, f] of rows) {
    lines.push(
      `| ${label} | ${f(med('ws', key))} | ${f(med('duplex-sync', key))} | ${f(med('duplex', key))} | ${fmt(ratio('duplex-sync', key))}x | **${fmt(ratio('duplex', key))}x** |`,
    );
  }
  lines.push('');
  lines.push(
    'Absolute figures are medians over rounds; ratios are medians of per-round ratios (servers alternated).',
  );
  lines.push('');
  lines.push(
    '| server | delay p99 per round (ms) | delay max per round (ms) | small p99 per round (ms) | large/s per round | errors |',
  );
  lines.push('|---|---|---|---|---|---|');
  for (const name of SERVERS) {
    const ms = runs[name];
    lines.push(
      `| ${name} | ${ms.map((m) => fmt(m.delayP99, 1)).join(', ')} | ${ms.map((m) => fmt(m.delayMax, 1)).join(', ')} | ${ms.map((m) => fmt(m.rttP99, 1)).join(', ')} | ${ms.map((m) => fmt(m.largePerS, 2)).join(', ')} | ${ms.reduce((n, m) => n + m.errors, 0)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  setTimeout(() => {
    process.stderr.write('bench:deflate-stall: time limit reached\n');
    process.exit(3);
  }, 30 * 60_000).unref();
  if (!existsSync(SERVER)) usage(`${SERVER} is missing: run npm run build and tsc -p bench/tsconfig.json`);
  const pin = pinning('client');
  const cpuModel = /model name\s*:\s*(.*)/.exec(
    existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '',
  )?.[1];
  const header = [
    `Duplex large-message stall benchmark, ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus().length} CPUs (${cpuModel ?? 'unknown'})`,
    `1 connection echoing ${o.size} B JSON messages (compressed), ${o.small} connections ping-ponging 64 B text; ${pin.note}`,
    `rounds ${o.rounds}, ${o.duration} s measured after ${o.warmup} s warm-up per run`,
  ];
  process.stderr.write(`${header.join('\n')}\n`);
  const runs: Record<ServerName, Measure[]> = { 'duplex-sync': [], duplex: [], ws: [] };
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? SERVERS : [...SERVERS].reverse();
    for (const name of order) {
      const m = await run(o, pin, name);
      runs[name].push(m);
      process.stderr.write(
        `bench:deflate-stall: round ${round + 1} ${name}: delay p99 ${fmt(m.delayP99, 1)} ms max ${fmt(m.delayMax, 1)} ms; small rtt p50 ${fmt(m.rttP50, 2)} p99 ${fmt(m.rttP99, 1)} max ${fmt(m.rttMax, 1)} ms; large ${fmt(m.largePerS, 2)}/s; errors ${m.errors}\n`,
      );
    }
  }
  const out = `${header.map((h) => `> ${h}`).join('\n')}\n\n${markdown(runs, o)}\n`;
  process.stdout.write(out);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ header, runs }, null, 2)}\n`);
}

if (process.argv[2] === '--client') {
  client(process.argv.slice(3)).catch((error: unknown) => {
    process.stderr.write(`deflate-stall client: ${String(error)}\n`);
    process.exit(2);
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(
      `bench:deflate-stall: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
