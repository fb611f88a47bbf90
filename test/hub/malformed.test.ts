import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RawHubClient, startHub, type TestHub } from '../helpers/hub-client.js';

/** Messages that break the protocol's framing rules: each closes its connection with 1008. */
const VIOLATIONS: Array<[string, string | Buffer]> = [
  ['bad JSON', '{"type":"subscribe",'],
  ['not an object', '[1,2,3]'],
  ['a string', '"connect"'],
  ['null', 'null'],
  ['no type', '{"id":1}'],
  ['a number type', '{"type":7,"id":1}'],
  ['unknown type', '{"type":"explode","id":1}'],
  ['an unannounced binary frame', Buffer.from([1, 2, 3])],
  ['deep nesting in JSON', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
];

/** Known messages with bad fields: each gets a DUPLEX_HUB_BAD_REQUEST error, and the connection stays. */
const BAD_REQUESTS: Array<Record<string, unknown>> = [
  { type: 'subscribe', id: 0, channel: 'a' },
  { type: 'subscribe', id: -1, channel: 'a' },
  { type: 'subscribe', id: 1.5, channel: 'a' },
  { type: 'subscribe', id: '7', channel: 'a' },
  { type: 'subscribe', id: 9, channel: '' },
  { type: 'subscribe', id: 9, channel: 42 },
  { type: 'subscribe', id: 9, channel: 'x'.repeat(300) },
  { type: 'subscribe', id: 9, channel: 'a\nb' },
  { type: 'subscribe', id: 9, channel: 'a', since: 'yesterday' },
  { type: 'subscribe', id: 9, channel: 'a', since: { offset: -1, epoch: 'e' } },
  { type: 'subscribe', id: 9, channel: 'a', since: { offset: 1, epoch: 3 } },
  { type: 'publish', id: 9, channel: 'a', binary: 'yes' },
  { type: 'publish', id: 9, channel: 'a', idempotencyKey: 'k'.repeat(500) },
  { type: 'publish', id: 9, channel: 'a', data: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`) },
  { type: 'history', id: 9, channel: 'a', limit: 'all' },
  { type: 'history', id: 9, channel: 'a', reverse: 1 },
  { type: 'call', id: 9, method: '' },
  { type: 'call', id: 9, method: 'echo', timeoutMs: -5 },
  { type: 'refresh', id: 9 },
  { type: 'connect', id: 9, token: 42 },
];

describe('hub with malformed input', () => {
  let t: TestHub;
  before(async () => {
    t = await startHub({ authorize: () => true, limits: { maxMessageBytes: 512 * 1024 } });
    t.hub.method('echo', (params) => params);
  });
  after(() => t.stop());

  for (const [name, message] of VIOLATIONS) {
    it(`closes with 1008 on ${name}`, async () => {
      const c = await t.connect();
      c.send(message);
      assert.equal((await c.closed).code, 1008);
    });
  }

  it('answers each bad field with DUPLEX_HUB_BAD_REQUEST and keeps the connection', async () => {
    const c = await t.connect();
    for (const message of BAD_REQUESTS) {
      const before = c.log.length;
      c.send(message);
      const reply = await c.waitFor(
        (m) => c.log.indexOf(m) >= before && m.type === 'error',
        JSON.stringify(message),
      );
      assert.equal(reply.code, 'DUPLEX_HUB_BAD_REQUEST', JSON.stringify(message));
      if (typeof message.id === 'number' && message.id > 0 && Number.isInteger(message.id))
        assert.equal(reply.id, 9);
    }
    assert.equal(c.closeInfo, undefined);
    assert.equal(
      (await c.request({ type: 'call', method: 'echo', params: 'still here' })).result,
      'still here',
    );
  });

  it('survives a bounded storm of random messages, and then serves a fresh client', async () => {
    const types = [
      'connect',
      'subscribe',
      'publish',
      'history',
      'presence',
      'call',
      'cancel',
      'refresh',
      'pong',
    ];
    const values = [
      null,
      true,
      -1,
      0,
      2 ** 60,
      'x',
      '',
      [],
      {},
      { offset: 1, epoch: 'e' },
      'a:b',
      'k'.repeat(1000),
    ];
    const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)]!;
    for (let round = 0; round < 10; round++) {
      const c = await t.connect();
      for (let i = 0; i < 40 && c.closeInfo === undefined; i++) {
        const message: Record<string, unknown> = { type: pick(types) };
        for (const field of [
          'id',
          'channel',
          'data',
          'since',
          'limit',
          'method',
          'params',
          'token',
          'binary',
        ]) {
          if (Math.random() < 0.5) message[field] = pick(values);
        }
        if (Math.random() < 0.1) c.send(randomBytes(20).toString('latin1'));
        else c.send(message);
      }
      c.ws.terminate();
      await c.closed;
    }
    const fresh = await t.connect();
    await fresh.subscribe('after:storm');
    await t.hub.publish('after:storm', 'ok');
    await fresh.waitFor((m) => m.type === 'pub', 'pub after the storm');
  });

  it('rejects huge values: a message far over the limit closes with 1009', async () => {
    const c = await RawHubClient.connected(t.url);
    c.send({ type: 'publish', id: 1, channel: 'a', data: 'z'.repeat(3 * 1024 * 1024) });
    assert.equal((await c.closed).code, 1009);
  });
});
