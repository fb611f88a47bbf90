import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  type Broker,
  type BrokerListener,
  type BrokerPublication,
  type HistoryPolicy,
  type HistoryQuery,
  type MemoryBroker,
  memoryBroker,
  type PresenceEntry,
  type PublishInput,
} from 'duplexjs/hub';
import { type Msg, RawHubClient, startHub, type TestHub, until } from '../helpers/hub-client.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * ShakyBroker wraps a memoryBroker: it can slow down position and history reads (so publishes
 * land in the middle of a recovery) and lose live deliveries (as a network broker's pub/sub may).
 */
class ShakyBroker implements Broker {
  readonly inner: MemoryBroker;
  constructor(inner: MemoryBroker = memoryBroker()) {
    this.inner = inner;
  }
  delayMs = 0;
  /** Lose every n-th live delivery (0: none). */
  loseEvery = 0;
  #delivered = 0;
  #listener: BrokerListener | undefined;

  attach(listener: BrokerListener): void {
    this.#listener = listener;
    const self = this;
    this.inner.attach({
      onPublication(channel: string, pub: BrokerPublication) {
        self.#delivered++;
        if (self.loseEvery > 0 && self.#delivered % self.loseEvery === 0) return;
        listener.onPublication(channel, pub);
      },
      onJoin: (c, m) => listener.onJoin(c, m),
      onLeave: (c, m) => listener.onLeave(c, m),
      onBrokerState: (s) => listener.onBrokerState(s),
    });
  }
  async #pause(): Promise<void> {
    if (this.delayMs > 0) await tick(Math.floor(Math.random() * this.delayMs));
  }
  publish(channel: string, input: PublishInput, history: HistoryPolicy) {
    return this.inner.publish(channel, input, history);
  }
  subscribe(channel: string) {
    return this.inner.subscribe(channel);
  }
  unsubscribe(channel: string) {
    return this.inner.unsubscribe(channel);
  }
  async position(channel: string) {
    await this.#pause();
    const p = await this.inner.position(channel);
    await this.#pause();
    return p;
  }
  async history(channel: string, query: HistoryQuery) {
    await this.#pause();
    const h = await this.inner.history(channel, query);
    await this.#pause();
    return h;
  }
  presenceAdd(channel: string, entry: PresenceEntry, ttlMs: number) {
    return this.inner.presenceAdd(channel, entry, ttlMs);
  }
  presenceRemove(channel: string, client: string) {
    return this.inner.presenceRemove(channel, client);
  }
  presenceList(channel: string) {
    return this.inner.presenceList(channel);
  }
  close() {
    return this.inner.close();
  }
  get listener() {
    return this.#listener;
  }
}

function offsets(msgs: Msg[]): number[] {
  return msgs.map((m) => m.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('hub recovery', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('a resubscription with since gets exactly the missed messages in order, then live ones', async () => {
    t = await startHub();
    const a = await t.connect();
    const sub = await a.subscribe('r:1');
    for (let i = 1; i <= 3; i++) await t.hub.publish('r:1', i);
    await until(() => a.pubs('r:1').length === 3, '3 pubs');
    a.ws.terminate();
    for (let i = 4; i <= 8; i++) await t.hub.publish('r:1', i);
    const b = await t.connect();
    const re = await b.subscribe('r:1', { offset: 3, epoch: sub.position.epoch });
    assert.equal(re.recovered, true);
    assert.deepEqual(re.position, { offset: 3, epoch: sub.position.epoch }, 'pubs continue after since');
    await t.hub.publish('r:1', 9);
    await until(() => b.pubs('r:1').length === 6, 'replay and live');
    assert.deepEqual(offsets(b.pubs('r:1')), [4, 5, 6, 7, 8, 9]);
    assert.deepEqual(
      b.pubs('r:1').map((m) => m.data),
      [4, 5, 6, 7, 8, 9],
    );
    const subscribedAt = b.log.findIndex((m) => m.type === 'subscribed');
    const firstPub = b.log.findIndex((m) => m.type === 'pub');
    assert.ok(subscribedAt < firstPub, 'subscribed comes before the replay');
  });

  it('a subscription that got nothing yet recovers from the position of its first subscribed', async () => {
    t = await startHub();
    const a = await t.connect();
    const sub = await a.subscribe('r:0');
    a.ws.terminate();
    await t.hub.publish('r:0', 'a');
    await t.hub.publish('r:0', 'b');
    const b = await t.connect();
    const re = await b.subscribe('r:0', sub.position);
    assert.equal(re.recovered, true);
    await until(() => b.pubs('r:0').length === 2, 'two');
    assert.deepEqual(
      b.pubs('r:0').map((m) => m.data),
      ['a', 'b'],
    );
  });

  it('answers recovered: false with the current position when the epoch changed', async () => {
    const broker = memoryBroker();
    t = await startHub({ broker });
    const a = await t.connect();
    await a.subscribe('r:e');
    await t.hub.publish('r:e', 1);
    await until(() => a.pubs('r:e').length === 1, 'pub');
    const old = { offset: 1, epoch: a.pubs('r:e')[0]!.epoch as string };
    a.ws.terminate();
    await until(() => t.hub.stats().channels === 0, 'channel released');
    broker.simulateDataLoss();
    await t.hub.publish('r:e', 'new');
    const b = await t.connect();
    const re = await b.subscribe('r:e', old);
    assert.equal(re.recovered, false);
    assert.notEqual(re.position.epoch, old.epoch);
    assert.equal(re.position.offset, 1);
    await t.hub.publish('r:e', 'live');
    await until(() => b.pubs('r:e').length === 1, 'live');
    assert.deepEqual([b.pubs('r:e')[0]!.offset, b.pubs('r:e')[0]!.data], [2, 'live']);
  });

  it('answers recovered: false when the history no longer reaches back', async () => {
    t = await startHub({ channels: { tiny: { history: { size: 3, ttlMs: 60_000 } } } });
    const a = await t.connect();
    const sub = await a.subscribe('tiny:x');
    a.ws.terminate();
    for (let i = 1; i <= 10; i++) await t.hub.publish('tiny:x', i);
    const b = await t.connect();
    const re = await b.subscribe('tiny:x', sub.position);
    assert.deepEqual([re.recovered, re.position.offset], [false, 10]);
    await t.hub.publish('tiny:x', 11);
    await until(() => b.pubs('tiny:x').length === 1, 'live');
    assert.deepEqual(offsets(b.pubs('tiny:x')), [11]);
  });

  it('loses and duplicates nothing at the seam when messages are published during resubscriptions (hammer)', async () => {
    const broker = new ShakyBroker();
    broker.delayMs = 4;
    t = await startHub({ broker, channels: { seam: { history: { size: 10_000, ttlMs: 600_000 } } } });
    const TOTAL = 600;
    const first = await RawHubClient.connected(t.url);
    let last: { offset: number; epoch: string } = (await first.subscribe('seam:x')).position;
    first.ws.terminate();
    let published = 0;
    const publisher = (async () => {
      while (published < TOTAL) {
        await t.hub.publish('seam:x', published + 1);
        published++;
        if (published % 3 === 0) await tick(0);
      }
    })();
    const received: number[] = [];
    let sessions = 0;
    while (published < TOTAL && sessions < 500) {
      sessions++;
      const c = await RawHubClient.connected(t.url);
      const reply = await c.subscribe('seam:x', last);
      assert.equal(reply.recovered, true, `session ${sessions} recovered`);
      // Read for a little while, then drop the connection without warning.
      await tick(1 + (sessions % 7));
      c.ws.terminate();
      await c.closed;
      const mine = c.pubs('seam:x');
      for (const m of mine) received.push(m.offset);
      if (mine.length > 0) last = { offset: mine[mine.length - 1]!.offset, epoch: mine[0]!.epoch };
    }
    await publisher;
    // A last session collects the rest.
    const c = await RawHubClient.connected(t.url);
    t.clients.push(c);
    const reply = await c.subscribe('seam:x', last);
    assert.equal(reply.recovered, true);
    await until(() => received.length + c.pubs('seam:x').length >= TOTAL, 'everything');
    for (const m of c.pubs('seam:x')) received.push(m.offset);
    assert.ok(sessions > 3, `only ${sessions} sessions`);
    assert.deepEqual(received, range(1, TOTAL));
  });

  it('fills offset gaps of the live stream from history (a broker that loses deliveries)', async () => {
    const broker = new ShakyBroker();
    broker.loseEvery = 4;
    t = await startHub({ broker });
    const a = await t.connect();
    const b = await t.connect();
    await a.subscribe('g:1');
    await b.subscribe('g:1');
    for (let i = 1; i <= 50; i++) await t.hub.publish('g:1', i);
    for (const c of [a, b]) {
      await until(() => c.pubs('g:1').length >= 50, '50 pubs');
      assert.deepEqual(offsets(c.pubs('g:1')), range(1, 50));
    }
  });

  it('a subscribe with since on a live subscription resyncs it (the client saw a gap)', async () => {
    t = await startHub();
    const a = await t.connect();
    const sub = await a.subscribe('rs:1');
    for (let i = 1; i <= 4; i++) await t.hub.publish('rs:1', i);
    await until(() => a.pubs('rs:1').length === 4, '4');
    const re = await a.subscribe('rs:1', { offset: 2, epoch: sub.position.epoch });
    assert.equal(re.recovered, true);
    await t.hub.publish('rs:1', 5);
    await until(() => a.pubs('rs:1').length === 7, 'replay and live');
    assert.deepEqual(offsets(a.pubs('rs:1')), [1, 2, 3, 4, 3, 4, 5]);
    assert.equal(t.hub.stats().subscriptions, 1);
  });

  it('a client coming from a process further along resumes on a lagging one without loss, duplicates or a false alarm', async () => {
    const front = memoryBroker();
    t = await startHub({ broker: front });
    const lagging = new ShakyBroker(memoryBroker({ backend: front.backend }));
    const other = await startHub({ broker: lagging });
    try {
      const watcher = await other.connect();
      await watcher.subscribe('lag:1');
      const a = await t.connect();
      const sub = await a.subscribe('lag:1');
      for (let i = 1; i <= 4; i++) await t.hub.publish('lag:1', i);
      lagging.loseEvery = 1; // the other process misses message 5 for now
      await t.hub.publish('lag:1', 5);
      lagging.loseEvery = 0;
      await until(() => a.pubs('lag:1').length === 5, 'five on the front process');
      a.ws.terminate();
      const b = await other.connect();
      const re = await b.subscribe('lag:1', { offset: 5, epoch: sub.position.epoch });
      assert.equal(re.recovered, true);
      await t.hub.publish('lag:1', 6);
      await until(() => b.pubs('lag:1').length >= 1, 'live on the other process');
      await other.hub.publish('lag:1', 7);
      await until(() => b.pubs('lag:1').length >= 2, 'more');
      assert.deepEqual(offsets(b.pubs('lag:1')), [6, 7]);
      assert.deepEqual(offsets(watcher.pubs('lag:1')), range(1, 7), 'the lagging process filled its gap');
    } finally {
      await other.stop();
    }
  });
});
