/**
 * broker-suite is the conformance suite every Broker passes (memoryBroker here, redisBroker
 * next): ordering, offsets, epochs, history bounds by count and age, recovery reads,
 * idempotency, presence with several connections of one user and expiry, fan-out within one
 * instance and between two instances sharing a backend, and failure behaviour.
 *
 * Time is injected: the fixture's broker must read `clock()` for ages and expiries.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Broker, BrokerListener, BrokerPublication, BrokerState, HistoryPolicy } from 'duplexjs/hub';

/**
 * BrokerFixture is one broker under test plus the switches the suite needs. They are
 * required, not optional: a broker whose faults cannot be produced in a test has not shown that
 * it survives them (a Redis fixture kills or flushes a real redis-server), so no test here skips.
 */
export interface BrokerFixture {
  broker: Broker;
  /** peer makes a second instance on the same backend (another process). */
  peer: () => Broker | Promise<Broker>;
  /** outage makes the backend unreachable (true) or reachable again (false). */
  outage: (down: boolean) => void | Promise<void>;
  /** dataLoss makes the backend forget everything, as a restart without persistence. */
  dataLoss: () => void | Promise<void>;
  /** dispose frees what the fixture holds (after the brokers are closed). */
  dispose?: () => void | Promise<void>;
}

/** MakeBroker builds a fixture whose brokers read time from `clock`. */
export type MakeBroker = (options: { clock: () => number }) => BrokerFixture | Promise<BrokerFixture>;

const KEEP: HistoryPolicy = { size: 100, ttlMs: 60_000 };

/** Recorder is a BrokerListener that records everything it is given. */
class Recorder implements BrokerListener {
  readonly pubs: Array<{ channel: string; pub: BrokerPublication }> = [];
  readonly presence: string[] = [];
  readonly states: BrokerState[] = [];
  onPublication(channel: string, pub: BrokerPublication): void {
    this.pubs.push({ channel, pub });
  }
  onJoin(channel: string, member: { user: string }): void {
    this.presence.push(`join ${channel} ${member.user}`);
  }
  onLeave(channel: string, member: { user: string }): void {
    this.presence.push(`leave ${channel} ${member.user}`);
  }
  onBrokerState(state: BrokerState): void {
    this.states.push(state);
  }
  offsets(channel: string): number[] {
    return this.pubs.filter((p) => p.channel === channel).map((p) => p.pub.offset);
  }
}

/** settle waits until `check` passes (brokers deliver asynchronously), a bounded number of turns. */
async function settle(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check(), 'the broker did not deliver');
}

/** brokerSuite registers the conformance tests for one broker implementation. */
export function brokerSuite(name: string, makeBroker: MakeBroker): void {
  describe(`Broker conformance: ${name}`, () => {
    let now = 1_000_000;
    const clock = () => now;
    let fixture: BrokerFixture;
    let broker: Broker;
    let rec: Recorder;
    const extra: Broker[] = [];

    beforeEach(async () => {
      now = 1_000_000;
      fixture = await makeBroker({ clock });
      broker = fixture.broker;
      rec = new Recorder();
      broker.attach(rec);
    });
    afterEach(async () => {
      await fixture.outage?.(false);
      for (const b of extra.splice(0)) await b.close();
      await broker.close();
      await fixture.dispose?.();
    });

    it('a channel never used is at offset 0; offsets then go up by one per message, in order', async () => {
      const start = await broker.position('t:a');
      assert.equal(start.offset, 0);
      assert.equal(typeof start.epoch, 'string');
      await broker.subscribe('t:a');
      const positions = [];
      for (let i = 1; i <= 20; i++) positions.push(await broker.publish('t:a', { data: { i } }, KEEP));
      assert.deepEqual(
        positions.map((p) => p.offset),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.ok(positions.every((p) => p.epoch === start.epoch && p.duplicate === false));
      await settle(() => rec.offsets('t:a').length === 20);
      assert.deepEqual(
        rec.pubs.map((p) => (p.pub.data as { i: number }).i),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.deepEqual(await broker.position('t:a'), { offset: 20, epoch: start.epoch });
    });

    it('concurrent publishes get distinct consecutive offsets', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => broker.publish('t:c', { data: i }, KEEP)),
      );
      assert.deepEqual(
        results.map((r) => r.offset).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    it('keeps channels apart and carries binary, from and conflationKey', async () => {
      await broker.subscribe('t:x');
      await broker.publish(
        't:x',
        { binary: Buffer.from([1, 2, 3]), from: 'alice', conflationKey: 'k' },
        KEEP,
      );
      await broker.publish('t:y', { data: 'other' }, KEEP);
      await settle(() => rec.pubs.length >= 1);
      assert.equal(rec.pubs.length, 1);
      const pub = rec.pubs[0]!.pub;
      assert.deepEqual([...(pub.binary ?? [])], [1, 2, 3]);
      assert.equal(pub.data, undefined);
      assert.equal(pub.from, 'alice');
      assert.equal(pub.conflationKey, 'k');
      const h = await broker.history('t:x', {});
      assert.deepEqual([...(h.publications[0]!.binary ?? [])], [1, 2, 3]);
    });

    it('bounds history by count', async () => {
      for (let i = 1; i <= 10; i++) await broker.publish('t:h', { data: i }, { size: 4, ttlMs: 60_000 });
      const h = await broker.history('t:h', {});
      assert.deepEqual(
        h.publications.map((p) => p.data),
        [7, 8, 9, 10],
      );
      assert.equal(h.position.offset, 10);
      const rev = await broker.history('t:h', { limit: 2, reverse: true });
      assert.deepEqual(
        rev.publications.map((p) => p.data),
        [10, 9],
      );
      const lim = await broker.history('t:h', { limit: 2 });
      assert.deepEqual(
        lim.publications.map((p) => p.data),
        [9, 10],
      );
    });

    it('bounds history by age', async () => {
      const policy = { size: 100, ttlMs: 1_000 };
      await broker.publish('t:age', { data: 'old' }, policy);
      now += 600;
      await broker.publish('t:age', { data: 'new' }, policy);
      now += 399;
      assert.deepEqual(
        (await broker.history('t:age', {})).publications.map((p) => p.data),
        ['old', 'new'],
      );
      now += 1;
      assert.deepEqual(
        (await broker.history('t:age', {})).publications.map((p) => p.data),
        ['new'],
      );
    });

    it('keeps the position of a channel whose history aged out while a process is subscribed', async () => {
      await broker.subscribe('t:keep');
      const first = await broker.publish('t:keep', { data: 1 }, { size: 10, ttlMs: 100 });
      now += 10_000_000;
      const next = await broker.publish('t:keep', { data: 2 }, { size: 10, ttlMs: 100 });
      assert.deepEqual([next.offset, next.epoch], [2, first.epoch]);
    });

    it('history since a position returns exactly what came after it, or says it is incomplete', async () => {
      for (let i = 1; i <= 8; i++) await broker.publish('t:s', { data: i }, { size: 5, ttlMs: 60_000 });
      const { epoch } = await broker.position('t:s');
      const r = await broker.history('t:s', { since: { offset: 5, epoch } });
      assert.equal(r.complete, true);
      assert.deepEqual(
        r.publications.map((p) => p.offset),
        [6, 7, 8],
      );
      const limited = await broker.history('t:s', { since: { offset: 4, epoch }, limit: 2 });
      assert.equal(limited.complete, true);
      assert.deepEqual(
        limited.publications.map((p) => p.offset),
        [5, 6],
      );
      const upToDate = await broker.history('t:s', { since: { offset: 8, epoch } });
      assert.deepEqual([upToDate.complete, upToDate.publications.length], [true, 0]);
      const tooOld = await broker.history('t:s', { since: { offset: 2, epoch } });
      assert.equal(tooOld.complete, false);
      const otherEpoch = await broker.history('t:s', { since: { offset: 5, epoch: `${epoch}x` } });
      assert.deepEqual([otherEpoch.complete, otherEpoch.publications.length], [false, 0]);
      const ahead = await broker.history('t:s', { since: { offset: 99, epoch } });
      assert.equal(ahead.complete, false);
    });

    it('stores a publish with a known idempotency key once, within the window', async () => {
      await broker.subscribe('t:i');
      const a = await broker.publish('t:i', { data: 'x', idempotencyKey: 'k1' }, KEEP);
      const b = await broker.publish('t:i', { data: 'x', idempotencyKey: 'k1' }, KEEP);
      assert.deepEqual([b.offset, b.epoch, b.duplicate], [a.offset, a.epoch, true]);
      const other = await broker
        .publish('t:i', { data: 'x', idempotencyKey: 'k1' }, KEEP)
        .then(() => broker.publish('t:j', { data: 'x', idempotencyKey: 'k1' }, KEEP));
      assert.equal(other.duplicate, false, 'keys are per channel');
      assert.equal((await broker.history('t:i', {})).publications.length, 1);
      now += 10 * 60_000;
      const later = await broker.publish('t:i', { data: 'x', idempotencyKey: 'k1' }, KEEP);
      assert.equal(later.duplicate, false, 'the key is forgotten after the window');
      await settle(() => rec.offsets('t:i').length === 2);
      assert.deepEqual(rec.offsets('t:i'), [1, 2]);
    });

    it('starts a new epoch at offset 1 when the log was lost', async () => {
      const a = await broker.publish('t:e', { data: 1 }, KEEP);
      await fixture.dataLoss();
      const b = await broker.publish('t:e', { data: 2 }, KEEP);
      assert.equal(b.offset, 1);
      assert.notEqual(b.epoch, a.epoch);
      const r = await broker.history('t:e', { since: { offset: 1, epoch: a.epoch } });
      assert.equal(r.complete, false);
    });

    it('counts presence per user across several connections, with join on the first and leave on the last', async () => {
      await broker.subscribe('t:p');
      await broker.presenceAdd('t:p', { client: 'c1', user: 'alice', info: { n: 1 } }, 10_000);
      await broker.presenceAdd('t:p', { client: 'c2', user: 'alice' }, 10_000);
      await broker.presenceAdd('t:p', { client: 'c3', user: 'bob' }, 10_000);
      await settle(() => rec.presence.length >= 2);
      assert.deepEqual(rec.presence, ['join t:p alice', 'join t:p bob']);
      const list = await broker.presenceList('t:p');
      assert.deepEqual(list.map((e) => e.client).sort(), ['c1', 'c2', 'c3']);
      assert.deepEqual(list.find((e) => e.client === 'c1')?.info, { n: 1 });
      await broker.presenceRemove('t:p', 'c1');
      await broker.presenceRemove('t:p', 'c1');
      assert.deepEqual(rec.presence, ['join t:p alice', 'join t:p bob']);
      await broker.presenceRemove('t:p', 'c2');
      await settle(() => rec.presence.length >= 3);
      assert.deepEqual(rec.presence.slice(2), ['leave t:p alice']);
      assert.deepEqual(
        (await broker.presenceList('t:p')).map((e) => e.user),
        ['bob'],
      );
    });

    it('expires presence entries that are not refreshed, and keeps refreshed ones', async () => {
      await broker.subscribe('t:px');
      await broker.presenceAdd('t:px', { client: 'c1', user: 'alice' }, 1_000);
      await broker.presenceAdd('t:px', { client: 'c2', user: 'bob' }, 1_000);
      now += 800;
      await broker.presenceAdd('t:px', { client: 'c2', user: 'bob' }, 1_000);
      now += 300;
      assert.deepEqual(
        (await broker.presenceList('t:px')).map((e) => e.user),
        ['bob'],
      );
      await settle(() => rec.presence.includes('leave t:px alice'));
      assert.equal(rec.presence.filter((p) => p.startsWith('join')).length, 2, 'a refresh is no new join');
    });

    it('fans out to every subscribed instance sharing the backend, once per instance', async () => {
      const other = await fixture.peer();
      extra.push(other);
      const rec2 = new Recorder();
      other.attach(rec2);
      await broker.subscribe('t:f');
      await other.subscribe('t:f');
      for (let i = 0; i < 5; i++) await broker.publish('t:f', { data: i }, KEEP);
      await other.publish('t:f', { data: 5 }, KEEP);
      await settle(() => rec.offsets('t:f').length === 6 && rec2.offsets('t:f').length === 6);
      assert.deepEqual(rec.offsets('t:f'), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(rec2.offsets('t:f'), [1, 2, 3, 4, 5, 6]);
      await other.presenceAdd('t:f', { client: 'z', user: 'zoe' }, 10_000);
      await settle(() => rec.presence.length === 1 && rec2.presence.length === 1);
      await other.unsubscribe('t:f');
      await broker.publish('t:f', { data: 6 }, KEEP);
      await settle(() => rec.offsets('t:f').length === 7);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(rec2.offsets('t:f').length, 6, 'an unsubscribed instance gets nothing more');
    });

    it('rejects with a retryable DUPLEX_HUB_BROKER_UNAVAILABLE while down, reports its state, and recovers', async () => {
      const before = await broker.publish('t:o', { data: 1 }, KEEP);
      await fixture.outage(true);
      await assert.rejects(
        broker.publish('t:o', { data: 2 }, KEEP),
        (e: { code?: string; retryable?: boolean }) => {
          assert.equal(e.code, 'DUPLEX_HUB_BROKER_UNAVAILABLE');
          assert.equal(e.retryable, true);
          return true;
        },
      );
      await assert.rejects(broker.history('t:o', {}), { code: 'DUPLEX_HUB_BROKER_UNAVAILABLE' });
      await assert.rejects(broker.presenceList('t:o'), { code: 'DUPLEX_HUB_BROKER_UNAVAILABLE' });
      await fixture.outage(false);
      await settle(() => rec.states.includes('up'));
      assert.deepEqual(rec.states, ['down', 'up']);
      const after = await broker.publish('t:o', { data: 3 }, KEEP);
      assert.deepEqual([after.offset, after.epoch], [2, before.epoch], 'nothing was stored while down');
    });
  });
}
