/**
 * load is the client side of the soak (issue 13, item 6): one share of the echo clients, slow
 * readers and hub clients, run in whatever process calls `startLoad` (the test's own process,
 * or a load worker, test/soak/load-worker.ts, when the load is spread over several). It keeps
 * its own counts; the caller adds the shares up.
 *
 * - echo clients (Duplex's WebSocket), a third with permessage-deflate; each keeps one message
 *   in flight (and pauses about `thinkMs` between an echo and the next), of mixed sizes (1 B to
 *   64 KiB, random bytes), checks that every echo is byte for byte what it sent, in order, and
 *   after a random number of messages closes (1000) or, one time in ten, drops TCP without a
 *   close (terminate); a new one replaces it;
 * - slow readers: raw sockets that send a burst of 64 KiB messages, read nothing for a while
 *   (the server's send buffer backs up), then read everything and start over;
 * - hub clients (HubClient) on a few channels: subscribe, publish, presence; they churn too,
 *   and every publish must be acknowledged.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { encodeFrame, Op } from '../helpers/raw-client.js';

export interface LoadOptions {
  port: number;
  /** Echo clients in this share; `firstSlot` numbers them (slot % 3 === 0 uses deflate). */
  connections: number;
  firstSlot: number;
  slowReaders: number;
  /** Hub clients in this share; `firstHub` numbers them (names, channels). */
  hubClients: number;
  firstHub: number;
  /** Channels the hub clients spread over (client i uses room i % hubChannels). */
  hubChannels: number;
  /** Mean pause of an echo client between an echo and its next message, ms. */
  thinkMs: number;
  /** Mean pause of a hub client between two publishes, ms. */
  hubThinkMs: number;
  /** Messages an echo client sends before it leaves: uniform in [min, max]. */
  messagesPerConnection: [min: number, max: number];
  /** Echo handshakes in flight at most during the ramp-up. */
  rampInFlight: number;
}

/** LoadCounts is one share's tally; `addCounts` sums shares. */
export interface LoadCounts {
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
  /** Echo clients open now. */
  live: number;
  /** The longest event-loop delay of a load process since the last counts, ms (added up as a maximum). */
  loopDelayMaxMs: number;
  unhandled: number;
  problems: string[];
}

export function emptyCounts(): LoadCounts {
  return {
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
    live: 0,
    loopDelayMaxMs: 0,
    unhandled: 0,
    problems: [],
  };
}

/** addCounts adds `share` into `total` (problems are kept to the first 50). */
export function addCounts(total: LoadCounts, share: LoadCounts): void {
  for (const key of [
    'echoes',
    'bytes',
    'opened',
    'terminated',
    'corrupt',
    'clientErrors',
    'published',
    'delivered',
    'presenceCalls',
    'hubFailures',
    'slowRounds',
    'live',
    'unhandled',
  ] as const) {
    total[key] += share[key];
  }
  total.loopDelayMaxMs = Math.max(total.loopDelayMaxMs, share.loopDelayMaxMs);
  for (const [what, n] of Object.entries(share.errorKinds))
    total.errorKinds[what] = (total.errorKinds[what] ?? 0) + n;
  for (const p of share.problems) if (total.problems.length < 50) total.problems.push(p);
}

export interface Load {
  /** Settles once every echo client of this share was started (the ramp-up). */
  ready: Promise<void>;
  counts(): LoadCounts;
  /** stop ends the load: every client goes (terminate), loops end, and the final counts come back. */
  stop(): Promise<LoadCounts>;
}

const SIZES = [1, 16, 100, 1_000, 4_096, 16_384, 65_536];

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function startLoad(options: LoadOptions): Load {
  const counts = emptyCounts();
  const problem = (text: string) => {
    if (counts.problems.length < 50) counts.problems.push(text);
  };
  const echoUrl = `ws://127.0.0.1:${options.port}/echo`;
  const hubUrl = `ws://127.0.0.1:${options.port}/hub`;
  let running = true;
  const live = new Set<WebSocket>();
  /** Echo handshakes started and not settled: the ramp-up waits while many are. */
  let connecting = 0;
  const sockets = new Set<net.Socket>();
  const hubs = new Set<HubClient>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const [minMessages, maxMessages] = options.messagesPerConnection;
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  /** snapshot copies the counts with the loop delay since the last snapshot. */
  const snapshot = (): LoadCounts => {
    const loopDelayMaxMs = loopDelay.max / 1e6;
    loopDelay.reset();
    return { ...counts, live: live.size, loopDelayMaxMs, problems: [...counts.problems] };
  };

  // ---- echo clients ----
  const openEcho = (slot: number): void => {
    if (!running) return;
    counts.opened++;
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
    let left = minMessages + Math.floor(Math.random() * (maxMessages - minMessages + 1));
    const next = () => {
      if (!running || ws.readyState !== WebSocket.OPEN) return;
      if (left-- <= 0) {
        if (Math.random() < 0.1) {
          counts.terminated++;
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
      // The first message waits a random share of a think time, so that the clients of a
      // ramp-up do not stay in step.
      later(next, Math.random() * options.thinkMs);
    });
    ws.addEventListener('message', (event) => {
      const data = event.data as Buffer;
      const want = expected.shift();
      if (want === undefined || !want.equals(data)) {
        counts.corrupt++;
        problem(`echo mismatch on a ${deflate ? 'deflate' : 'plain'} connection`);
      }
      counts.echoes++;
      counts.bytes += data.length;
      later(next, Math.random() * 2 * options.thinkMs);
    });
    ws.addEventListener('error', (event) => {
      if (!running) return;
      counts.clientErrors++;
      const error = event.error as { code?: string; message?: string } | undefined;
      const what = `${error?.code ?? ''} ${error?.message ?? ''}`.trim();
      counts.errorKinds[what] = (counts.errorKinds[what] ?? 0) + 1;
    });
    ws.addEventListener('close', () => {
      handshakeDone();
      live.delete(ws);
      // Replace it a moment later, so that churn does not become a tight loop.
      if (running) later(() => openEcho(slot), Math.floor(Math.random() * 50));
    });
  };

  // ---- slow readers ----
  const slowReader = async (): Promise<void> => {
    while (running) {
      const socket = net.connect(options.port, '127.0.0.1');
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
      await sleep(1_000 + Math.random() * 2_000);
      socket.resume();
      await sleep(500);
      socket.end(encodeFrame({ opcode: Op.CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
      await sleep(200);
      socket.destroy();
      sockets.delete(socket);
      counts.slowRounds++;
    }
  };

  // ---- hub clients ----
  const hubLoop = async (i: number): Promise<void> => {
    while (running) {
      const client = new HubClient(hubUrl, { WebSocket, name: `soak-${i}` });
      hubs.add(client);
      const channel = `soak:room${i % options.hubChannels}`;
      const sub = client.subscribe(channel);
      sub.on('message', () => {
        counts.delivered++;
      });
      const rounds = 5 + Math.floor(Math.random() * 20);
      for (let r = 0; r < rounds && running; r++) {
        try {
          await client.publish(channel, { from: i, r, pad: 'x'.repeat(pick([0, 100, 2_000])) });
          counts.published++;
          if (r % 5 === 0) {
            await sub.presence();
            counts.presenceCalls++;
          }
        } catch (error) {
          if (running) {
            counts.hubFailures++;
            problem(`hub: ${String(error)}`);
          }
        }
        await sleep(Math.random() * 2 * options.hubThinkMs);
      }
      client.close();
      hubs.delete(client);
    }
  };

  const loops = [
    ...Array.from({ length: options.slowReaders }, () => slowReader()),
    ...Array.from({ length: options.hubClients }, (_, i) => hubLoop(options.firstHub + i)),
  ];
  const ready = (async () => {
    for (let i = 0; i < options.connections && running; i++) {
      openEcho(options.firstSlot + i);
      while (connecting >= options.rampInFlight) await sleep(10);
    }
  })();

  return {
    ready,
    counts: snapshot,
    stop: async () => {
      running = false;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const ws of live) ws.terminate();
      for (const s of sockets) s.destroy();
      for (const h of hubs) h.close();
      await Promise.race([Promise.allSettled([ready, ...loops]), sleep(5_000)]);
      const final = snapshot();
      loopDelay.disable();
      return final;
    },
  };
}
