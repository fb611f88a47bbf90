/**
 * churn is the load generator of the `churn` scenario: it keeps N connection slots busy, and
 * each slot loops over one connection's whole life: connect, opening handshake, M text
 * messages sent one at a time (each echoed before the next), a close handshake (1000), and
 * the TCP teardown the server starts. Raw node:net sockets and pre-built masked frames, no
 * WebSocket library, one thread.
 *
 *   node build/bench/churn.js --port P [-c N] [-m M] [-s BYTES] [-d S] [--host 127.x.y.z]
 *
 * It prints one JSON line on stdout: `cycles` (connections that went through their whole
 * life), `cycles_per_s`, `msgs_per_s`, `errors` and `errors_by_kind`, `client_cpu_pct`.
 * Bounded: N slots at most, no new connection after S seconds, and a hard timer ends the
 * process 30 s after that whatever happens. Loopback addresses only.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Flags, parseFlags, requireLoopback } from './lib/args.js';
import { clientFrame, responseHead, ServerFrameReader, upgradeRequest } from './lib/frames.js';
import { hardTimeLimit } from './lib/proc.js';

interface ChurnOptions {
  host: string;
  port: number;
  connections: number;
  messages: number;
  size: number;
  duration: number;
}

const DEFAULTS: ChurnOptions = {
  host: '127.0.0.1',
  port: 0,
  connections: 1000,
  messages: 10,
  size: 32,
  duration: 300,
};

const FLAGS: Flags<ChurnOptions> = {
  '--port': 'port',
  '-p': 'port',
  '--host': 'host',
  '-c': 'connections',
  '--connections': 'connections',
  '-m': 'messages',
  '--messages': 'messages',
  '-s': 'size',
  '--size': 'size',
  '-d': 'duration',
  '--duration': 'duration',
};

function parseArgs(argv: string[]): ChurnOptions {
  const o = parseFlags(argv, DEFAULTS, FLAGS);
  if (!(o.port > 0) || !(o.connections >= 1 && o.connections <= 20_000) || !(o.messages >= 0)) {
    throw new Error('usage: churn --port P [-c N] [-m M] [-s BYTES] [-d S]');
  }
  if (!(o.size >= 0 && o.size < 126)) throw new Error('churn: --size must be under 126 bytes');
  if (!(o.duration > 0 && o.duration <= 3600)) throw new Error('churn: --duration is 1..3600 s');
  requireLoopback('churn', o.host);
  return o;
}

type ErrorKind = 'connect' | 'handshake' | 'protocol' | 'mismatch' | 'timeout';

/** CYCLE_TIMEOUT_MS bounds one connection's life; a slot that overstays counts a timeout and moves on. */
const CYCLE_TIMEOUT_MS = 10_000;

class Churn {
  cycles = 0;
  messages = 0;
  readonly errors: Record<ErrorKind, number> = {
    connect: 0,
    handshake: 0,
    protocol: 0,
    mismatch: 0,
    timeout: 0,
  };
  stopping = false;
  active = 0;
  private readonly request: string;
  private readonly message: Buffer;
  private readonly close: Buffer;
  private onIdle: (() => void) | undefined;

  constructor(readonly o: ChurnOptions) {
    this.request = upgradeRequest(o.host, o.port);
    const payload = Buffer.alloc(o.size);
    for (let i = 0; i < o.size; i++) payload[i] = 0x61 + (i % 26);
    this.message = clientFrame(0x1, payload);
    this.close = clientFrame(0x8, Buffer.from([0x03, 0xe8]));
  }

  /** slot runs connection lives back to back until the run stops. */
  slot(): void {
    if (this.stopping) return;
    this.active++;
    this.life(() => {
      this.active--;
      if (this.stopping) {
        if (this.active === 0) this.onIdle?.();
      } else setImmediate(() => this.slot());
    });
  }

  /** life is one connection: handshake, messages one at a time, close handshake, teardown. */
  private life(done: () => void): void {
    const o = this.o;
    const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
    let state: 'handshake' | 'open' | 'closing' | 'closed' = 'handshake';
    let head: Buffer | undefined;
    let opcode = 0;
    let sent = 0;
    let finished = false;
    const finish = (error: ErrorKind | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      reader.stop();
      if (error) {
        this.errors[error]++;
        socket.destroy();
      } else this.cycles++;
      done();
    };
    const timer = setTimeout(() => finish('timeout'), CYCLE_TIMEOUT_MS);
    const sendNext = (): void => {
      if (sent < o.messages) {
        sent++;
        socket.write(this.message);
      } else {
        state = 'closing';
        socket.write(this.close);
      }
    };
    // Server frames here are the text echoes and the close frame; pings and pongs are skipped.
    const reader = new ServerFrameReader({
      messageStart: (op) => {
        opcode = op;
      },
      messageData: () => {},
      messageEnd: (length) => {
        if (opcode !== 0x1 || state !== 'open') return finish('protocol');
        if (length !== o.size) return finish('mismatch');
        this.messages++;
        sendNext();
      },
      closeFrame: () => {
        if (state !== 'closing') return finish('protocol');
        state = 'closed';
        // Should the server not end the TCP connection, end it after a grace period.
        setTimeout(() => socket.destroy(), 2_000).unref();
      },
      protocolError: () => finish('protocol'),
    });
    socket.on('connect', () => socket.write(this.request));
    socket.on('error', () => finish(state === 'handshake' ? 'connect' : 'protocol'));
    // The server starts the TCP teardown after the close handshake (RFC 6455 7.1.1), so the
    // client's 'close' after 'closed' is the end of a clean life.
    socket.on('close', () =>
      finish(state === 'closed' ? undefined : state === 'handshake' ? 'connect' : 'protocol'),
    );
    socket.on('data', (chunk: Buffer) => {
      if (state !== 'handshake') return reader.push(chunk);
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const response = responseHead(head);
      if (!response) return;
      if (!response.switched) return finish('handshake');
      state = 'open';
      sendNext();
      reader.push(response.rest);
    });
  }

  /** stop lets every slot finish its current life, then resolves (or after 20 s). */
  stop(): Promise<void> {
    this.stopping = true;
    return new Promise((resolve) => {
      if (this.active === 0) return resolve();
      this.onIdle = resolve;
      setTimeout(resolve, 20_000).unref();
    });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  hardTimeLimit('churn', o.duration + 30);
  const churn = new Churn(o);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // Slots start in a ramp of 50 per turn so that the listen backlog is not flooded at once.
  for (let i = 0; i < o.connections; i++) {
    churn.slot();
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  process.stderr.write(`churn: ${o.connections} slots running\n`);
  await new Promise((r) => setTimeout(r, o.duration * 1000));
  await churn.stop();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const errors = Object.values(churn.errors).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${JSON.stringify({
      connections: o.connections,
      messages_per_connection: o.messages,
      cycles: churn.cycles,
      cycles_per_s: Math.round(churn.cycles / secs),
      msgs_per_s: Math.round(churn.messages / secs),
      errors,
      errors_by_kind: churn.errors,
      client_cpu_pct: Math.round(((cpu.user + cpu.system) / 1e6 / secs) * 100),
      seconds: Math.round(secs),
    })}\n`,
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`churn: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
