/**
 * server-process runs a Duplex server in a child process, so that a test measures the
 * server's memory alone (the clients live in the test's process). The child serves an echo
 * WebSocketServer at `/echo` and a Hub at `/hub` (memory broker, every action allowed) on one
 * HTTP server on 127.0.0.1, and answers `{ type: 'mem' }` over IPC with its retained memory
 * (heap + external after a full GC) and RSS.
 *
 * Stable API: `startServerProcess(options?)` returns a `ServerProcess` with `port`,
 * `memory()`, `stop()` and `output()`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** ServerProcessOptions are passed to the child as JSON. */
export interface ServerProcessOptions {
  /** Options of the echo WebSocketServer (JSON-serialisable ones). */
  echo?: Record<string, unknown>;
  /** Hub limits (HubLimits). */
  hubLimits?: Record<string, unknown>;
}

export interface MemorySample {
  /** heapUsed + external after a full GC, bytes. */
  retained: number;
  rss: number;
  /** Open echo and hub connections. */
  echoClients: number;
  hubClients: number;
  /** The longest event-loop delay since the previous sample (not counting that sample's GC), ms. */
  loopDelayMaxMs: number;
  /** Uncaught exceptions and unhandled rejections in the server process so far. */
  unhandled: number;
}

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
  output(): string;
  readonly exited: boolean;
}

const CHILD = fileURLToPath(new URL('./server-process-child.js', import.meta.url));

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const child = fork(CHILD, [JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  let exited = false;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.on('exit', () => {
    exited = true;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server process did not start: ${out}`)), 15_000);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolve(m.port);
    });
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}: ${out}`)));
  });
  let seq = 0;
  return {
    port,
    child,
    get exited() {
      return exited;
    },
    output: () => out,
    memory: () =>
      new Promise<MemorySample>((resolve, reject) => {
        const id = ++seq;
        const timer = setTimeout(() => reject(new Error('no memory answer within 30 s')), 30_000);
        const onMessage = (m: MemorySample & { id: number }) => {
          if (m.id !== id) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        };
        child.on('message', onMessage);
        child.send({ type: 'mem', id });
      }),
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
