// HubClient's requests: publish and its idempotent resend after a drop, the bounded offline
// queue and its overflow, calls with timeouts and AbortSignal (cancel sent), in-flight calls
// rejected on a drop, error replies as HubClientError, binary publishes.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { type HubClient, HubClientError } from 'duplexjs/client';
import { FakeClock, type ScriptedHub, startScriptedHub } from '../helpers/scripted-hub.js';
import { newClient, outcome, stateReached, turns } from './support.js';

let hub: ScriptedHub | undefined;
let client: HubClient<unknown> | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await hub?.close();
  hub = undefined;
});

async function openClient(options: Parameters<typeof newClient>[1] = {}) {
  hub = await startScriptedHub();
  client = newClient(hub.url, options);
  const conn = await hub.accept();
  await conn.handshake();
  await stateReached(client, 'open');
  return conn;
}

function codeOf(result: { error?: unknown }): string | undefined {
  return result.error instanceof HubClientError ? result.error.code : `not a HubClientError: ${result.error}`;
}

describe('HubClient requests', () => {
  it('publish resolves with the stored position and carries an automatic idempotency key', async () => {
    const conn = await openClient();
    const first = client!.publish('chat:lobby', { text: 'hi' });
    const second = client!.publish('chat:lobby', { text: 'again' });
    const a = await conn.expect('publish');
    const b = await conn.expect('publish');
    assert.deepEqual(
      { ...a, idempotencyKey: '' },
      {
        type: 'publish',
        id: 2,
        channel: 'chat:lobby',
        data: { text: 'hi' },
        idempotencyKey: '',
      },
    );
    assert.equal(typeof a.idempotencyKey, 'string');
    assert.ok(a.idempotencyKey.length > 8);
    assert.notEqual(a.idempotencyKey, b.idempotencyKey);
    conn.send({ type: 'published', id: b.id, channel: 'chat:lobby', offset: 8, epoch: 'e1' });
    conn.send({ type: 'published', id: a.id, channel: 'chat:lobby', offset: 7, epoch: 'e1' });
    assert.deepEqual(await first, { offset: 7, epoch: 'e1' });
    assert.deepEqual(await second, { offset: 8, epoch: 'e1' });
  });

  it('resends an in-flight publish after a reconnect with the same idempotency key', async () => {
    const conn = await openClient();
    const published = client!.publish('chat:lobby', { text: 'once' }, { conflationKey: 'k' });
    const sent = await conn.expect('publish');
    conn.terminate();
    const next = await hub!.accept();
    await next.handshake();
    const resent = await next.expect('publish');
    assert.equal(resent.idempotencyKey, sent.idempotencyKey);
    assert.equal(resent.conflationKey, 'k');
    assert.deepEqual(resent.data, { text: 'once' });
    next.send({ type: 'published', id: resent.id, channel: 'chat:lobby', offset: 1, epoch: 'e1' });
    assert.deepEqual(await published, { offset: 1, epoch: 'e1' });
  });

  it('queues requests made while not open and sends them in order once connected', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const a = client.publish('x', 1);
    const c = client.call('echo', { a: 1 });
    const conn = await hub.accept();
    await conn.handshake();
    const first = await conn.expect('publish');
    const second = await conn.expect('call');
    assert.equal(first.data, 1);
    assert.deepEqual(second.params, { a: 1 });
    conn.send({ type: 'published', id: first.id, channel: 'x', offset: 1, epoch: 'e' });
    conn.send({ type: 'result', id: second.id, result: { a: 1 } });
    assert.deepEqual(await a, { offset: 1, epoch: 'e' });
    assert.deepEqual(await c, { a: 1 });
  });

  it('rejects with DUPLEX_HUB_OFFLINE_QUEUE_FULL beyond the count bound, and beyond the byte bound', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url, { offlineQueue: { maxCount: 2, maxBytes: 200 } });
    const kept = [client.publish('x', 1), client.publish('x', 2)];
    const third = await outcome(client.publish('x', 3));
    assert.equal(codeOf(third), 'DUPLEX_HUB_OFFLINE_QUEUE_FULL');
    assert.equal((third.error as HubClientError).retryable, true);

    const small = newClient(hub.url, { offlineQueue: { maxCount: 100, maxBytes: 200 } });
    const big = await outcome(small.publish('x', 'y'.repeat(300)));
    assert.equal(codeOf(big), 'DUPLEX_HUB_OFFLINE_QUEUE_FULL');
    const fits = small.publish('x', 'y'.repeat(20));
    small.close();
    assert.equal(codeOf(await outcome(fits)), 'DUPLEX_HUB_CLOSED');

    const conn = await hub.accept();
    await conn.handshake();
    const sent = [await conn.expect('publish'), await conn.expect('publish')];
    assert.deepEqual(
      sent.map((m) => m.data),
      [1, 2],
    );
    for (const m of sent)
      conn.send({ type: 'published', id: m.id, channel: 'x', offset: m.data, epoch: 'e' });
    await Promise.all(kept);
    await turns();
    assert.equal(conn.pending.length, 0, 'the refused publish was never sent');
  });

  it('rejects a call with DUPLEX_HUB_TIMEOUT at its deadline and sends cancel', async () => {
    const clock = new FakeClock();
    const conn = await openClient({ clock });
    const call = outcome(client!.call('slow', { n: 1 }, { timeoutMs: 5_000 }));
    const sent = await conn.expect('call');
    assert.deepEqual(sent, { type: 'call', id: 2, method: 'slow', params: { n: 1 }, timeoutMs: 5_000 });
    clock.fire(await clock.waitForTimer('call timeout', (t) => t.ms === 5_000));
    const result = await call;
    assert.equal(codeOf(result), 'DUPLEX_HUB_TIMEOUT');
    assert.equal((result.error as HubClientError).retryable, true);
    assert.deepEqual(await conn.expect('cancel'), { type: 'cancel', id: sent.id });
    conn.send({ type: 'result', id: sent.id, result: 'late' }); // ignored
    await turns();
  });

  it('rejects with DUPLEX_HUB_ABORTED when the signal fires, and cancels a call in flight', async () => {
    const conn = await openClient();
    const controller = new AbortController();
    const call = outcome(client!.call('slow', undefined, { signal: controller.signal }));
    const sent = await conn.expect('call');
    assert.equal('params' in sent, false);
    controller.abort(new Error('user left'));
    const result = await call;
    assert.equal(codeOf(result), 'DUPLEX_HUB_ABORTED');
    assert.equal(((result.error as HubClientError).cause as Error).message, 'user left');
    assert.deepEqual(await conn.expect('cancel'), { type: 'cancel', id: sent.id });

    const already = await outcome(client!.call('x', 1, { signal: AbortSignal.abort() }));
    assert.equal(codeOf(already), 'DUPLEX_HUB_ABORTED');
  });

  it('an aborted request still in the offline queue is never sent', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const controller = new AbortController();
    const dropped = outcome(client.publish('x', 'dropped', { signal: controller.signal }));
    const kept = client.publish('x', 'kept');
    controller.abort();
    assert.equal(codeOf(await dropped), 'DUPLEX_HUB_ABORTED');
    const conn = await hub.accept();
    await conn.handshake();
    const sent = await conn.expect('publish');
    assert.equal(sent.data, 'kept');
    conn.send({ type: 'published', id: sent.id, channel: 'x', offset: 1, epoch: 'e' });
    await kept;
  });

  it('rejects an in-flight call with DUPLEX_HUB_DISCONNECTED on a drop and does not resend it', async () => {
    const conn = await openClient();
    const call = outcome(client!.call('charge', { cents: 100 }));
    await conn.expect('call');
    conn.terminate();
    const result = await call;
    assert.equal(codeOf(result), 'DUPLEX_HUB_DISCONNECTED');
    assert.equal((result.error as HubClientError).retryable, true);
    const next = await hub!.accept();
    await next.handshake();
    await stateReached(client!, 'open');
    const marker = client!.publish('after', 1);
    assert.equal((await next.expect('publish')).channel, 'after', 'the call was not sent again');
    marker.catch(() => {});
  });

  it("rejects with the hub's error code and retryable flag", async () => {
    const conn = await openClient();
    const forbidden = outcome(client!.publish('secret', 1));
    const busy = outcome(client!.call('echo', 1));
    const p = await conn.expect('publish');
    const c = await conn.expect('call');
    conn.send({
      type: 'error',
      id: p.id,
      code: 'DUPLEX_HUB_FORBIDDEN',
      message: 'not yours',
      retryable: false,
    });
    conn.send({
      type: 'error',
      id: c.id,
      code: 'DUPLEX_HUB_BROKER_UNAVAILABLE',
      message: 'down',
      retryable: true,
    });
    const f = (await forbidden).error as HubClientError;
    assert.ok(f instanceof HubClientError);
    assert.deepEqual([f.code, f.retryable, f.message], ['DUPLEX_HUB_FORBIDDEN', false, 'not yours']);
    const b = (await busy).error as HubClientError;
    assert.deepEqual([b.code, b.retryable], ['DUPLEX_HUB_BROKER_UNAVAILABLE', true]);
  });

  it('publishes binary data as an announced publish followed by its binary frame', async () => {
    const conn = await openClient();
    const published = client!.publish('files', new Uint8Array([1, 2, 3]));
    const message = await conn.expect('publish');
    assert.equal(message.binary, true);
    assert.equal('data' in message, false);
    const frame = await conn.next();
    assert.equal(frame.type, '<binary>');
    assert.deepEqual([...(frame as { bytes: Uint8Array }).bytes], [1, 2, 3]);
    conn.send({ type: 'published', id: message.id, channel: 'files', offset: 1, epoch: 'e' });
    await published;

    const buffer = new Uint8Array([7, 8]).buffer;
    const fromArrayBuffer = client!.publish('files', buffer);
    const m2 = await conn.expect('publish');
    assert.deepEqual([...((await conn.next()) as { bytes: Uint8Array }).bytes], [7, 8]);
    conn.send({ type: 'published', id: m2.id, channel: 'files', offset: 2, epoch: 'e' });
    await fromArrayBuffer;
  });

  it('close() rejects queued and in-flight requests with DUPLEX_HUB_CLOSED and closes with 1000', async () => {
    const conn = await openClient();
    const inflight = outcome(client!.call('x'));
    await conn.expect('call');
    client!.close();
    assert.equal(codeOf(await inflight), 'DUPLEX_HUB_CLOSED');
    assert.equal((await conn.closed).code, 1000);
    assert.throws(() => client!.subscribe('y'), { code: 'DUPLEX_HUB_CLOSED' });
  });

  it("refuses a request over the hub's maxMessageBytes with DUPLEX_HUB_TOO_LARGE without sending it", async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const queued = outcome(client.publish('x', 'q'.repeat(200)));
    const conn = await hub.accept();
    await conn.handshake({ limits: { maxMessageBytes: 150, maxSubscriptions: 10 } });
    await stateReached(client, 'open');
    assert.equal(codeOf(await queued), 'DUPLEX_HUB_TOO_LARGE');
    const direct = await outcome(client.publish('x', new Uint8Array(151)));
    assert.equal(codeOf(direct), 'DUPLEX_HUB_TOO_LARGE');
    assert.equal((direct.error as HubClientError).retryable, false);
    const fits = client.publish('x', 'small');
    const sent = await conn.expect('publish');
    assert.equal(sent.data, 'small', 'the refused ones were never sent');
    conn.send({ type: 'published', id: sent.id, channel: 'x', offset: 1, epoch: 'e' });
    await fits;
  });

  it('sends a presence or history request in flight at a drop again after the reconnect', async () => {
    const conn = await openClient();
    const presence = client!.presence('room');
    const first = await conn.expect('presence');
    conn.terminate();
    const next = await hub!.accept();
    await next.handshake();
    const again = await next.expect('presence');
    assert.equal(again.channel, 'room');
    next.send({ type: 'presence', id: again.id, channel: 'room', members: [] });
    assert.deepEqual(await presence, []);
    assert.equal(first.channel, 'room');
  });
});
