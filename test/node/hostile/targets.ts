/**
 * targets starts the servers the hostile-input tests attack: a `WebSocketServer` from
 * `duplex` in this process (standalone on 127.0.0.1, echoing every message), or the
 * `duplex echo` CLI as a child process. Both expose the port and a `stop()`.
 */
import { readFileSync } from 'node:fs';
import { type WebSocket, WebSocketServer, type WebSocketServerOptions } from 'duplexjs';
import { startEcho } from '../../helpers/echo-process.js';
import { LOOPBACK } from './peer.js';

/** Target is a running server under attack. */
export interface Target {
  name: string;
  port: number;
  /** The child's pid for `duplex echo`; undefined in process. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** ServerTarget is an in-process WebSocketServer; errors it reports are collected, not printed. */
export interface ServerTarget extends Target {
  server: WebSocketServer;
  /** Errors the server emitted (exceptions from hooks), for assertions and failure messages. */
  errors: unknown[];
  /** onNextConnection replaces the echo behaviour for the next accepted connection only. */
  onNextConnection(handler: (ws: WebSocket) => void): void;
}

/** echo answers each message with the same type and payload. */
function echo(ws: WebSocket): void {
  ws.addEventListener('message', (event) => ws.send(event.data as string | Buffer));
  ws.addEventListener('error', () => {});
}

/**
 * startServerTarget starts a standalone WebSocketServer on 127.0.0.1 and an ephemeral port.
 * Heartbeat is off so that no ping interferes with the byte-level assertions.
 */
export async function startServerTarget(options: WebSocketServerOptions = {}): Promise<ServerTarget> {
  const server = new WebSocketServer({ heartbeat: false, ...options, port: 0, host: LOOPBACK });
  const errors: unknown[] = [];
  server.on('error', (error) => errors.push(error));
  const next: Array<(ws: WebSocket) => void> = [];
  server.on('connection', (ws) => (next.shift() ?? echo)(ws));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('WebSocketServer did not emit listening within 5 s')),
      5_000,
    );
    server.once('listening', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error(`unexpected address ${String(address)}`);
  return {
    name: 'WebSocketServer',
    port: address.port,
    pid: undefined,
    server,
    errors,
    onNextConnection: (handler) => next.push(handler),
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error('WebSocketServer.close() took over 10 s')), 10_000);
      });
      try {
        await Promise.race([server.close(), limit]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** startEchoTarget spawns `duplex echo --port 0` (build first: it runs dist/cli/main.js). */
export async function startEchoTarget(args: string[] = []): Promise<Target> {
  const child = await startEcho(args);
  return {
    name: 'duplex echo',
    port: child.port,
    pid: child.child.pid,
    async stop() {
      if (child.exited) throw new Error(`duplex echo died during the tests:\n${child.output()}`);
      await child.stop();
    },
  };
}

/**
 * childPeakRssBytes reads the peak resident set size (VmHWM) of a `duplex echo` target from
 * /proc; undefined where /proc is not available.
 */
export function childPeakRssBytes(target: Target): number | undefined {
  if (target.pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${target.pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
