/**
 * What a slow subscriber really costs (issue 13: every queue has a limit that counts what it
 * really costs). A subscriber that never reads is flooded with tiny publications; the server's
 * retained memory (heap + external after a full GC, this process: hub and client share it, the
 * client's unread bytes stay in the kernel) is sampled throughout. Its policy must act before
 * the memory it holds passes what the policy permits by more than RATIO:
 * - `close`: the socket's buffer up to `slowConsumerBytes` (then 4004),
 * - `drop-oldest` and `conflate` (a fresh conflation key per message, so nothing conflates):
 *   the socket's buffer plus a queue of `slowConsumerBytes` more (then the oldest go).
 * Before the socket's buffer and the hub's queue counted per-entry overhead (they counted wire
 * bytes only), the same floods held about 7 times what the policy permits.
 *
 * The first test also measures what one queued publication costs (the figure behind
 * ENTRY_OVERHEAD in src/hub/outbound.ts) and checks that the queue does not count less than that.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { SlowConsumerPolicy } from 'duplexjs/hub';
import { startHub, type TestHub } from '../helpers/hub-client.js';
import { mib, retained } from '../helpers/memory.js';
import { encodeFrame, Op } from '../helpers/raw-client.js';

const LIMIT = 4 * 1024 * 1024;
/** The stated bound: retained growth at most 1.5 times what the policy permits. */
const RATIO = 1.5;
/** Bounds of every flood: publications and wall time. */
const MAX_PUBLICATIONS = 600_000;
const MAX_MS = 90_000;
const SAMPLE_EVERY = 5_000;

/** rawSubscriber opens a hub connection over a raw TCP socket (no extension), subscribes, then stops reading. */
async function rawSubscriber(url: string, channel: string): Promise<net.Socket> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  const seen = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${text} in ${JSON.stringify(got)}`)), 10_000);
      const check = (): void => {
        if (!got.includes(text)) return;
        clearTimeout(timer);
        socket.off('data', onData);
        resolve();
      };
      const onData = (chunk: Buffer): void => {
        got += chunk.toString('latin1');
        check();
      };
      socket.on('data', onData);
      check();
    });
  socket.write(
    `GET /hub HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Protocol: duplex.v1\r\n\r\n',
  );
  await seen('\r\n\r\n');
  socket.write(encodeFrame({ opcode: Op.TEXT, payload: JSON.stringify({ type: 'connect', id: 1 }) }));
  socket.write(
    encodeFrame({ opcode: Op.TEXT, payload: JSON.stringify({ type: 'subscribe', id: 2, channel }) }),
  );
  await seen('"id":2');
  socket.pause();
  return socket;
}

interface Flood {
  published: number;
  /** Largest retained growth seen, in bytes. */
  peak: number;
  /** Retained growth per publication queued between the queue's start and its first drop. */
  perEntry?: number;
  /** What the queue counted per entry over the same span. */
  countedPerEntry?: number;
}

/**
 * flood publishes tiny messages to `channel` until `done` (bounded in count and time), sampling
 * retained memory every SAMPLE_EVERY publications and at the moments the queue starts and first drops.
 */
async function flood(t: TestHub, channel: string, conflate: boolean, done: () => boolean): Promise<Flood> {
  const base = retained();
  const started = Date.now();
  const result: Flood = { published: 0, peak: 0 };
  const sample = (): number => {
    const growth = retained() - base;
    result.peak = Math.max(result.peak, growth);
    return growth;
  };
  let queueStart: { at: number; memory: number } | undefined;
  while (!done()) {
    assert.ok(
      result.published < MAX_PUBLICATIONS,
      `policy not applied after ${result.published} publications`,
    );
    assert.ok(Date.now() - started < MAX_MS, `policy not applied within ${MAX_MS} ms`);
    const n = ++result.published;
    await t.hub.publish(channel, { n }, conflate ? { conflationKey: `k${n}` } : {});
    const stats = t.hub.stats();
    if (queueStart === undefined && stats.queuedBytes > 0) queueStart = { at: n, memory: sample() };
    if (queueStart !== undefined && result.perEntry === undefined && stats.dropped > 0) {
      const queued = n - 1 - queueStart.at;
      result.perEntry = (sample() - queueStart.memory) / queued;
      result.countedPerEntry = stats.queuedBytes / queued;
    }
    if (n % SAMPLE_EVERY === 0) sample();
  }
  sample();
  return result;
}

function hubFor(policy: SlowConsumerPolicy): Promise<TestHub> {
  return startHub({
    limits: { slowConsumerBytes: LIMIT },
    channels: {
      q: { history: { size: 0, ttlMs: 0 }, presence: false, joinLeave: false, slowConsumer: policy },
    },
  });
}

describe('hub slow consumer: memory held, measured, against the limit', () => {
  let t: TestHub | undefined;
  let socket: net.Socket | undefined;
  afterEach(async () => {
    socket?.destroy();
    await t?.stop();
    t = undefined;
  });

  for (const policy of ['drop-oldest', 'conflate'] as const) {
    it(`${policy}: a subscriber that never reads holds at most ${RATIO} x (socket limit + queue limit)`, {
      timeout: 180_000,
    }, async (ctx) => {
      t = await hubFor(policy);
      socket = await rawSubscriber(t.url, 'q:flood');
      let dropsAtFull: number | undefined;
      const result = await flood(t, 'q:flood', policy === 'conflate', () => {
        const { dropped } = t!.hub.stats();
        if (dropped > 0 && dropsAtFull === undefined) dropsAtFull = dropped;
        // Well past the first drop: the queue has turned over many times at its limit.
        return dropped >= 40_000;
      });
      const permitted = 2 * LIMIT;
      ctx.diagnostic(
        `${policy}: ${result.published} publications, peak retained +${mib(result.peak)} ` +
          `(${(result.peak / permitted).toFixed(2)} x the ${mib(permitted)} permitted); one queued ` +
          `publication costs ${Math.round(result.perEntry ?? 0)} B and counts ${Math.round(result.countedPerEntry ?? 0)} B`,
      );
      assert.ok(t.hub.stats().queuedBytes <= LIMIT, 'the queue stays at its limit');
      assert.ok(
        result.peak <= RATIO * permitted,
        `retained +${mib(result.peak)} exceeds ${RATIO} x ${mib(permitted)}`,
      );
      assert.ok(result.perEntry !== undefined && result.countedPerEntry !== undefined);
      // The queue counts at least 80% of what an entry really costs (measurement noise aside).
      assert.ok(
        result.countedPerEntry >= 0.8 * result.perEntry,
        `an entry costs ${Math.round(result.perEntry)} B but counts ${Math.round(result.countedPerEntry)} B`,
      );
    });
  }

  it(`close: a subscriber that never reads is closed with 4004 before it holds ${RATIO} x the limit`, {
    timeout: 180_000,
  }, async (ctx) => {
    t = await hubFor('close');
    socket = await rawSubscriber(t.url, 'q:flood');
    const result = await flood(t, 'q:flood', false, () => t!.hub.stats().slowClosed === 1);
    ctx.diagnostic(
      `close: closed after ${result.published} publications, peak retained +${mib(result.peak)} ` +
        `(${(result.peak / LIMIT).toFixed(2)} x the ${mib(LIMIT)} permitted)`,
    );
    assert.ok(result.peak <= RATIO * LIMIT, `retained +${mib(result.peak)} exceeds ${RATIO} x ${mib(LIMIT)}`);
  });
});
