import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { HubError } from 'duplexjs/hub';
import { startHub, type TestHub, until } from '../helpers/hub-client.js';

/** waitAbort resolves with the signal's reason once it fires. */
function waitAbort(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

describe('hub RPC', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('returns results and maps errors to stable codes without leaking internals', async () => {
    t = await startHub();
    const errors: unknown[] = [];
    t.hub.on('error', (e) => errors.push(e));
    t.hub.method('echo', async (params) => params);
    t.hub.method('who', (_params, { client }) => ({ id: client.id, user: client.user }));
    t.hub.method('nothing', () => undefined);
    t.hub.method('forbidden', () => {
      throw new HubError('DUPLEX_HUB_FORBIDDEN', 'not for you');
    });
    t.hub.method('broken', async () => {
      throw new Error('database password is hunter2');
    });
    t.hub.method('bigint', () => 1n);
    const c = await t.connect();
    assert.deepEqual(await c.request({ type: 'call', method: 'echo', params: { a: [1, 'x'] } }), {
      type: 'result',
      id: 2,
      result: { a: [1, 'x'] },
    });
    const who = await c.request({ type: 'call', method: 'who' });
    assert.equal(who.result.user, '');
    assert.equal(typeof who.result.id, 'string');
    assert.deepEqual(await c.request({ type: 'call', method: 'nothing' }), { type: 'result', id: 4 });
    const forbidden = await c.request({ type: 'call', method: 'forbidden' });
    assert.deepEqual(
      [forbidden.type, forbidden.code, forbidden.message],
      ['error', 'DUPLEX_HUB_FORBIDDEN', 'not for you'],
    );
    const broken = await c.request({ type: 'call', method: 'broken' });
    assert.equal(broken.code, 'DUPLEX_HUB_INTERNAL');
    assert.ok(!JSON.stringify(broken).includes('hunter2'));
    assert.equal((await c.request({ type: 'call', method: 'bigint' })).code, 'DUPLEX_HUB_INTERNAL');
    assert.equal((await c.request({ type: 'call', method: 'nope' })).code, 'DUPLEX_HUB_METHOD_NOT_FOUND');
    assert.equal(errors.length, 2, 'internal failures are reported to the server');
  });

  it('times out at the caller timeoutMs (and at the hub limit), firing the handler signal', async () => {
    t = await startHub({ limits: { callTimeoutMs: 200 } });
    const reasons: unknown[] = [];
    t.hub.method('hang', async (_p, { signal }) => {
      reasons.push(await waitAbort(signal));
      return 'too late';
    });
    const c = await t.connect();
    const short = await c.request({ type: 'call', method: 'hang', timeoutMs: 20 });
    assert.deepEqual([short.code, short.retryable], ['DUPLEX_HUB_TIMEOUT', true]);
    const capped = await c.request({ type: 'call', method: 'hang', timeoutMs: 60_000 });
    assert.equal(capped.code, 'DUPLEX_HUB_TIMEOUT');
    await until(() => reasons.length === 2, 'signals');
    assert.equal((reasons[0] as HubError).code, 'DUPLEX_HUB_TIMEOUT');
    assert.equal(c.log.filter((m) => m.type === 'result').length, 0, 'no result after the timeout');
  });

  it('cancel fires the signal and sends no reply; a disconnect fires the signals of pending calls', async () => {
    t = await startHub();
    const reasons: unknown[] = [];
    let started = 0;
    t.hub.method('wait', async (_p, { signal }) => {
      started++;
      reasons.push(await waitAbort(signal));
    });
    const c = await t.connect();
    const id = c.id();
    c.send({ type: 'call', id, method: 'wait' });
    await until(() => started === 1, 'started');
    c.send({ type: 'cancel', id });
    await until(() => reasons.length === 1, 'cancelled');
    assert.equal((reasons[0] as HubError).code, 'DUPLEX_HUB_CANCELLED');
    const echo = await c.request({ type: 'call', method: 'missing' });
    assert.equal(echo.code, 'DUPLEX_HUB_METHOD_NOT_FOUND');
    assert.equal(c.log.filter((m) => m.id === id).length, 0, 'no reply to a cancelled call');

    c.send({ type: 'call', id: c.id(), method: 'wait' });
    c.send({ type: 'call', id: c.id(), method: 'wait' });
    await until(() => started === 3, 'two more started');
    c.ws.terminate();
    await until(() => reasons.length === 3, 'disconnect aborts');
    assert.ok(reasons.slice(1).every((r) => (r as HubError).code === 'DUPLEX_HUB_CANCELLED'));
  });

  it('bounds calls in flight per connection', async () => {
    t = await startHub({ limits: { maxCallsInFlight: 2 } });
    t.hub.method('wait', (_p, { signal }) => waitAbort(signal));
    const c = await t.connect();
    c.send({ type: 'call', id: c.id(), method: 'wait' });
    c.send({ type: 'call', id: c.id(), method: 'wait' });
    const third = await c.request({ type: 'call', method: 'wait' });
    assert.deepEqual([third.code, third.retryable], ['DUPLEX_HUB_RATE_LIMITED', true]);
  });
});
