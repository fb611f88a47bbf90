/**
 * Redis faults under two `duplex serve --redis` processes (A and B) with HubClients on each:
 * Redis unreachable for a while, the pub/sub connections killed alone, Redis restarted with its
 * data, Redis restarted empty. The processes stay up throughout; publishes during an outage fail
 * at once with the retryable DUPLEX_HUB_BROKER_UNAVAILABLE; /metrics shows duplex_broker_up;
 * subscriptions come back by themselves.
 *
 * The outage is 30 s; here it lasts REDIS_OUTAGE_MS (default 3 000 ms) so the suite
 * stays short: nothing in the broker depends on the length (its reconnect delay is capped at
 * 1 s), and `REDIS_OUTAGE_MS=30000` runs the full-length case.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { RedisServer, requireRedis } from '../helpers/redis-server.js';
import { metric, type ServeProcess, startServe, stopServe, until } from '../helpers/serve-redis.js';

const OUTAGE_MS = Number(process.env['REDIS_OUTAGE_MS'] ?? 3_000);

interface Listener {
  client: HubClient;
  got: Array<{ n: number; offset: number; epoch: string }>;
  subscribed: boolean[];
}

function listen(port: number, channel: string): Listener {
  const client = new HubClient(`ws://127.0.0.1:${port}/hub`, {
    WebSocket: WebSocket as never,
    backoff: { baseMs: 50, maxMs: 400 },
  });
  client.on('error', () => {});
  const l: Listener = { client, got: [], subscribed: [] };
  const sub = client.subscribe(channel);
  sub.on('message', (data, meta) => l.got.push({ n: (data as { n: number }).n, ...meta }));
  sub.on('subscribed', (info) => l.subscribed.push(info.recovered));
  sub.on('error', () => {});
  return l;
}

function client(port: number): HubClient {
  const c = new HubClient(`ws://127.0.0.1:${port}/hub`, {
    WebSocket: WebSocket as never,
    backoff: { baseMs: 50, maxMs: 400 },
    requestTimeoutMs: 10_000,
  });
  c.on('error', () => {});
  return c;
}

/** publishRetrying publishes `{ n }`, retrying retryable failures with the same idempotency key. */
async function publishRetrying(c: HubClient, channel: string, n: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await c.publish(channel, { n }, { idempotencyKey: `k-${channel}-${n}` });
      return;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('Redis faults under duplex serve --redis', () => {
  let redis: RedisServer | undefined;
  let a: ServeProcess | undefined;
  let b: ServeProcess | undefined;
  const clients: HubClient[] = [];

  before(async () => {
    redis = await RedisServer.start().catch(() => undefined);
    if (!redis) return;
    a = await startServe(redis.url);
    b = await startServe(redis.url);
  });
  after(async () => {
    for (const c of clients) c.close();
    if (a) await stopServe(a);
    if (b) await stopServe(b);
    await redis?.close();
  });

  const alive = (): void => {
    assert.equal(a!.cli.child.exitCode, null, 'process A is up');
    assert.equal(b!.cli.child.exitCode, null, 'process B is up');
  };

  it(`unreachable for ${OUTAGE_MS} ms: publishes fail fast and retryably, /metrics shows it, subscriptions come back`, async (t) => {
    if (!requireRedis(t)) return;
    const onB = listen(b!.port, 'f:outage');
    const pub = client(a!.port);
    clients.push(onB.client, pub);
    await until(() => onB.subscribed.length === 1, 'subscribed');
    await pub.publish('f:outage', { n: 1 });
    await until(() => onB.got.length === 1, 'first message');
    assert.equal(await metric(a!.port, 'duplex_broker_up'), 1);

    await redis!.stop();
    await until(() => a!.cli.stderr().includes('redis broker down'), 'A to see Redis down');
    assert.equal(await metric(a!.port, 'duplex_broker_up'), 0);
    const started = Date.now();
    await assert.rejects(pub.publish('f:outage', { n: 2 }, { idempotencyKey: 'outage-2' }), (e: Error) => {
      const err = e as Error & { code?: string; retryable?: boolean };
      assert.equal(err.code, 'DUPLEX_HUB_BROKER_UNAVAILABLE');
      assert.equal(err.retryable, true);
      return true;
    });
    t.diagnostic(`a publish during the outage failed after ${Date.now() - started} ms`);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    alive();
    await redis!.resume();
    for (let i = 0; i < 500 && (await metric(a!.port, 'duplex_broker_up')) !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await metric(a!.port, 'duplex_broker_up'), 1, 'A reports Redis up again');
    await publishRetrying(pub, 'f:outage', 2);
    await publishRetrying(pub, 'f:outage', 3);
    await until(() => onB.got.length === 3, 'the messages after the outage');
    assert.deepEqual(
      onB.got.map((g) => g.offset),
      [1, 2, 3],
      'nothing was stored while down, offsets go on',
    );
    alive();
  });

  it('the pub/sub connections killed alone (CLIENT KILL TYPE pubsub): what was published meanwhile is filled from the stream', async (t) => {
    if (!requireRedis(t)) return;
    const onB = listen(b!.port, 'f:pubsub');
    const pub = client(a!.port);
    clients.push(onB.client, pub);
    await until(() => onB.subscribed.length === 1, 'subscribed');
    for (let n = 1; n <= 5; n++) await publishRetrying(pub, 'f:pubsub', n);
    const killed = redis!.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Publishes right after the kill go out while B's subscription is being re-established.
    for (let n = 6; n <= 30; n++) await publishRetrying(pub, 'f:pubsub', n);
    await until(() => onB.got.length >= 30, 'every message on B');
    t.diagnostic(`killed ${killed} pub/sub connections`);
    assert.ok(Number(killed) >= 1, "B's pub/sub connection was killed");
    assert.deepEqual(
      onB.got.map((g) => g.n),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    alive();
  });

  it('restarted with its data: the same epoch goes on, clients recover everything', async (t) => {
    if (!requireRedis(t)) return;
    const onB = listen(b!.port, 'f:data');
    const pub = client(a!.port);
    clients.push(onB.client, pub);
    await until(() => onB.subscribed.length === 1, 'subscribed');
    for (let n = 1; n <= 5; n++) await publishRetrying(pub, 'f:data', n);
    await until(() => onB.got.length === 5, 'first messages');
    await redis!.restart();
    for (let n = 6; n <= 10; n++) await publishRetrying(pub, 'f:data', n);
    await until(() => onB.got.length >= 10, 'messages after the restart');
    assert.deepEqual(
      onB.got.map((g) => [g.n, g.offset]),
      Array.from({ length: 10 }, (_, i) => [i + 1, i + 1]),
    );
    assert.equal(new Set(onB.got.map((g) => g.epoch)).size, 1, 'one epoch');
    assert.ok(!onB.subscribed.includes(false, 1), 'no resubscription said recovered: false');
    alive();
  });

  it('restarted empty: a new epoch; a client that missed messages is told recovered: false and goes on', async (t) => {
    if (!requireRedis(t)) return;
    const onB = listen(b!.port, 'f:empty');
    const pub = client(a!.port);
    clients.push(onB.client, pub);
    await until(() => onB.subscribed.length === 1, 'subscribed');
    for (let n = 1; n <= 5; n++) await publishRetrying(pub, 'f:empty', n);
    await until(() => onB.got.length === 5, 'first messages');
    const epoch = onB.got[0]!.epoch;
    await redis!.restart({ empty: true });
    for (let n = 6; n <= 10; n++) await publishRetrying(pub, 'f:empty', n);
    await until(() => onB.got.some((g) => g.n === 10), 'the last message');
    const after = onB.got.filter((g) => g.n > 5);
    assert.ok(after.length > 0);
    assert.ok(
      after.every((g) => g.epoch !== epoch),
      'messages after the restart carry a new epoch',
    );
    assert.deepEqual(
      onB.got.map((g) => g.n),
      [...new Set(onB.got.map((g) => g.n))].sort((x, y) => x - y),
      'no duplicate, in order',
    );
    if (after.length < 5) {
      assert.ok(onB.subscribed.slice(1).includes(false), 'a loss is announced with recovered: false');
    }
    t.diagnostic(
      `after the empty restart B got ${after.length} of 5; resubscriptions: ${onB.subscribed.slice(1)}`,
    );
    alive();
  });
});
