/**
 * echo-process runs `duplex echo` as a child process, the way an outside test suite would:
 * `node dist/cli/main.js echo --port 0 [args]`, then waits for its ready line
 * `listening on ws://127.0.0.1:PORT/` on stdout.
 *
 * Stable API: `startEcho(args?, options?)` returns an `EchoProcess` with `port`, `url`,
 * `stop()` (SIGTERM, then waits for exit; resolves to the exit code) and `output()`.
 * Build first (`npm run build`): it runs the compiled CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * CLI_PATH is dist/cli/main.js of this repository (tests run from build/test/helpers/), or
 * the script named by the environment variable DUPLEX_ECHO_CLI, so the same suites can be
 * pointed at another build or another implementation of the `echo` contract.
 */
export const CLI_PATH =
  process.env['DUPLEX_ECHO_CLI'] ?? fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

/** EchoProcess is a running `duplex echo`. */
export interface EchoProcess {
  host: string;
  port: number;
  /** `ws://host:port/` as printed by the ready line. */
  url: string;
  child: ChildProcess;
  /** stop sends SIGTERM and resolves to the exit code (null when killed by a signal); idempotent. */
  stop(): Promise<number | null>;
  /** output is everything the process printed so far, stdout then stderr (for failure messages). */
  output(): string;
  /** exited is true once the process has exited (a crash shows here). */
  readonly exited: boolean;
}

export interface StartEchoOptions {
  /** How long to wait for the ready line. @default 15 s */
  timeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. @default 10 s */
  stopTimeoutMs?: number;
  /** The CLI to run. @default CLI_PATH */
  cli?: string;
}

const READY = /^listening on (ws|http):\/\/([^\s/]+):(\d+)\/$/;

/** startEcho spawns `duplex echo --port 0 ...args` and resolves once it prints its ready line. */
export function startEcho(args: string[] = [], options: StartEchoOptions = {}): Promise<EchoProcess> {
  return startCommand('echo', args, options);
}

/**
 * startCommand spawns `duplex <command> --port 0 ...args` (echo, broadcast, serve) and resolves
 * once it prints its ready line (`listening on ws://...` or, for serve, `listening on http://...`).
 */
export function startCommand(
  command: 'echo' | 'broadcast' | 'serve',
  args: string[] = [],
  options: StartEchoOptions = {},
): Promise<EchoProcess> {
  const cli = options.cli ?? CLI_PATH;
  const child = spawn(process.execPath, [cli, command, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  let exitCode: number | null = null;
  const exitPromise = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
      resolve(code);
    });
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr += d;
  });

  return new Promise<EchoProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `duplex ${command} printed no ready line within ${options.timeoutMs ?? 15_000} ms\n${stdout}${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 15_000);
    let lineBuf = '';
    child.stdout.on('data', (d: string) => {
      stdout += d;
      lineBuf += d;
      let nl = lineBuf.indexOf('\n');
      while (nl >= 0) {
        const line = lineBuf.slice(0, nl).replace(/\r$/, '');
        lineBuf = lineBuf.slice(nl + 1);
        nl = lineBuf.indexOf('\n');
        const m = READY.exec(line);
        if (m === null) continue;
        clearTimeout(timer);
        const scheme = m[1]!;
        const host = m[2]!;
        const port = Number(m[3]);
        let stopping: Promise<number | null> | undefined;
        resolve({
          host,
          port,
          url: `${scheme}://${host}:${port}/`,
          child,
          get exited() {
            return exited;
          },
          output: () => stdout + stderr,
          stop() {
            stopping ??= (async () => {
              if (exited) return exitCode;
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 10_000);
              const code = await exitPromise;
              clearTimeout(killer);
              return code;
            })();
            return stopping;
          },
        });
        return;
      }
    });
    void exitPromise.then((code) => {
      clearTimeout(timer);
      reject(new Error(`duplex ${command} exited with ${code} before its ready line\n${stdout}${stderr}`));
    });
  });
}
