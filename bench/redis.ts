/**
 * redis is the hub benchmark through Redis (issue 10): the hub-room scenario of bench/run.ts
 * (one room of N subscribers, one publisher keeping a window of messages in flight, 64-byte
 * messages, generator bench/hub-load.ts) against three set-ups, side by side in one process tree:
 *
 *   memory    the Duplex hub, 1 process, in-memory broker (bench/servers/hub.ts)
 *   redis     the Duplex hub, 2 processes on one redis-server (bench/servers/hub-redis.ts)
 *   socketio  Socket.IO 4, 2 processes with @socket.io/redis-adapter (bench/servers/socketio-redis.ts)
 *
 * Every set-up is reached through the same in-process TCP forwarder, which sends each connection
 * to one of its processes in turn (round robin), so the subscribers are split evenly and the
 * publisher sits on one process; the forwarder's cost is in every row alike. The table reports
 * deliveries per second and p99 latency, medians over the rounds, and ratios against `memory`.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node build/bench/redis.js
 *        [--subscribers N] [--rounds R] [--duration S] [--warmup S] [--window W] [--markdown FILE]
 *
 * redis-server comes from Debian's package (apt-get install -y redis-server); it is spawned on a
 * free port with no persistence. Loopback only; every run is bounded in time.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, int, median, runGenerator, type Server, startServer, stopChild } from './lib/proc.js';

const dir = path.dirname(fileURLToPath(import.meta.url));

interface Options {
  subscribers: number;
  rounds: number;
  duration: number;
  warmup: number;
  window: number;
  markdown: string;
}

function parse(argv: string[]): Options {
  const o: Options = { subscribers: 1000, rounds: 3, duration: 5, warmup: 1, window: 16, markdown: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => argv[++i] ?? '';
    if (a === '--subscribers') o.subscribers = Number(next());
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--markdown') o.markdown = next();
    else throw new Error(`unknown flag ${a}`);
  }
  if (!(o.subscribers >= 1 && o.subscribers <= 20_000 && o.rounds >= 1 && o.rounds <= 20)) {
    throw new Error('--subscribers 1..20000, --rounds 1..20');
  }
  if (!(o.duration > 0 && o.duration <= 120 && o.warmup >= 0 && o.window >= 1 && o.window <= 1024)) {
    throw new Error('--duration 0..120, --warmup >= 0, --window 1..1024');
  }
  return o;
}

/** Forwarder is a round-robin TCP forwarder on 127.0.0.1 to the given ports. */
class Forwarder {
  readonly #server: NetServer;
  readonly #open = new Set<Socket>();
  #next = 0;
  port = 0;

  constructor(targets: number[]) {
    this.#server = createServer({ noDelay: true }, (client) => {
      const target = targets[this.#next++ % targets.length]!;
      const upstream = connect({ port: target, host: '127.0.0.1', noDelay: true });
      this.#open.add(client).add(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.#open.delete(client);
        this.#open.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const a = this.#server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 15_000);
    child.once('error', (e) =>
      reject(new Error(`redis-server (apt-get install -y redis-server): ${e.message}`)),
    );
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

type Setup = 'memory' | 'redis' | 'socketio';

const SETUPS: Record<
  Setup,
  { label: string; protocol: string; argv: (url: string) => string[]; processes: number }
> = {
  memory: {
    label: 'Duplex hub, 1 process, in memory',
    protocol: 'duplex',
    argv: () => [process.execPath, path.join(dir, 'servers', 'hub.js'), '--port', '0'],
    processes: 1,
  },
  redis: {
    label: 'Duplex hub, 2 processes, one Redis',
    protocol: 'duplex',
    argv: (url) => [
      process.execPath,
      path.join(dir, 'servers', 'hub-redis.js'),
      '--port',
      '0',
      '--redis',
      url,
    ],
    processes: 2,
  },
  socketio: {
    label: 'Socket.IO 4 + redis-adapter, 2 processes',
    protocol: 'socketio',
    argv: (url) => [
      process.execPath,
      path.join(dir, 'servers', 'socketio-redis.js'),
      '--port',
      '0',
      '--redis',
      url,
    ],
    processes: 2,
  },
};

interface Sample {
  rate: number;
  p99: number;
  dropped: number;
  errors: number;
}

async function runOnce(setup: Setup, o: Options, redisUrl: string): Promise<Sample> {
  const s = SETUPS[setup];
  const servers: Server[] = [];
  let forwarder: Forwarder | undefined;
  try {
    for (let i = 0; i < s.processes; i++) servers.push(await startServer(s.argv(redisUrl)));
    forwarder = new Forwarder(servers.map((x) => x.port));
    await forwarder.start();
    const r = await runGenerator(
      [
        process.execPath,
        path.join(dir, 'hub-load.js'),
        '--protocol',
        s.protocol,
        '--port',
        String(forwarder.port),
        '-c',
        String(o.subscribers),
        '--rooms',
        '1',
        '-s',
        '64',
        '--window',
        String(o.window),
        '-d',
        String(o.duration),
        '-w',
        String(o.warmup),
        '--threads',
        '1',
      ],
      o.duration + o.warmup + 120,
    );
    return {
      rate: Number(r['msgs_per_s']),
      p99: Number(r['p99_us']),
      dropped: Number(r['dropped']),
      errors: Number(r['errors']),
    };
  } finally {
    await forwarder?.close();
    await Promise.all(servers.map((x) => stopChild(x.child)));
  }
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const redis = await startRedis();
  const samples: Record<Setup, Sample[]> = { memory: [], redis: [], socketio: [] };
  try {
    for (let round = 1; round <= o.rounds; round++) {
      // Interleaved rounds: a slow moment of the machine hits every set-up alike.
      for (const setup of Object.keys(SETUPS) as Setup[]) {
        const sample = await runOnce(setup, o, redis.url);
        samples[setup].push(sample);
        process.stderr.write(
          `round ${round} ${setup}: ${int(sample.rate)} deliveries/s, p99 ${fmt(sample.p99 / 1000)} ms, dropped ${sample.dropped}, errors ${sample.errors}\n`,
        );
      }
    }
  } finally {
    await redis.stop();
  }
  const rate = (s: Setup) => median(samples[s].map((x) => x.rate));
  const p99 = (s: Setup) => median(samples[s].map((x) => x.p99));
  const lines = [
    `One room of ${o.subscribers} subscribers, one publisher, 64-byte messages, window ${o.window}; ${o.rounds} interleaved round(s) of ${o.duration} s after ${o.warmup} s warm-up; medians. Every set-up behind the same round-robin TCP forwarder. Generator bench/hub-load.ts (1 thread). Not pinned.`,
    '',
    '| set-up | deliveries/s | vs memory | p99 ms | vs memory | dropped | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of Object.keys(SETUPS) as Setup[]) {
    lines.push(
      `| ${SETUPS[s].label} | ${int(rate(s))} | ${fmt(rate(s) / rate('memory'))} | ${fmt(p99(s) / 1000)} | ${fmt(p99(s) / p99('memory'))} | ${samples[s].reduce((a, x) => a + x.dropped, 0)} | ${samples[s].reduce((a, x) => a + x.errors, 0)} |`,
    );
  }
  const table = `${lines.join('\n')}\n`;
  process.stdout.write(table);
  if (o.markdown) writeFileSync(o.markdown, table);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/redis: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
