import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { memoryBroker } from 'duplexjs/hub';
import { RawHubClient, startHub, type TestHub, until } from '../helpers/hub-client.js';

const allowAll = () => true;

describe('hub channels', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('refuses a handshake that does not offer duplex.v1 (HTTP 400)', async () => {
    t = await startHub();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(t.url.replace('ws:', 'http:'), {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Protocol': 'chat',
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => resolve(101));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 400);
  });

  it('answers requests before connect with DUPLEX_HUB_NOT_CONNECTED, then connects', async () => {
    t = await startHub();
    const c = await RawHubClient.open(t.url);
    t.clients.push(c);
    assert.equal(c.ws.protocol, 'duplex.v1');
    const early = await c.request({ type: 'subscribe', channel: 'a' });
    assert.deepEqual([early.type, early.code], ['error', 'DUPLEX_HUB_NOT_CONNECTED']);
    const connected = await c.request({ type: 'connect', name: 'test' });
    assert.equal(connected.type, 'connected');
    assert.equal(connected.user, '');
    assert.equal(typeof connected.client, 'string');
    assert.deepEqual(connected.limits, { maxMessageBytes: 65_536, maxSubscriptions: 128 });
    assert.equal(connected.expiresIn, undefined);
    const again = await c.request({ type: 'connect' });
    assert.equal(again.code, 'DUPLEX_HUB_BAD_REQUEST');
  });

  it('delivers client publishes to subscribers with consecutive offsets, and stops after unsubscribe', async () => {
    t = await startHub({ authorize: allowAll });
    const a = await t.connect();
    const b = await t.connect();
    const sub = await a.subscribe('chat:lobby');
    assert.equal(sub.recovered, false);
    assert.equal(sub.position.offset, 0);
    for (let i = 1; i <= 5; i++) {
      const ack = await b.request({ type: 'publish', channel: 'chat:lobby', data: { i } });
      assert.deepEqual(
        [ack.type, ack.channel, ack.offset, ack.epoch],
        ['published', 'chat:lobby', i, sub.position.epoch],
      );
    }
    await until(() => a.pubs('chat:lobby').length === 5, '5 pubs');
    assert.deepEqual(
      a.pubs('chat:lobby').map((m) => [m.offset, m.data.i, m.epoch]),
      [1, 2, 3, 4, 5].map((i) => [i, i, sub.position.epoch]),
    );
    assert.equal(b.pubs('chat:lobby').length, 0, 'a publisher that is not subscribed gets no pub');
    const un = await a.request({ type: 'unsubscribe', channel: 'chat:lobby' });
    assert.equal(un.type, 'unsubscribed');
    await b.request({ type: 'publish', channel: 'chat:lobby', data: 'after' });
    const marker = await a.subscribe('chat:other');
    assert.ok(marker);
    assert.equal(a.pubs('chat:lobby').length, 5);
    const twice = await a.request({ type: 'unsubscribe', channel: 'chat:lobby' });
    assert.equal(twice.code, 'DUPLEX_HUB_NOT_SUBSCRIBED');
  });

  it('holds many subscriptions per connection and refuses a second subscribe to one channel', async () => {
    t = await startHub();
    const a = await t.connect();
    for (let i = 0; i < 20; i++) await a.subscribe(`n:${i}`);
    const dup = await a.request({ type: 'subscribe', channel: 'n:3' });
    assert.equal(dup.code, 'DUPLEX_HUB_ALREADY_SUBSCRIBED');
    for (let i = 0; i < 20; i++) await t.hub.publish(`n:${i}`, i);
    await until(() => a.log.filter((m) => m.type === 'pub').length === 20, '20 pubs');
    for (let i = 0; i < 20; i++)
      assert.deepEqual(
        a.pubs(`n:${i}`).map((m) => m.data),
        [i],
      );
    assert.equal(t.hub.stats().subscriptions, 20);
  });

  it('hub.publish sends to every subscriber and resolves with the position; no from', async () => {
    t = await startHub();
    const clients = await Promise.all([t.connect(), t.connect(), t.connect()]);
    for (const c of clients) await c.subscribe('prices:ACME');
    const pos = await t.hub.publish('prices:ACME', { price: 12.5 });
    assert.equal(pos.offset, 1);
    assert.equal(typeof pos.epoch, 'string');
    for (const c of clients) {
      const [m] = await c.waitFor((m) => m.type === 'pub', 'pub').then(() => c.pubs('prices:ACME'));
      assert.deepEqual([m!.data, m!.offset, m!.epoch, 'from' in m!], [{ price: 12.5 }, 1, pos.epoch, false]);
    }
    await assert.rejects(t.hub.publish('', 1), TypeError);
    await assert.rejects(t.hub.publish('x', 1n as never), TypeError);
  });

  it('without authorize, clients may subscribe but not publish', async () => {
    t = await startHub();
    const a = await t.connect();
    await a.subscribe('news');
    const refused = await a.request({ type: 'publish', channel: 'news', data: 1 });
    assert.deepEqual(
      [refused.type, refused.code, refused.retryable],
      ['error', 'DUPLEX_HUB_FORBIDDEN', false],
    );
    assert.equal(t.hub.stats().publications, 0);
  });

  it('carries binary messages as a header then a binary frame, both ways, with from', async () => {
    t = await startHub({
      authorize: allowAll,
      authenticate: ({ token }) => ({ user: token ?? 'anon' }),
    });
    const a = await t.connect('alice');
    const b = await t.connect('bob');
    await b.subscribe('bin');
    const payload = Buffer.from([0, 1, 2, 255]);
    const ack = await a.request({ type: 'publish', channel: 'bin', binary: true }, payload);
    assert.equal(ack.type, 'published');
    await t.hub.publish('bin', new Uint8Array([9, 8]));
    await until(() => b.pubs('bin').length === 2 && b.pubs('bin').every((m) => m.payload), 'binary pubs');
    const [first, second] = b.pubs('bin');
    assert.deepEqual(
      [first!.binary, first!.data, first!.from, [...first!.payload!]],
      [true, undefined, 'alice', [0, 1, 2, 255]],
    );
    assert.deepEqual([...second!.payload!], [9, 8]);
    const history = await b.request({ type: 'history', channel: 'bin' });
    assert.deepEqual(
      history.publications.map((p: { payload: Buffer }) => [...p.payload]),
      [
        [0, 1, 2, 255],
        [9, 8],
      ],
    );
    assert.equal(b.log.filter((m) => m.type === '<unannounced binary>').length, 0);
  });

  it('bounds history by count and by age (injected clock), oldest first, with limit and reverse', async () => {
    let now = 5_000_000;
    const clock = () => now;
    t = await startHub({
      clock,
      broker: memoryBroker({ clock }),
      channels: { short: { history: { size: 3, ttlMs: 1_000 } } },
    });
    const a = await t.connect();
    for (let i = 1; i <= 5; i++) await t.hub.publish('short:x', i);
    let h = await a.request({ type: 'history', channel: 'short:x' });
    assert.deepEqual(
      h.publications.map((p: { data: number }) => p.data),
      [3, 4, 5],
    );
    assert.equal(h.position.offset, 5);
    h = await a.request({ type: 'history', channel: 'short:x', limit: 2, reverse: true });
    assert.deepEqual(
      h.publications.map((p: { offset: number }) => p.offset),
      [5, 4],
    );
    h = await a.request({
      type: 'history',
      channel: 'short:x',
      since: { offset: 3, epoch: h.position.epoch },
    });
    assert.deepEqual(
      h.publications.map((p: { offset: number }) => p.offset),
      [4, 5],
    );
    now += 1_000;
    h = await a.request({ type: 'history', channel: 'short:x' });
    assert.deepEqual(h.publications, []);
    const bad = await a.request({ type: 'history', channel: 'short:x', limit: -1 });
    assert.equal(bad.code, 'DUPLEX_HUB_BAD_REQUEST');
  });

  it('two hubs on one broker backend act as one hub', async () => {
    const broker = memoryBroker();
    t = await startHub({ broker, authorize: allowAll });
    const other = await startHub({ broker: memoryBroker({ backend: broker.backend }), authorize: allowAll });
    try {
      const a = await t.connect();
      const b = await other.connect();
      await a.subscribe('x:1');
      await b.subscribe('x:1');
      await b.request({ type: 'publish', channel: 'x:1', data: 'from b' });
      await t.hub.publish('x:1', 'from hub a');
      for (const c of [a, b]) {
        await until(() => c.pubs('x:1').length === 2, 'both pubs');
        assert.deepEqual(
          c.pubs('x:1').map((m) => [m.offset, m.data]),
          [
            [1, 'from b'],
            [2, 'from hub a'],
          ],
        );
      }
    } finally {
      await other.stop();
    }
  });
});

describe('hub fan-out', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('serializes and frames each pub once for all subscribers (one PreparedMessage)', async () => {
    t = await startHub();
    const clients = await Promise.all(Array.from({ length: 5 }, () => t.connect()));
    for (const c of clients) await c.subscribe('fan:1');
    const prepared: unknown[] = [];
    const texts: unknown[] = [];
    const { sendPrepared, send } = WebSocket.prototype;
    WebSocket.prototype.sendPrepared = function (this: WebSocket, message) {
      prepared.push(message);
      return sendPrepared.call(this, message);
    };
    WebSocket.prototype.send = function (this: WebSocket, data) {
      texts.push(data);
      return send.call(this, data);
    };
    try {
      await t.hub.publish('fan:1', { n: 1 });
    } finally {
      WebSocket.prototype.sendPrepared = sendPrepared;
      WebSocket.prototype.send = send;
    }
    for (const c of clients) await until(() => c.pubs('fan:1').length === 1, 'pub');
    assert.equal(prepared.length, 5);
    assert.ok(
      prepared.every((m) => m === prepared[0]),
      'the same prepared frame for every recipient',
    );
    assert.equal(texts.length, 0, 'no per-recipient send');
  });
});
