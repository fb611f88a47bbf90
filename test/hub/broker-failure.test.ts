import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { memoryBroker } from 'duplexjs/hub';
import { startHub, type TestHub, until } from '../helpers/hub-client.js';

describe('hub with a failing broker', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('answers with a retryable DUPLEX_HUB_BROKER_UNAVAILABLE while the broker is down, and works again after', async () => {
    const broker = memoryBroker();
    t = await startHub({ broker, authorize: () => true });
    const states: string[] = [];
    t.hub.on('broker', (state) => states.push(state));
    const c = await t.connect();
    await c.subscribe('live:1');
    broker.simulateOutage(true);
    const pub = await c.request({ type: 'publish', channel: 'live:1', data: 1 });
    assert.deepEqual([pub.type, pub.code, pub.retryable], ['error', 'DUPLEX_HUB_BROKER_UNAVAILABLE', true]);
    const sub = await c.request({ type: 'subscribe', channel: 'new:1' });
    assert.deepEqual([sub.code, sub.retryable], ['DUPLEX_HUB_BROKER_UNAVAILABLE', true]);
    const hist = await c.request({ type: 'history', channel: 'live:1' });
    assert.equal(hist.code, 'DUPLEX_HUB_BROKER_UNAVAILABLE');
    await assert.rejects(t.hub.publish('live:1', 1), {
      code: 'DUPLEX_HUB_BROKER_UNAVAILABLE',
      retryable: true,
    });
    broker.simulateOutage(false);
    assert.deepEqual(states, ['down', 'up']);
    assert.equal((await c.request({ type: 'publish', channel: 'live:1', data: 2 })).offset, 1);
    await c.subscribe('new:1');
    await until(() => c.pubs('live:1').length === 1, 'pub after the outage');
    assert.equal(c.pubs('live:1')[0]!.data, 2);
  });

  it('hub.disconnect closes a client with 4006', async () => {
    t = await startHub();
    let id = '';
    t.hub.on('connect', (client) => {
      id = client.id;
    });
    const c = await t.connect();
    assert.equal(t.hub.disconnect(id, 'bye'), true);
    assert.deepEqual(await c.closed, { code: 4006, reason: 'bye' });
    assert.equal(t.hub.disconnect('nobody'), false);
  });
});
