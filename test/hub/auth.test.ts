import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { HubAction } from 'duplexjs/hub';
import { RawHubClient, startHub, type TestHub } from '../helpers/hub-client.js';

describe('hub auth', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('passes the connect token (never the URL) to authenticate, and closes with 4001 on refusal', async () => {
    const seen: Array<{ token: string | undefined; url: string | undefined; client: string }> = [];
    t = await startHub({
      authenticate: ({ token, request, client }) => {
        seen.push({ token, url: request?.url, client: client.id });
        return token === 'good' ? { user: 'u1', info: { role: 'admin' } } : false;
      },
    });
    const ok = await t.connect('good');
    const reply = ok.log.find((m) => m.type === 'connected')!;
    assert.equal(reply.user, 'u1');
    assert.equal(reply.client, seen[0]!.client);
    assert.deepEqual(seen[0], { token: 'good', url: '/hub', client: reply.client });

    const bad = await RawHubClient.open(t.url);
    bad.send({ type: 'connect', id: 1, token: 'bad' });
    assert.equal((await bad.closed).code, 4001);

    const throwing = await startHub({
      authenticate: () => {
        throw new Error('boom');
      },
    });
    try {
      const c = await RawHubClient.open(throwing.url);
      c.send({ type: 'connect', id: 1, token: 'x' });
      assert.equal((await c.closed).code, 4001);
    } finally {
      await throwing.stop();
    }
  });

  it('asks authorize per action and channel (async), refusing with DUPLEX_HUB_FORBIDDEN', async () => {
    const asked: string[] = [];
    t = await startHub({
      authenticate: ({ token }) => ({ user: token ?? '' }),
      authorize: async (client, action: HubAction, channel) => {
        asked.push(`${client.user} ${action} ${channel}`);
        await new Promise((r) => setTimeout(r, 1));
        if (channel.startsWith('admin:')) return client.user === 'root';
        return action !== 'publish' || channel.startsWith('chat:');
      },
    });
    const eve = await t.connect('eve');
    for (const [type, channel, code] of [
      ['subscribe', 'admin:x', 'DUPLEX_HUB_FORBIDDEN'],
      ['history', 'admin:x', 'DUPLEX_HUB_FORBIDDEN'],
      ['presence', 'admin:x', 'DUPLEX_HUB_FORBIDDEN'],
      ['publish', 'news:x', 'DUPLEX_HUB_FORBIDDEN'],
    ] as const) {
      const r = await eve.request({ type, channel, data: 1 });
      assert.deepEqual([type, r.type, r.code], [type, 'error', code]);
    }
    assert.equal((await eve.request({ type: 'publish', channel: 'chat:x', data: 1 })).type, 'published');
    const root = await t.connect('root');
    assert.equal((await root.request({ type: 'subscribe', channel: 'admin:x' })).type, 'subscribed');
    assert.ok(asked.includes('eve history admin:x'));
    assert.ok(asked.includes('root subscribe admin:x'));
  });

  it('refresh extends the token; a refused refresh keeps the old one until it expires, then 4002', async () => {
    let now = 1_000_000;
    t = await startHub({
      clock: () => now,
      tickMs: 10,
      authenticate: ({ token }) => {
        if (token?.startsWith('t-')) return { user: 'amy', expiresAt: now + Number(token.slice(2)) };
        if (token === 'other-user') return { user: 'mallory', expiresAt: now + 60_000 };
        return false;
      },
    });
    const c = await t.connect('t-1000');
    assert.equal(c.log.find((m) => m.type === 'connected')!.expiresIn, 1_000);
    now += 800;
    const refreshed = await c.request({ type: 'refresh', token: 't-5000' });
    assert.deepEqual([refreshed.type, refreshed.expiresIn], ['refreshed', 5_000]);
    now += 4_000;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.closeInfo, undefined, 'the refreshed token still runs');
    const refused = await c.request({ type: 'refresh', token: 'nope' });
    assert.deepEqual([refused.type, refused.code], ['error', 'DUPLEX_HUB_UNAUTHORIZED']);
    const otherUser = await c.request({ type: 'refresh', token: 'other-user' });
    assert.equal(otherUser.code, 'DUPLEX_HUB_UNAUTHORIZED', 'a refresh cannot change the user');
    assert.equal((await c.request({ type: 'subscribe', channel: 'x' })).type, 'subscribed');
    now += 1_000;
    assert.equal((await c.closed).code, 4002);
  });

  it('closes with 4003 when no connect comes in time', async () => {
    t = await startHub({ limits: { connectTimeoutMs: 50 }, tickMs: 10 });
    const c = await RawHubClient.open(t.url);
    t.clients.push(c);
    assert.equal((await c.closed).code, 4003);
  });

  it('closes with 4007 when the client does not answer pings', async () => {
    t = await startHub({ limits: { pingIntervalMs: 300 }, tickMs: 20 });
    const quiet = await t.connect();
    quiet.autoPong = false;
    const polite = await t.connect();
    assert.equal((await quiet.closed).code, 4007);
    assert.ok(polite.log.some((m) => m.type === 'ping'));
    assert.equal(polite.closeInfo, undefined);
  });
});

describe('hub connect pipelining', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('runs requests sent right after connect once authenticate finished, in order', async () => {
    t = await startHub({
      authenticate: async ({ token }) => {
        await new Promise((r) => setTimeout(r, 20));
        return { user: token ?? '' };
      },
    });
    t.hub.method('whoami', (_p, { client }) => client.user);
    const c = await RawHubClient.open(t.url);
    t.clients.push(c);
    c.send({ type: 'connect', id: 1, token: 'zed' });
    c.send({ type: 'subscribe', id: 2, channel: 'p:1' });
    c.send({ type: 'call', id: 3, method: 'whoami' });
    const call = await c.reply(3);
    assert.deepEqual(call.result, 'zed');
    assert.equal((await c.reply(2)).type, 'subscribed');
    assert.deepEqual(
      c.log.filter((m) => m.id !== undefined).map((m) => m.type),
      ['connected', 'subscribed', 'result'],
    );
  });

  it('runs the WebSocketServer-level authenticate of the websocket option after the subprotocol check', async () => {
    t = await startHub({
      websocket: { authenticate: (req) => req.headers['x-key'] === 'k' || { status: 403 } },
    });
    await assert.rejects(RawHubClient.open(t.url));
  });
});
