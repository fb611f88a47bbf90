import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { memoryBroker } from 'duplexjs/hub';
import { startHub, type TestHub, until } from '../helpers/hub-client.js';

const users: Record<string, { user: string; info?: { name: string } }> = {
  'tok-alice': { user: 'alice', info: { name: 'Alice' } },
  'tok-bob': { user: 'bob' },
};

describe('hub presence', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('counts users across their connections: join on the first, leave on the last', async () => {
    t = await startHub({ authenticate: ({ token }) => users[token ?? ''] ?? false });
    const watcher = await t.connect('tok-bob');
    await watcher.subscribe('chat:lobby');
    const events = () => watcher.log.filter((m) => m.type === 'join' || m.type === 'leave');
    await until(() => events().length === 1, 'own join');
    assert.deepEqual(events()[0], { type: 'join', channel: 'chat:lobby', member: { user: 'bob' } });

    const a1 = await t.connect('tok-alice');
    const a2 = await t.connect('tok-alice');
    await a1.subscribe('chat:lobby');
    await a2.subscribe('chat:lobby');
    await until(() => events().length >= 2, 'alice joins');
    const members = await watcher.request({ type: 'presence', channel: 'chat:lobby' });
    assert.deepEqual(
      members.members.sort((x: { user: string }, y: { user: string }) => x.user.localeCompare(y.user)),
      [
        { user: 'alice', info: { name: 'Alice' }, connections: 2 },
        { user: 'bob', connections: 1 },
      ],
    );
    assert.deepEqual(
      (await t.hub.presence('chat:lobby')).find((m) => m.user === 'alice'),
      { user: 'alice', info: { name: 'Alice' }, connections: 2 },
    );

    a1.ws.terminate();
    await a1.closed;
    await until(() => t.hub.stats().subscriptions === 2, 'a1 gone');
    const mid = await watcher.request({ type: 'presence', channel: 'chat:lobby' });
    assert.deepEqual(mid.members.find((m: { user: string }) => m.user === 'alice').connections, 1);
    await a2.request({ type: 'unsubscribe', channel: 'chat:lobby' });
    await until(() => events().length === 3, 'alice leaves');
    assert.deepEqual(
      events().map((e) => `${e.type} ${e.member.user}`),
      ['join bob', 'join alice', 'leave alice'],
    );
    assert.deepEqual(events()[1]!.member, { user: 'alice', info: { name: 'Alice' } });
    assert.deepEqual(
      (await t.hub.presence('chat:lobby')).map((m) => m.user),
      ['bob'],
    );
  });

  it('anonymous connections are not members; joinLeave: false sends no events', async () => {
    t = await startHub({
      authenticate: ({ token }) => (token ? (users[token] ?? false) : { user: '' }),
      channels: { quiet: { joinLeave: false } },
    });
    const anon = await t.connect();
    await anon.subscribe('quiet:1');
    await anon.subscribe('loud:1');
    const bob = await t.connect('tok-bob');
    await bob.subscribe('quiet:1');
    await bob.subscribe('loud:1');
    await until(() => anon.log.some((m) => m.type === 'join'), 'join on loud');
    assert.deepEqual(
      (await t.hub.presence('quiet:1')).map((m) => m.user),
      ['bob'],
    );
    await t.hub.publish('quiet:1', 'marker');
    await until(() => anon.pubs('quiet:1').length === 1, 'marker');
    assert.deepEqual(
      anon.log.filter((m) => m.type === 'join').map((m) => m.channel),
      ['loud:1'],
    );
  });
});

describe('hub presence expiry', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('keeps the entries of live connections refreshed in the broker, and drops them when they leave', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const broker = memoryBroker({ clock });
    t = await startHub({
      clock,
      broker,
      presenceTtlMs: 300,
      tickMs: 5,
      authenticate: ({ token }) => users[token ?? ''] ?? false,
    });
    const bob = await t.connect('tok-bob');
    await bob.subscribe('room:1');
    const expiry = () => [...(broker.backend.presence.get('room:1')?.values() ?? [])][0]?.expires;
    for (let i = 0; i < 5; i++) {
      now += 150; // twice the TTL over the loop: only the hub's refreshes keep bob present
      await until(() => expiry() === now + 300, `refresh ${i}`);
      assert.deepEqual(
        (await t.hub.presence('room:1')).map((m) => m.user),
        ['bob'],
      );
    }
    bob.ws.terminate();
    await until(() => expiry() === undefined, 'removed on disconnect');
  });
});
