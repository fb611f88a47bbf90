/**
 * RedisServer spawns a real `redis-server` (Debian's package) on a free loopback port in its own
 * temp dir, so tests inject real faults: stop it and start it again with its data, restart it
 * empty, pause it (SIGSTOP), or run commands on it (FLUSHALL, CLIENT KILL) with redis-cli.
 *
 * Persistence: the append-only file with `appendfsync always` and no RDB snapshots, so a kill
 * (even SIGKILL) and a start on the same dir keep every acknowledged write, and `restart({ empty })`
 * deletes the dir's files first.
 *
 * `requireRedis(t)` gates a test: when the binary is missing and we are root with apt-get, it
 * installs `redis-server`; otherwise it skips loudly naming the package (under CI=true it fails).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { hasSystem, REDIS_SERVER_PATH, requireSystem, type SkippableContext } from './system.js';

let installTried = false;

/** installRedis runs `apt-get install -y redis-server` once when it is missing and we are root. */
function installRedis(): void {
  if (installTried || hasSystem('redis-server')) return;
  installTried = true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  process.stderr.write('redis-server is missing: apt-get install -y redis-server\n');
  let r = spawnSync('apt-get', [...lock, 'install', '-y', 'redis-server'], { stdio: 'ignore', env });
  if (r.status !== 0) {
    spawnSync('apt-get', [...lock, 'update'], { stdio: 'ignore', env });
    r = spawnSync('apt-get', [...lock, 'install', '-y', 'redis-server'], { stdio: 'ignore', env });
  }
}

/** hasRedis tells whether redis-server is usable, installing it first when it can. */
export function hasRedis(): boolean {
  installRedis();
  return spawnSync(REDIS_SERVER_PATH, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** requireRedis returns true when redis-server is there (installed if need be), else skips loudly. */
export function requireRedis(t: SkippableContext): boolean {
  if (hasRedis()) return true;
  return requireSystem(t, 'redis-server');
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** start spawns redis-server on a free port, resolving once it accepts connections. */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new RedisServer(await freePort(), mkdtempSync(path.join(tmpdir(), 'duplex-redis-')));
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        lastError = error;
        await server.close();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async #spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--daemonize',
      'no',
      '--logfile',
      '',
      '--loglevel',
      'notice',
    ];
    const child = spawn(REDIS_SERVER_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#log = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${this.#log}`)), 15_000);
      const onData = (chunk: Buffer): void => {
        this.#log = (this.#log + chunk.toString()).slice(-8_000);
        if (this.#log.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${this.#log}`));
      });
    });
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await ready;
  }

  /** stop ends the server: SIGTERM (it flushes the append-only file) or SIGKILL; data stays in the dir. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGCONT');
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    this.#child = undefined;
  }

  /** resume starts the server again on the same port and dir (with whatever data the dir holds). */
  async resume(): Promise<void> {
    if (this.#child) return;
    await this.#spawn();
  }

  /** restart stops the server and starts it again, with its data or (`empty`) without. */
  async restart(
    options: { empty?: boolean; downMs?: number; signal?: 'SIGTERM' | 'SIGKILL' } = {},
  ): Promise<void> {
    await this.stop(options.signal);
    if (options.empty) this.#wipe();
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    await this.#spawn();
  }

  /** pause freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** unpause lets a paused process run again. */
  unpause(): void {
    this.#child?.kill('SIGCONT');
  }

  /** cli runs one command with redis-cli against this server and returns its output. */
  cli(...args: string[]): string {
    const r = spawnSync('redis-cli', ['-p', String(this.port), ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  #wipe(): void {
    for (const name of readdirSync(this.dir))
      rmSync(path.join(this.dir, name), { recursive: true, force: true });
  }

  /** close kills the server and removes its dir. */
  async close(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * redisForSuite starts one redis-server before the tests of the enclosing `describe` and closes it
 * after them. The getter it returns gives undefined when the server could not start (no binary):
 * the test's `requireRedis(t)` then installs the package or skips loudly.
 */
export function redisForSuite(): () => RedisServer | undefined {
  let redis: RedisServer | undefined;
  before(async () => {
    redis = await RedisServer.start().catch(() => undefined);
  });
  after(async () => {
    await redis?.close();
  });
  return () => redis;
}
