/**
 * Cases the hub fuzzer (fuzz-protocol.test.ts) turned up, pinned as plain tests. None was a
 * bug in the hub: each is documented behaviour the fuzzer's first model of docs/protocol.md
 * got wrong, kept here so that the behaviour stays what the docs say.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawHubClient, startHub, type TestHub } from '../helpers/hub-client.js';

describe('hub: what the fuzzer found', () => {
  let t: TestHub;
  before(async () => {
    t = await startHub({ limits: { maxMessageBytes: 1024, callTimeoutMs: 200 } });
    t.hub.method(
      'slow',
      (_p, { signal }) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
  });
  after(() => t.stop());

  it('a pong over maxMessageBytes gets DUPLEX_HUB_TOO_LARGE without an id, and the connection stays', async () => {
    const c = await t.connect();
    c.send({ type: 'pong', padding: 'p'.repeat(2000) });
    const error = await c.waitFor((m) => m.type === 'error', 'the error');
    assert.equal(error.code, 'DUPLEX_HUB_TOO_LARGE');
    assert.equal(error.id, undefined);
    assert.equal((await c.request({ type: 'presence', channel: 'a' })).type, 'presence');
  });

  it('a malformed request before connect gets DUPLEX_HUB_BAD_REQUEST (its fields are checked first), not NOT_CONNECTED', async () => {
    const c = await RawHubClient.open(t.url);
    t.clients.push(c);
    c.send({ type: 'history', id: 5 });
    const error = await c.waitFor((m) => m.id === 5, 'the error');
    assert.equal(error.code, 'DUPLEX_HUB_BAD_REQUEST');
    c.send({ type: 'history', id: 6, channel: 'a' });
    assert.equal((await c.waitFor((m) => m.id === 6, 'the error')).code, 'DUPLEX_HUB_NOT_CONNECTED');
  });

  it('a cancel over maxMessageBytes is refused with the call id (DUPLEX_HUB_TOO_LARGE) and does not cancel the call', async () => {
    const c = await t.connect();
    const id = c.id();
    c.send({ type: 'call', id, method: 'slow' });
    c.send({ type: 'cancel', id, padding: 'p'.repeat(2000) });
    await c.waitFor((m) => m.id === id && m.code === 'DUPLEX_HUB_TOO_LARGE', 'the refused cancel');
    // The call runs on to its deadline: its own reply comes too.
    await c.waitFor((m) => m.id === id && m.code === 'DUPLEX_HUB_TIMEOUT', 'the call timing out');
  });
});
