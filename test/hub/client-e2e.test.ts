// Hub and HubClient together, end to end over loopback: the real client against the real hub
// where the client's own tests use a scripted hub.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { HubClient, type HubClientError } from 'duplexjs/client';
import { startHub, type TestHub, until } from '../helpers/hub-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const FAST = { baseMs: 5, maxMs: 40 };

describe('Hub with HubClient', () => {
  let t: TestHub | undefined;
  let proxy: TcpProxy | undefined;
  const clients: HubClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await proxy?.close();
    proxy = undefined;
    await t?.stop();
    t = undefined;
  });

  it('a reconnect with 128 subscriptions and 100 queued publishes stays within the default rate limit', async () => {
    // Regression: the default burst (100) was smaller than what HubClient sends right after a
    // reconnect, so resubscribes and queued publishes were refused with DUPLEX_HUB_RATE_LIMITED.
    // A frozen clock: no refill, the bucket alone must hold the burst.
    t = await startHub({ clock: () => 1_000, authorize: () => true });
    proxy = await TcpProxy.start(Number(new URL(t.url).port));
    const client = new HubClient(`ws://127.0.0.1:${proxy.port}/hub`, { WebSocket, backoff: FAST });
    clients.push(client);
    let subscribed = 0;
    let resubscribed = 0;
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    for (let i = 0; i < 128; i++) {
      const sub = client.subscribe(`burst:${i}`);
      sub.on('subscribed', (e) => {
        if (e.resubscribed) resubscribed++;
        else subscribed++;
      });
      sub.on('error', (e) => errors.push(e));
    }
    await until(() => subscribed === 128, 'the first subscriptions');
    proxy.refuse = true;
    proxy.cut();
    await until(() => client.state === 'reconnecting', 'the client to notice');
    const acks = Array.from({ length: 100 }, (_, i) => client.publish(`burst:${i % 128}`, { i }));
    proxy.refuse = false;
    const results = await Promise.allSettled(acks);
    const refused = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r.reason as HubClientError).code);
    assert.deepEqual(refused, []);
    await until(
      () => resubscribed === 128,
      `every resubscription (${resubscribed}, stats ${JSON.stringify(t?.hub.stats())}, errors ${errors.length})`,
    );
    assert.equal(t.hub.stats().rateLimited, 0);
    assert.deepEqual(errors, []);
  });

  it('presence counts one user across two connections and RPC cancellation reaches the handler', async () => {
    t = await startHub({
      authenticate: ({ token }) => (token ? { user: token } : false),
      authorize: () => true,
    });
    let aborted: unknown;
    let started = false;
    t.hub.method('slow', (_params, { signal }) => {
      started = true;
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = signal.reason;
          reject(signal.reason);
        });
      });
    });
    const a1 = new HubClient(t.url, { WebSocket, token: 'alice', backoff: FAST });
    const a2 = new HubClient(t.url, { WebSocket, token: 'alice', backoff: FAST });
    const b = new HubClient(t.url, { WebSocket, token: 'bob', backoff: FAST });
    clients.push(a1, a2, b);
    const joins: string[] = [];
    const leaves: string[] = [];
    const watch = b.subscribe('room:1');
    watch.on('join', (m) => joins.push(m.user));
    watch.on('leave', (m) => leaves.push(m.user));
    await new Promise<void>((r) => watch.on('subscribed', () => r()));
    a1.subscribe('room:1');
    a2.subscribe('room:1');
    await until(() => joins.includes('alice'), 'alice joins');
    const members = await watch.presence();
    const alice = members.find((m) => m.user === 'alice');
    assert.equal(alice?.connections, 2);
    a1.close();
    for (let i = 0; ; i++) {
      const now = (await t.hub.presence('room:1')).find((m) => m.user === 'alice');
      if (now?.connections === 1) break;
      assert.ok(i < 2_000, 'one connection of alice left');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(leaves.length, 0, 'alice is still there with her other connection');
    a2.close();
    await until(() => leaves.includes('alice'), 'alice leaves with her last connection');
    assert.equal(joins.filter((u) => u === 'alice').length, 1);

    const controller = new AbortController();
    const call = b.call('slow', null, { signal: controller.signal });
    await until(() => started, 'the handler to start');
    controller.abort();
    await assert.rejects(call, (e: HubClientError) => e.code === 'DUPLEX_HUB_ABORTED');
    await until(() => aborted !== undefined, 'the handler signal');
  });
});
