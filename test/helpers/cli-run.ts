/**
 * cli-run runs `duplex` commands as a user does: a child process with real stdin, stdout
 * and stderr. `runCli` runs one to completion (bounded in time); `spawnCli` leaves it
 * running so that a test can write to its stdin and read its stdout as it goes.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { CLI_PATH } from './echo-process.js';

/** CliResult is how a finished command ended and what it printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed. Without it stdin stays open until `end()`. */
  stdin?: string;
  /** Environment variables on top of this process's, minus any proxy variables. */
  env?: Record<string, string>;
  /** SIGKILL after this long. @default 30 s */
  timeoutMs?: number;
}

/** RunningCli is a command still running. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** waitFor resolves once stdout (or stderr) matches, rejects if the process ends first or after `ms`. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', ms?: number): Promise<RegExpExecArray>;
  /** exited resolves when the process ends. */
  exited: Promise<CliResult>;
}

const PROXY_VARS = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'no_proxy',
  'NO_PROXY',
  'all_proxy',
  'ALL_PROXY',
];

/** spawnCli starts `duplex ...args` and returns at once. */
export function spawnCli(args: string[], options: CliOptions = {}): RunningCli {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of PROXY_VARS) delete env[name];
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const l of listeners) l();
  });
  child.stdin.on('error', () => {});
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(pattern, stream = 'stdout', ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(stream === 'stdout' ? stdout : stderr);
          if (m) {
            done();
            resolve(m);
          } else if (ended) {
            done();
            reject(
              new Error(`duplex exited before ${pattern} appeared\nstdout: ${stdout}\nstderr: ${stderr}`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`${pattern} did not appear within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
        }, ms);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** runCli runs `duplex ...args` to completion. Without `stdin`, stdin is closed at once. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, { ...options, stdin: options.stdin ?? '' }).exited;
}
