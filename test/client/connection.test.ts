// HubClient's connection: connect and its token, reconnect with backoff (exact delays through
// an injected clock and random), the close codes that stop it, the 1012 retry hint, ping/pong
// and dead-connection detection, token refresh, and the order of state events.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { type HubClient, HubClientError, type HubClientState } from 'duplexjs/client';
import { FakeClock, type ScriptedHub, startScriptedHub, waitFor } from '../helpers/scripted-hub.js';
import { newClient, outcome, stateReached } from './support.js';

let hub: ScriptedHub | undefined;
let client: HubClient<unknown> | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await hub?.close();
  hub = undefined;
});

/** Reconnect timers are the ones below the connect timeout (10 s) in these tests. */
const isReconnect = (timer: { ms: number }) => timer.ms < 10_000;

describe('HubClient connection', () => {
  it('sends connect first, with a string token, its name and version, and opens on connected', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url, { token: 'T1', name: 'test-app', version: '1.2' });
    const conn = await hub.accept();
    assert.equal(conn.socket.protocol, 'duplex.v1');
    const connect = await conn.handshake({ client: 'c9', user: 'bob' });
    assert.deepEqual(connect, { type: 'connect', id: 1, token: 'T1', name: 'test-app', version: '1.2' });
    await stateReached(client, 'open');
    assert.deepEqual(client.session, { client: 'c9', user: 'bob' });
  });

  it('calls a token function for every connection', async () => {
    hub = await startScriptedHub();
    let calls = 0;
    client = newClient(hub.url, { token: async () => `tok-${++calls}` });
    const first = await hub.accept();
    assert.equal((await first.handshake()).token, 'tok-1');
    await stateReached(client, 'open');
    first.terminate();
    const second = await hub.accept();
    assert.equal((await second.handshake()).token, 'tok-2');
    await stateReached(client, 'open');
  });

  it('emits state events in order: connecting, open, reconnecting, open, closed', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const states: HubClientState[] = [];
    client.on('state', (s) => states.push(s));
    const first = await hub.accept();
    await first.handshake();
    await stateReached(client, 'open');
    first.close(1001);
    await stateReached(client, 'reconnecting');
    const second = await hub.accept();
    await second.handshake();
    await stateReached(client, 'open');
    client.close();
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open', 'closed']);
    assert.equal((await second.closed).code, 1000);
  });

  it('on() returns a function that removes the listener', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const seen: HubClientState[] = [];
    const off = client.on('state', (s) => seen.push(s));
    off();
    off();
    const conn = await hub.accept();
    await conn.handshake();
    await stateReached(client, 'open');
    assert.deepEqual(seen, []);
  });

  it('waits a full-jitter exponential backoff between attempts, capped, and starts over once connected', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, random: () => 0.5, backoff: { baseMs: 100, maxMs: 1_000 } });
    const first = await hub.accept();
    await first.handshake();
    await stateReached(client, 'open');
    first.close(1001);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const timer = await clock.waitForTimer('reconnect', isReconnect);
      delays.push(timer.ms);
      clock.fire(timer);
      const conn = await hub.accept();
      await conn.expect('connect'); // never answered: the attempt fails
      conn.close(1001);
    }
    // 0.5 * min(1000, 100 * 2^n)
    assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
    const timer = await clock.waitForTimer('reconnect', isReconnect);
    clock.fire(timer);
    const good = await hub.accept();
    await good.handshake();
    await stateReached(client, 'open');
    good.close(1001);
    assert.equal((await clock.waitForTimer('reconnect after a success', isReconnect)).ms, 50);
  });

  it('honours a 1012 retry hint with jitter (between the hint and twice it)', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, random: () => 0.25, backoff: { baseMs: 100, maxMs: 1_000 } });
    const conn = await hub.accept();
    await conn.handshake();
    await stateReached(client, 'open');
    conn.close(1012, JSON.stringify({ retryAfterMs: 2_000 }));
    const timer = await clock.waitForTimer('reconnect', (t) => t.ms !== 10_000 && t.ms !== 50_000);
    assert.equal(timer.ms, 2_500);
    clock.fire(timer);
    await (await hub.accept()).handshake();
    await stateReached(client, 'open');
  });

  for (const code of [4001, 4006]) {
    it(`stops for good after close ${code}: state closed, pending requests rejected, no reconnect`, async () => {
      hub = await startScriptedHub();
      const clock = new FakeClock();
      client = newClient(hub.url, { clock });
      const errors: HubClientError[] = [];
      client.on('error', (e) => errors.push(e));
      const conn = await hub.accept();
      await conn.handshake();
      await stateReached(client, 'open');
      const call = outcome(client.call('slow'));
      await conn.expect('call');
      conn.close(code, 'go away');
      await stateReached(client, 'closed');
      const { error } = await call;
      assert.ok(error instanceof HubClientError);
      assert.equal(error.code, 'DUPLEX_HUB_CLOSED');
      assert.equal(error.closeCode, code);
      assert.equal(errors[0]?.code, 'DUPLEX_HUB_CLOSED');
      assert.equal(errors[0]?.closeCode, code);
      assert.equal(clock.find(isReconnect), undefined, 'no reconnect timer');
      const later = await outcome(client.publish('a', 1));
      assert.equal((later.error as HubClientError).code, 'DUPLEX_HUB_CLOSED');
      assert.equal(hub.connections, 1);
    });
  }

  it('reconnects after 4002 (token expired) with a new token', async () => {
    hub = await startScriptedHub();
    let calls = 0;
    client = newClient(hub.url, { token: () => `tok-${++calls}` });
    const first = await hub.accept();
    await first.handshake();
    first.close(4002);
    const second = await hub.accept();
    assert.equal((await second.handshake()).token, 'tok-2');
    await stateReached(client, 'open');
  });

  it("answers the hub's ping with a pong", async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const conn = await hub.accept();
    await conn.handshake();
    conn.send({ type: 'ping' });
    assert.deepEqual(await conn.next(), { type: 'pong' });
  });

  it('treats 2 x pingIntervalMs of silence as a dead connection and reconnects; any frame counts as life', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, random: () => 0, backoff: { baseMs: 100, maxMs: 100 } });
    const conn = await hub.accept();
    await conn.handshake({ pingIntervalMs: 1_000 });
    await stateReached(client, 'open');
    const start = clock.time;
    const liveness = await clock.waitForTimer('liveness', (t) => t.ms === 2_000);
    // Something is heard half-way: the check re-arms for the rest instead of dropping.
    clock.time = start + 1_500;
    conn.send({ type: 'ping' });
    await conn.expect('pong');
    clock.fire(liveness);
    assert.equal(client.state, 'open');
    const rest = await clock.waitForTimer('liveness again', (t) => t.ms === 1_500);
    clock.fire(rest);
    assert.equal(client.state, 'reconnecting');
    const reconnect = await clock.waitForTimer('reconnect', (t) => t.ms === 0);
    clock.fire(reconnect);
    await (await hub.accept()).handshake();
    await stateReached(client, 'open');
  });

  it('refreshes the token at 80 % of expiresIn with the token function, again after each refreshed', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    let calls = 0;
    client = newClient(hub.url, { clock, token: async () => `tok-${++calls}` });
    const conn = await hub.accept();
    await conn.handshake({ expiresIn: 10_000 });
    const first = await clock.waitForTimer('refresh', (t) => t.ms === 8_000);
    clock.fire(first);
    const refresh = await conn.expect('refresh');
    assert.equal(refresh.token, 'tok-2');
    conn.send({ type: 'refreshed', id: refresh.id, expiresIn: 5_000 });
    const second = await clock.waitForTimer('second refresh', (t) => t.ms === 4_000);
    clock.fire(second);
    assert.equal((await conn.expect('refresh')).token, 'tok-3');
  });

  it('reports a refused refresh as an error event and stays open', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, token: () => 'tok' });
    const conn = await hub.accept();
    await conn.handshake({ expiresIn: 1_000 });
    clock.fire(await clock.waitForTimer('refresh', (t) => t.ms === 800));
    const refresh = await conn.expect('refresh');
    const error = waitFor<HubClientError>('error', (cb) => client!.on('error', cb));
    conn.send({ type: 'error', id: refresh.id, code: 'DUPLEX_HUB_UNAUTHORIZED', message: 'no' });
    assert.equal((await error).code, 'DUPLEX_HUB_UNAUTHORIZED');
    assert.equal(client.state, 'open');
  });

  it('retries after a token function that throws (error event), calling it again', async () => {
    hub = await startScriptedHub();
    let calls = 0;
    client = newClient(hub.url, {
      token: async () => {
        calls++;
        if (calls === 1) throw new Error('token service down');
        return `tok-${calls}`;
      },
    });
    const error = waitFor<HubClientError>('error', (cb) => client!.on('error', cb));
    const first = await error;
    assert.equal(first.code, 'DUPLEX_HUB_UNAUTHORIZED');
    assert.equal(first.retryable, true);
    assert.equal((first.cause as Error).message, 'token service down');
    const conn = await hub.accept();
    assert.equal((await conn.handshake()).token, 'tok-2');
    await stateReached(client, 'open');
    assert.equal(hub.connections, 1, 'no WebSocket was opened for the failed attempt');
  });

  it('gives up an attempt whose token function never settles at connectTimeoutMs, and retries', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    let calls = 0;
    client = newClient(hub.url, {
      clock,
      random: () => 0,
      token: () => (++calls === 1 ? new Promise<string>(() => {}) : 'tok'),
    });
    const errors: HubClientError[] = [];
    client.on('error', (e) => errors.push(e));
    clock.fire(await clock.waitForTimer('connect deadline', (t) => t.ms === 10_000));
    assert.equal(errors[0]?.code, 'DUPLEX_HUB_UNAUTHORIZED');
    clock.fire(await clock.waitForTimer('reconnect', isReconnect));
    assert.equal((await (await hub.accept()).handshake()).token, 'tok');
    await stateReached(client, 'open');
  });

  it('drops an attempt the hub does not answer within connectTimeoutMs and tries again, still connecting', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, random: () => 0 });
    const states: HubClientState[] = [];
    client.on('state', (s) => states.push(s));
    const silent = await hub.accept();
    await silent.expect('connect');
    clock.fire(await clock.waitForTimer('connect deadline', (t) => t.ms === 10_000));
    await silent.closed;
    clock.fire(await clock.waitForTimer('reconnect', isReconnect));
    await (await hub.accept()).handshake();
    await stateReached(client, 'open');
    assert.deepEqual(states, ['connecting', 'open']);
  });

  it('drops a connection whose hub sends an unannounced binary frame, and reconnects', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const conn = await hub.accept();
    await conn.handshake();
    await stateReached(client, 'open');
    const error = waitFor<HubClientError>('error', (cb) => client!.on('error', cb));
    conn.sendBinary(new Uint8Array([1, 2, 3]));
    assert.equal((await error).code, 'DUPLEX_HUB_BAD_REQUEST');
    await (await hub.accept()).handshake();
    await stateReached(client, 'open');
  });

  it('reports a hub error that belongs to no request as an error event', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const conn = await hub.accept();
    await conn.handshake();
    const error = waitFor<HubClientError>('error', (cb) => client!.on('error', cb));
    conn.send({ type: 'error', code: 'DUPLEX_HUB_RATE_LIMITED', message: 'slow down', retryable: true });
    const e = await error;
    assert.deepEqual([e.code, e.message, e.retryable], ['DUPLEX_HUB_RATE_LIMITED', 'slow down', true]);
    assert.equal(client.state, 'open');
  });
});
