/**
 * proc holds what the benchmark harnesses (bench/run.ts, bench/deflate.ts) and load
 * generators share about processes: pinning to CPUs, starting a server and waiting for its
 * ready line, stopping a child (bounded), reading a process's CPU time and RSS from /proc,
 * a load generator's hard time limit, and the medians and number formats of the tables.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Pinning is the command prefixes that pin the server and the load generator to their CPUs. */
export interface Pinning {
  server: string[];
  generator: string[];
  note: string;
}

/** pinning tells how to pin: taskset when present and there are two CPUs, else nothing (and says so). */
export function pinning(generatorLabel: string): Pinning {
  const taskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (taskset && cpus().length >= 2)
    return {
      server: ['taskset', '-c', '0'],
      generator: ['taskset', '-c', '1'],
      note: `server on CPU 0, ${generatorLabel} on CPU 1 (taskset)`,
    };
  return {
    server: [],
    generator: [],
    note: taskset ? 'not pinned (one CPU)' : 'not pinned (taskset not found)',
  };
}

/**
 * allowedCpus is how many CPUs this process may run on (its affinity, as `taskset` set it:
 * Cpus_allowed_list in /proc/self/status), or the machine's count where that cannot be read.
 */
export function allowedCpus(): number {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m) {
      let n = 0;
      for (const part of m[1]!.split(',')) {
        const [a, b] = part.split('-').map(Number);
        n += b === undefined ? 1 : b! - a! + 1;
      }
      if (n > 0) return n;
    }
  } catch {}
  return cpus().length;
}

export interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
}

/**
 * startServer spawns a server and resolves with its pid and port once it printed its ready
 * line (`listening on ws://host:port/`, or wss://); later stdout lines go to `onLine`.
 */
export function startServer(
  argv: string[],
  onLine?: (line: string) => void,
  env?: Record<string, string>,
): Promise<Server> {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    if (!onLine) return;
    rest += d;
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      nl = rest.indexOf('\n');
    }
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line from ${argv.join(' ')}`));
    }, 15_000);
    const ready = (d: string): void => {
      out += d;
      const m = /listening on wss?:\/\/[^:]+:(\d+)\//.exec(out);
      if (m) {
        child.stdout!.off('data', ready);
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', ready);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`));
    });
  });
}

/** stopChild sends `signal` and resolves when the child exits; SIGKILL after 8 s. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill(signal);
  });
}

/** cpuTicks is a process's user + system CPU time in clock ticks (1/100 s), NaN when gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

/** rssKb is a process's resident set in KiB, NaN when gone. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** FdLimits is the soft and hard limit on open file descriptors (`ulimit -n`, `ulimit -Hn`). */
export interface FdLimits {
  soft: number;
  hard: number;
}

/** fdLimits reads the descriptor limits children inherit (from a shell, as they will see them). */
export function fdLimits(): FdLimits {
  const read = (flag: string): number => {
    const r = spawnSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' });
    const v = r.stdout.trim();
    return v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v) || 1024;
  };
  return { soft: read('-n'), hard: read('-Hn') };
}

/** withFdLimit wraps a command in `sh -c 'ulimit -n N; exec ...'` when the soft limit is too low. */
export function withFdLimit(argv: string[], need: number, limits: FdLimits): string[] {
  if (limits.soft >= need) return argv;
  const n = Math.min(need, limits.hard);
  return ['sh', '-c', `ulimit -n ${n} && exec "$@"`, 'sh', ...argv];
}

/**
 * runGenerator runs a load generator to completion, killed after `limitS` seconds, and parses
 * the JSON line it ends its stdout with; its stderr goes line by line to `onStderrLine`, and
 * the last lines of it into the error when there is no result.
 */
export function runGenerator(
  argv: string[],
  limitS: number,
  onStderrLine?: (line: string) => void,
): Promise<Record<string, unknown>> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lastLines: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    let nl = err.indexOf('\n');
    while (nl >= 0) {
      const line = err.slice(0, nl);
      if (lastLines.push(line) > 20) lastLines.shift();
      onStderrLine?.(line);
      err = err.slice(nl + 1);
      nl = err.indexOf('\n');
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(
          new Error(`generator exited with ${code} without a result: ${out}${lastLines.join('\n')}${err}`),
        );
      }
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * hardTimeLimit bounds a load generator: after `seconds`, whatever happens, it says so on stderr
 * and exits with status 3. The timer alone does not keep the process alive.
 */
export function hardTimeLimit(tool: string, seconds: number): void {
  setTimeout(() => {
    process.stderr.write(`${tool}: hard time limit reached\n`);
    process.exit(3);
  }, seconds * 1000).unref();
}

/** collect asks the server to run a full GC (gc-on-signal.ts) and gives it time to finish. */
export async function collect(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {}
  await sleep(500);
}

/** median of the finite values, NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const int = (n: number): string =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';

/** CpuQuota is a CFS quota a server process was put under, released once it exited. */
export interface CpuQuota {
  /** What the report's header says of it. */
  note: string;
  /** release removes the cgroup (the process must have exited or been moved out). */
  release(): void;
}

const QUOTA_PERIOD_US = 10_000;

/**
 * cpuQuota holds a process (all its threads) to `share` of one CPU with a CFS bandwidth quota
 * in a cgroup of its own (cgroup v1's cpu controller or cgroup v2's cpu.max; a 10 ms period,
 * so the throttled process runs in short slices instead of 50 ms on and 50 ms off). It needs
 * write access to the cgroup tree (root on most machines); when that is missing it returns
 * why, and the caller goes on unthrottled and says so.
 */
export function cpuQuota(pid: number, share: number): CpuQuota | string {
  const quota = Math.max(1_000, Math.round(share * QUOTA_PERIOD_US));
  const name = `duplex-bench-${process.pid}-${pid}`;
  const v1 = '/sys/fs/cgroup/cpu';
  const v2 = '/sys/fs/cgroup';
  try {
    let dir: string;
    if (existsSync(`${v1}/cpu.cfs_quota_us`)) {
      dir = `${v1}/${name}`;
      mkdirSync(dir);
      writeFileSync(`${dir}/cpu.cfs_period_us`, String(QUOTA_PERIOD_US));
      writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota));
    } else if (existsSync(`${v2}/cgroup.controllers`)) {
      if (!readFileSync(`${v2}/cgroup.subtree_control`, 'latin1').includes('cpu'))
        writeFileSync(`${v2}/cgroup.subtree_control`, '+cpu');
      dir = `${v2}/${name}`;
      mkdirSync(dir);
      writeFileSync(`${dir}/cpu.max`, `${quota} ${QUOTA_PERIOD_US}`);
    } else return 'no cgroup cpu controller found';
    try {
      writeFileSync(`${dir}/cgroup.procs`, String(pid));
    } catch (e) {
      rmdirSync(dir);
      throw e;
    }
    return {
      note: `${Math.round(share * 100)} % of one CPU (CFS quota ${quota} us per ${QUOTA_PERIOD_US} us)`,
      release() {
        try {
          // rmdir, not rm -r: a cgroup directory is removed as a whole once it holds no process.
          rmdirSync(dir);
        } catch {}
      },
    };
  } catch (e) {
    return `cannot set a CPU quota: ${(e as Error).message}`;
  }
}
