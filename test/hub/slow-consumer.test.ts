import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { type Msg, type RawHubClient, startHub, type TestHub, until } from '../helpers/hub-client.js';

const LIMIT = 64 * 1024;
/** Incompressible (the test clients negotiate permessage-deflate). */
const FILLER = randomBytes(12 * 1024).toString('base64');

/**
 * publishUntil publishes to `channel` (a bounded number of times) until `done` holds. Every few
 * messages it waits until the `fast` subscriber has read everything so far, so that only the
 * paused one falls behind, however loaded the machine is.
 */
async function publishUntil(
  t: TestHub,
  channel: string,
  fast: RawHubClient,
  done: () => boolean,
  check?: () => void,
): Promise<number> {
  let n = 0;
  while (!done() && n < 6_000) {
    n++;
    await t.hub.publish(channel, { seq: n, filler: FILLER });
    check?.();
    if (n % 8 === 0) {
      const expected = n;
      await until(() => fast.pubs(channel).length >= expected, 'the fast subscriber to keep up');
    }
  }
  assert.ok(done(), `not reached after ${n} messages`);
  return n;
}

function seqs(c: RawHubClient, channel: string): number[] {
  return c.pubs(channel).map((m: Msg) => m.data.seq);
}

describe('hub slow consumers', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('close: a subscriber that stops reading is closed with 4004; the others get everything', async () => {
    t = await startHub({ limits: { slowConsumerBytes: LIMIT } });
    const slow = await t.connect();
    const fast = await t.connect();
    await slow.subscribe('c:x');
    await fast.subscribe('c:x');
    slow.pause();
    const n = await publishUntil(t, 'c:x', fast, () => t.hub.stats().slowClosed === 1);
    assert.ok(t.hub.stats().queuedBytes <= LIMIT);
    await until(() => fast.pubs('c:x').length === n, 'fast gets all');
    assert.deepEqual(
      seqs(fast, 'c:x'),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    slow.resume();
    assert.equal((await slow.closed).code, 4004);
  });

  it('drop-oldest: memory stays bounded, the others get everything, the slow one sees a gap and recovers', async () => {
    t = await startHub({
      limits: { slowConsumerBytes: LIMIT },
      channels: { d: { slowConsumer: 'drop-oldest', history: { size: 10_000, ttlMs: 600_000 } } },
    });
    const slow = await t.connect();
    const fast = await t.connect();
    const sub = await slow.subscribe('d:x');
    await fast.subscribe('d:x');
    slow.pause();
    let maxQueued = 0;
    const n = await publishUntil(
      t,
      'd:x',
      fast,
      () => t.hub.stats().dropped >= 20,
      () => {
        maxQueued = Math.max(maxQueued, t.hub.stats().queuedBytes);
      },
    );
    assert.ok(maxQueued <= LIMIT, `queued ${maxQueued} bytes`);
    assert.ok(maxQueued > 0, 'the queue was used');
    assert.equal(t.hub.stats().slowClosed, 0);
    await until(() => fast.pubs('d:x').length === n, 'fast gets all');
    slow.resume();
    await t.hub.publish('d:x', { seq: n + 1 });
    await until(() => seqs(slow, 'd:x').includes(n + 1), 'slow catches up with the live stream');
    const offsets = slow.pubs('d:x').map((m) => m.offset);
    let gapAt = -1;
    for (let i = 1; i < offsets.length; i++) {
      if (offsets[i] !== offsets[i - 1]! + 1) {
        gapAt = i;
        break;
      }
    }
    assert.ok(gapAt > 0, 'the slow subscriber sees an offset gap');
    // What HubClient does on a gap: resubscribe with the last offset before it.
    const before = slow.pubs('d:x').length;
    const re = await slow.subscribe('d:x', { offset: offsets[gapAt - 1]!, epoch: sub.position.epoch });
    assert.equal(re.recovered, true);
    await until(() => slow.pubs('d:x').length - before === n + 1 - offsets[gapAt - 1]!, 'replay');
    assert.deepEqual(
      slow
        .pubs('d:x')
        .slice(before)
        .map((m) => m.offset),
      Array.from({ length: n + 1 - offsets[gapAt - 1]! }, (_, i) => offsets[gapAt - 1]! + 1 + i),
    );
  });

  it('conflate: the slow subscriber gets the newest value per key, marked conflated', async () => {
    t = await startHub({
      limits: { slowConsumerBytes: LIMIT },
      channels: { p: { slowConsumer: 'conflate' } },
    });
    const slow = await t.connect();
    const fast = await t.connect();
    await slow.subscribe('p:ACME');
    await fast.subscribe('p:ACME');
    slow.pause();
    let maxQueued = 0;
    const n = await publishUntil(
      t,
      'p:ACME',
      fast,
      () => t.hub.stats().dropped >= 50,
      () => {
        maxQueued = Math.max(maxQueued, t.hub.stats().queuedBytes);
      },
    );
    assert.ok(maxQueued <= LIMIT, `queued ${maxQueued} bytes`);
    await t.hub.publish('p:ACME', { seq: n + 1, last: true });
    await until(() => fast.pubs('p:ACME').length === n + 1, 'fast gets all');
    slow.resume();
    await until(() => slow.pubs('p:ACME').some((m) => m.data.last), 'the newest value');
    const got = slow.pubs('p:ACME');
    assert.equal(got[got.length - 1]!.data.seq, n + 1);
    assert.ok(got.length < n, `conflated: ${got.length} of ${n + 1}`);
    assert.ok(
      got.some((m) => m.conflated === true),
      'a replacing message is marked conflated',
    );
    const offsets = got.map((m) => m.offset);
    assert.ok(
      offsets.every((o, i) => i === 0 || o > offsets[i - 1]!),
      'offsets still increase',
    );
  });
});
