import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startHub, type TestHub, until } from '../helpers/hub-client.js';

describe('hub limits', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('refuses messages over the rate with DUPLEX_HUB_RATE_LIMITED (frozen clock: an exact bucket)', async () => {
    t = await startHub({ clock: () => 1_000, limits: { messageBurst: 5, messagesPerSecond: 1 } });
    const c = await t.connect(); // connect took one token
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await c.request({ type: 'history', channel: 'r' }));
    assert.deepEqual(
      replies.map((r) => r.type),
      ['history', 'history', 'history', 'history', 'error', 'error'],
    );
    assert.deepEqual([replies[4]!.code, replies[4]!.retryable], ['DUPLEX_HUB_RATE_LIMITED', true]);
    assert.equal(t.hub.stats().rateLimited, 2);
  });

  it('refills the bucket with time', async () => {
    let now = 1_000;
    t = await startHub({ clock: () => now, limits: { messageBurst: 2, messagesPerSecond: 10 } });
    const c = await t.connect();
    assert.equal((await c.request({ type: 'history', channel: 'r' })).type, 'history');
    assert.equal((await c.request({ type: 'history', channel: 'r' })).code, 'DUPLEX_HUB_RATE_LIMITED');
    now += 100;
    assert.equal((await c.request({ type: 'history', channel: 'r' })).type, 'history');
  });

  it('closes with 4005 after sustained abuse', async () => {
    t = await startHub({ clock: () => 1_000, limits: { messageBurst: 2, rateLimitCloseAfter: 10 } });
    const c = await t.connect();
    for (let i = 0; i < 50; i++) c.send({ type: 'history', id: c.id(), channel: 'r' });
    assert.equal((await c.closed).code, 4005);
  });

  it('answers DUPLEX_HUB_TOO_LARGE over maxMessageBytes and closes with 1009 far over it', async () => {
    t = await startHub({ authorize: () => true, limits: { maxMessageBytes: 1_000 } });
    const c = await t.connect();
    const big = await c.request({ type: 'publish', channel: 'x', data: 'y'.repeat(1_500) });
    assert.deepEqual([big.type, big.code], ['error', 'DUPLEX_HUB_TOO_LARGE']);
    const bigBinary = await c.request({ type: 'publish', channel: 'x', binary: true }, Buffer.alloc(1_500));
    assert.equal(bigBinary.code, 'DUPLEX_HUB_TOO_LARGE');
    assert.equal((await c.request({ type: 'publish', channel: 'x', data: 'small' })).type, 'published');
    c.send({ type: 'publish', id: c.id(), channel: 'x', data: 'y'.repeat(5_000) });
    assert.equal((await c.closed).code, 1009);
  });

  it('caps subscriptions per connection', async () => {
    t = await startHub({ limits: { maxSubscriptions: 3 } });
    const c = await t.connect();
    for (let i = 0; i < 3; i++) await c.subscribe(`s:${i}`);
    const over = await c.request({ type: 'subscribe', channel: 's:3' });
    assert.equal(over.code, 'DUPLEX_HUB_TOO_MANY_SUBSCRIPTIONS');
    await c.request({ type: 'unsubscribe', channel: 's:0' });
    await c.subscribe('s:3');
  });

  it('stores a retried publish with the same idempotencyKey once and answers with the original position', async () => {
    t = await startHub({ authorize: () => true });
    const sub = await t.connect();
    await sub.subscribe('idem');
    const pub = await t.connect();
    const first = await pub.request({
      type: 'publish',
      channel: 'idem',
      data: 'once',
      idempotencyKey: 'k-1',
    });
    // The publisher lost its connection before the ack and retries on a new one.
    pub.ws.terminate();
    const again = await t.connect();
    const retry = await again.request({
      type: 'publish',
      channel: 'idem',
      data: 'once',
      idempotencyKey: 'k-1',
    });
    assert.deepEqual([retry.type, retry.offset, retry.epoch], ['published', first.offset, first.epoch]);
    const next = await again.request({
      type: 'publish',
      channel: 'idem',
      data: 'next',
      idempotencyKey: 'k-2',
    });
    assert.equal(next.offset, first.offset + 1);
    await until(() => sub.pubs('idem').length === 2, 'two pubs');
    assert.deepEqual(
      sub.pubs('idem').map((m) => m.data),
      ['once', 'next'],
    );
    assert.equal(t.hub.stats().publications, 2);
  });
});
