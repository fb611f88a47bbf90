/**
 * soak drives a Duplex server in a child process (test/helpers/server-process.ts: echo at
 * /echo, hub at /hub) with churning load for a fixed time and judges its memory as a slope
 * (issue 13, item 6). The load, all from this process:
 *
 * - `connections` echo clients (Duplex's WebSocket), a third with permessage-deflate; each keeps
 *   one message in flight (and pauses about `thinkMs` between an echo and the next), of mixed sizes (1 B to 64 KiB, random bytes), checks that every
 *   echo is exactly what it sent, in order, and after a random number of messages closes
 *   (1000) or, one time in ten, drops TCP without a close (terminate); a new one replaces it;
 * - `slowReaders` raw sockets that send a burst of 64 KiB messages, read nothing for a while
 *   (the server's send buffer backs up), then read everything and start over;
 * - `hubClients` HubClients on a few channels: subscribe, publish, presence; they churn too,
 *   and every publish must be acknowledged.
 *
 * The server's retained memory (heap + external after a full GC) and RSS are sampled every
 * `sampleMs`; after `warmupMs`, a least-squares slope of each must stay under its bound.
 * Unhandled errors in either process fail the run.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { mib } from '../helpers/memory.js';
import { encodeFrame, Op } from '../helpers/raw-client.js';
import { type MemorySample, startServerProcess } from '../helpers/server-process.js';

export interface SoakOptions {
  durationMs: number;
  warmupMs: number;
  connections: number;
  slowReaders: number;
  hubClients: number;
  sampleMs: number;
  /** Mean pause of an echo client between an echo and its next message. */
  thinkMs: number;
  /** Bounds of the slopes after warm-up, in bytes per second. */
  maxRetainedSlope: number;
  maxRssSlope: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  echoes: number;
  bytes: number;
  opened: number;
  terminated: number;
  corrupt: number;
  clientErrors: number;
  /** Client error events by code and message (terminate() and churn cause some). */
  errorKinds: Record<string, number>;
  published: number;
  delivered: number;
  presenceCalls: number;
  hubFailures: number;
  slowRounds: number;
  retainedSlope: number;
  rssSlope: number;
  samples: { t: number; retained: number; rss: number }[];
  unhandled: number;
  problems: string[];
}

const SIZES = [1, 16, 100, 1_000, 4_096, 16_384, 65_536];

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

/** slope is the least-squares slope of y over x (per second when x is in ms). */
export function slope(points: { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mx) * (p.y - my);
    den += (p.t - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const report: SoakReport = {
    echoes: 0,
    bytes: 0,
    opened: 0,
    terminated: 0,
    corrupt: 0,
    clientErrors: 0,
    errorKinds: {},
    published: 0,
    delivered: 0,
    presenceCalls: 0,
    hubFailures: 0,
    slowRounds: 0,
    retainedSlope: 0,
    rssSlope: 0,
    samples: [],
    unhandled: 0,
    problems: [],
  };
  let unhandled = 0;
  const onUnhandled = (error: unknown) => {
    unhandled++;
    report.problems.push(`unhandled in the load process: ${String(error)}`);
  };
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  const server = await startServerProcess({});
  const echoUrl = `ws://127.0.0.1:${server.port}/echo`;
  const hubUrl = `ws://127.0.0.1:${server.port}/hub`;
  let start = Date.now();
  let deadline = start + options.durationMs;
  let running = true;
  const live = new Set<WebSocket>();
  /** Echo handshakes started and not settled: the ramp-up waits while many are. */
  let connecting = 0;
  const sockets = new Set<net.Socket>();
  const hubs = new Set<HubClient>();

  // ---- echo clients ----
  const openEcho = (slot: number): void => {
    if (!running) return;
    report.opened++;
    const deflate = slot % 3 === 0;
    const ws = new WebSocket(echoUrl, { perMessageDeflate: deflate });
    live.add(ws);
    connecting++;
    let settled = false;
    const handshakeDone = () => {
      if (!settled) connecting--;
      settled = true;
    };
    const expected: Buffer[] = [];
    let left = 5 + Math.floor(Math.random() * 45);
    const next = () => {
      if (!running || ws.readyState !== WebSocket.OPEN) return;
      if (left-- <= 0) {
        if (Math.random() < 0.1) {
          report.terminated++;
          ws.terminate();
        } else ws.close(1000);
        return;
      }
      const payload = randomBytes(pick(SIZES));
      expected.push(payload);
      ws.send(payload);
    };
    ws.addEventListener('open', () => {
      handshakeDone();
      next();
    });
    ws.addEventListener('message', (event) => {
      const data = event.data as Buffer;
      const want = expected.shift();
      if (want === undefined || !want.equals(data)) {
        report.corrupt++;
        report.problems.push(`echo mismatch on a ${deflate ? 'deflate' : 'plain'} connection`);
      }
      report.echoes++;
      report.bytes += data.length;
      setTimeout(next, Math.random() * 2 * options.thinkMs).unref();
    });
    ws.addEventListener('error', (event) => {
      if (!running) return;
      report.clientErrors++;
      const error = event.error as { code?: string; message?: string } | undefined;
      const what = `${error?.code ?? ''} ${error?.message ?? ''}`.trim();
      report.errorKinds[what] = (report.errorKinds[what] ?? 0) + 1;
    });
    ws.addEventListener('close', () => {
      handshakeDone();
      live.delete(ws);
      // Replace it a moment later, so that churn does not become a tight loop.
      if (running) setTimeout(() => openEcho(slot), Math.floor(Math.random() * 50)).unref();
    });
  };

  // ---- slow readers ----
  const slowReader = async (): Promise<void> => {
    while (running) {
      const socket = net.connect(server.port, '127.0.0.1');
      sockets.add(socket);
      socket.on('error', () => {});
      socket.write(
        `GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      socket.pause();
      const burst = Buffer.concat(
        Array.from({ length: 32 }, () => encodeFrame({ opcode: Op.BINARY, payload: randomBytes(65_536) })),
      );
      socket.write(burst);
      await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 2_000));
      socket.resume();
      await new Promise((r) => setTimeout(r, 500));
      socket.end(encodeFrame({ opcode: Op.CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
      await new Promise((r) => setTimeout(r, 200));
      socket.destroy();
      sockets.delete(socket);
      report.slowRounds++;
    }
  };

  // ---- hub clients ----
  const hubLoop = async (i: number): Promise<void> => {
    while (running) {
      const client = new HubClient(hubUrl, {
        WebSocket,
        name: `soak-${i}`,
      });
      hubs.add(client);
      const channel = `soak:room${i % 5}`;
      const sub = client.subscribe(channel);
      sub.on('message', () => {
        report.delivered++;
      });
      const rounds = 5 + Math.floor(Math.random() * 20);
      for (let r = 0; r < rounds && running; r++) {
        try {
          await client.publish(channel, { from: i, r, pad: 'x'.repeat(pick([0, 100, 2_000])) });
          report.published++;
          if (r % 5 === 0) {
            await sub.presence();
            report.presenceCalls++;
          }
        } catch (error) {
          if (running) {
            report.hubFailures++;
            report.problems.push(`hub: ${String(error)}`);
          }
        }
        await new Promise((res) => setTimeout(res, 50 + Math.random() * 200));
      }
      client.close();
      hubs.delete(client);
    }
  };

  const loops = [
    ...Array.from({ length: options.slowReaders }, () => slowReader()),
    ...Array.from({ length: options.hubClients }, (_, i) => hubLoop(i)),
  ];
  // Ramp up with at most 100 handshakes in flight; the run's clock starts once every echo client was started.
  for (let i = 0; i < options.connections; i++) {
    openEcho(i);
    while (connecting >= 100) await new Promise((r) => setTimeout(r, 10));
  }
  start = Date.now();
  deadline = start + options.durationMs;
  log(`ramp-up done: ${options.connections} echo clients started`);

  // ---- sampling ----
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(options.sampleMs, Math.max(0, deadline - Date.now()))));
    let m: MemorySample;
    try {
      m = await server.memory();
    } catch (error) {
      report.problems.push(`server memory sample failed: ${String(error)}`);
      break;
    }
    const t = Date.now() - start;
    report.samples.push({ t, retained: m.retained, rss: m.rss });
    if (m.unhandled > 0) report.unhandled = m.unhandled;
    log(
      `t=${(t / 1000).toFixed(0)}s retained ${mib(m.retained)} rss ${mib(m.rss)} echo clients ${m.echoClients} hub ${m.hubClients} echoes ${report.echoes} published ${report.published}`,
    );
    if (server.exited) {
      report.problems.push(`the server process exited: ${server.output()}`);
      break;
    }
  }
  running = false;
  for (const ws of live) ws.terminate();
  for (const s of sockets) s.destroy();
  for (const h of hubs) h.close();
  await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 5_000))]);
  const after = report.samples.filter((s) => s.t >= options.warmupMs);
  report.retainedSlope = slope(after.map((s) => ({ t: s.t, y: s.retained })));
  report.rssSlope = slope(after.map((s) => ({ t: s.t, y: s.rss })));
  report.unhandled += unhandled;
  if (/uncaught|unhandled/i.test(server.output())) report.problems.push(`server output: ${server.output()}`);
  await server.stop();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  return report;
}
