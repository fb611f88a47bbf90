// HubClient's subscriptions and their exactness: offsets strictly increasing and gap-free
// within an epoch across reconnects, resubscription with `since`, `recovered: false` when the
// hub cannot replay, duplicates dropped, gaps and epoch changes resubscribed, validators,
// binary messages, presence events, presence() and history().

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { HubClient, HubClientError, MessageMeta, SubscribedInfo, Subscription } from 'duplexjs/client';
import {
  FakeClock,
  type Message,
  type ScriptedConnection,
  type ScriptedHub,
  startScriptedHub,
  waitFor,
} from '../helpers/scripted-hub.js';
import { newClient, outcome, stateReached, turns } from './support.js';

let hub: ScriptedHub | undefined;
let client: HubClient<unknown> | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await hub?.close();
  hub = undefined;
});

/** Recorder keeps what a subscription emitted, in order. */
class Recorder {
  readonly log: string[] = [];
  readonly messages: { data: unknown; meta: MessageMeta }[] = [];
  readonly subscribed: SubscribedInfo[] = [];
  readonly errors: HubClientError[] = [];
  constructor(readonly sub: Subscription<unknown>) {
    sub.on('message', (data, meta) => {
      this.messages.push({ data, meta });
      this.log.push(`message ${meta.epoch}:${meta.offset}`);
    });
    sub.on('subscribed', (info) => {
      this.subscribed.push(info);
      this.log.push(`subscribed recovered=${info.recovered}`);
    });
    sub.on('error', (error) => {
      this.errors.push(error);
      this.log.push(`error ${error.code}`);
    });
  }
  get offsets(): number[] {
    return this.messages.map((m) => m.meta.offset);
  }
  /** until resolves once the log has `count` entries. */
  async until(count: number): Promise<void> {
    for (let i = 0; i < 500 && this.log.length < count; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(this.log.length >= count, `expected ${count} events, got ${JSON.stringify(this.log)}`);
  }
}

const pub = (offset: number, data: unknown = { n: offset }, epoch = 'e1'): Message => ({
  type: 'pub',
  channel: 'chat:lobby',
  offset,
  epoch,
  data,
});

/** open connects a client to a fresh scripted hub and subscribes to chat:lobby at `position`. */
async function open(position = { offset: 41, epoch: 'e1' }) {
  hub = await startScriptedHub();
  client = newClient(hub.url);
  const sub = client.subscribe('chat:lobby');
  const rec = new Recorder(sub);
  const conn = await hub.accept();
  await conn.handshake();
  const subscribe = await conn.expect('subscribe');
  assert.deepEqual(subscribe, { type: 'subscribe', id: 2, channel: 'chat:lobby' });
  conn.send({ type: 'subscribed', id: subscribe.id, channel: 'chat:lobby', recovered: false, position });
  return { conn, sub, rec };
}

/** reconnect drops `conn` and returns the next connection with its (re)subscribe. */
async function reconnect(
  conn: ScriptedConnection,
): Promise<{ conn: ScriptedConnection; subscribe: Message }> {
  conn.terminate();
  const next = await hub!.accept();
  await next.handshake();
  return { conn: next, subscribe: await next.expect('subscribe') };
}

describe('HubClient subscriptions', () => {
  it('delivers messages after the confirmation with their meta, and drops offsets already seen', async () => {
    const { conn, sub, rec } = await open();
    conn.send({ ...pub(42, { text: 'hi' }), from: 'bob' });
    conn.send(pub(43));
    conn.send(pub(43));
    conn.send(pub(42));
    conn.send(pub(44));
    await rec.until(4);
    await turns();
    assert.deepEqual(rec.log, [
      'subscribed recovered=false',
      'message e1:42',
      'message e1:43',
      'message e1:44',
    ]);
    assert.deepEqual(rec.messages[0], {
      data: { text: 'hi' },
      meta: { offset: 42, epoch: 'e1', from: 'bob' },
    });
    assert.deepEqual(rec.subscribed[0], {
      recovered: false,
      resubscribed: false,
      position: { offset: 41, epoch: 'e1' },
    });
    assert.equal(sub.state, 'subscribed');
    assert.deepEqual(sub.position, { offset: 44, epoch: 'e1' });
  });

  it('resubscribes with since = the last message after a drop; recovered messages continue without a gap', async () => {
    const { conn, rec } = await open();
    conn.send(pub(42));
    await rec.until(2);
    const again = await reconnect(conn);
    assert.deepEqual(again.subscribe.since, { offset: 42, epoch: 'e1' });
    again.conn.send({
      type: 'subscribed',
      id: again.subscribe.id,
      channel: 'chat:lobby',
      recovered: true,
      position: { offset: 44, epoch: 'e1' },
    });
    again.conn.send(pub(42)); // a duplicate of what came before the drop
    again.conn.send(pub(43));
    again.conn.send(pub(44));
    await rec.until(5);
    await turns();
    assert.deepEqual(rec.log, [
      'subscribed recovered=false',
      'message e1:42',
      'subscribed recovered=true',
      'message e1:43',
      'message e1:44',
    ]);
    assert.deepEqual(rec.subscribed[1], {
      recovered: true,
      resubscribed: true,
      position: { offset: 42, epoch: 'e1' },
    });
  });

  it('resubscribes with since = the first confirmed position when nothing arrived before the drop', async () => {
    const { conn, rec } = await open({ offset: 7, epoch: 'e3' });
    await rec.until(1);
    const again = await reconnect(conn);
    assert.deepEqual(again.subscribe.since, { offset: 7, epoch: 'e3' });
  });

  it('subscribes on connect when subscribe() was called while offline, without since', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const conn = await hub.accept();
    await conn.handshake();
    await stateReached(client, 'open');
    conn.terminate();
    await stateReached(client, 'reconnecting');
    client.subscribe('news');
    const next = await hub.accept();
    await next.handshake();
    const subscribe = await next.expect('subscribe');
    assert.equal(subscribe.channel, 'news');
    assert.equal(subscribe.since, undefined);
  });

  it('announces recovered: false first when the hub cannot replay, then delivers from the new position', async () => {
    const { conn, rec } = await open();
    conn.send(pub(42));
    await rec.until(2);
    const again = await reconnect(conn);
    again.conn.send({
      type: 'subscribed',
      id: again.subscribe.id,
      channel: 'chat:lobby',
      recovered: false,
      position: { offset: 3, epoch: 'e2' },
    });
    again.conn.send(pub(4, {}, 'e2'));
    await rec.until(4);
    assert.deepEqual(rec.log.slice(2), ['subscribed recovered=false', 'message e2:4']);
    assert.deepEqual(rec.subscribed[1], {
      recovered: false,
      resubscribed: true,
      position: { offset: 3, epoch: 'e2' },
    });
  });

  it('treats recovered: true with another epoch as not recovered', async () => {
    const { conn, rec } = await open();
    await rec.until(1);
    const again = await reconnect(conn);
    again.conn.send({
      type: 'subscribed',
      id: again.subscribe.id,
      channel: 'chat:lobby',
      recovered: true,
      position: { offset: 9, epoch: 'e9' },
    });
    await rec.until(2);
    assert.equal(rec.subscribed[1]?.recovered, false);
  });

  it('on a gap resyncs with subscribe since (no unsubscribe) instead of delivering out of order', async () => {
    const { conn, rec } = await open();
    conn.send(pub(42));
    conn.send(pub(44)); // 43 is missing
    const subscribe = await conn.expect('subscribe');
    assert.deepEqual(subscribe.since, { offset: 42, epoch: 'e1' });
    conn.send(pub(45)); // still the old stream: ignored until the new confirmation
    conn.send({
      type: 'subscribed',
      id: subscribe.id,
      channel: 'chat:lobby',
      recovered: true,
      position: { offset: 42, epoch: 'e1' },
    });
    conn.send(pub(43));
    conn.send(pub(44));
    conn.send(pub(45));
    await rec.until(6);
    await turns();
    assert.deepEqual(rec.offsets, [42, 43, 44, 45]);
    assert.deepEqual(rec.log[2], 'subscribed recovered=true');
    assert.equal(conn.pending.length, 0, 'one resync, no unsubscribe');
  });

  it('takes the deliberate jump before a conflated pub without resubscribing', async () => {
    const { conn, rec } = await open();
    conn.send(pub(42));
    conn.send({ ...pub(45), conflated: true });
    conn.send(pub(46));
    await rec.until(4);
    await turns();
    assert.deepEqual(rec.offsets, [42, 45, 46]);
    assert.equal(conn.pending.length, 0, 'no resubscription');
  });

  it('on an epoch change in the live stream resubscribes, and the hub says whether it recovered', async () => {
    const { conn, rec } = await open();
    conn.send(pub(42));
    conn.send(pub(5, {}, 'e2'));
    const subscribe = await conn.expect('subscribe');
    assert.deepEqual(subscribe.since, { offset: 42, epoch: 'e1' });
    conn.send({
      type: 'subscribed',
      id: subscribe.id,
      channel: 'chat:lobby',
      recovered: false,
      position: { offset: 5, epoch: 'e2' },
    });
    conn.send(pub(6, {}, 'e2'));
    await rec.until(4);
    assert.deepEqual(rec.log, [
      'subscribed recovered=false',
      'message e1:42',
      'subscribed recovered=false',
      'message e2:6',
    ]);
  });

  it('accepts the first message of a new epoch on a channel that had none (offset 0 -> 1)', async () => {
    const { conn, rec } = await open({ offset: 0, epoch: '' });
    conn.send(pub(1, {}, 'e1'));
    await rec.until(2);
    assert.deepEqual(rec.offsets, [1]);
    assert.equal(conn.pending.length, 0);
  });

  it('reports a message its validator rejects as an error event, delivers the rest, and counts its offset', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const sub = client.subscribe('chat:lobby', {
      validate: (data) => {
        if (typeof (data as { text?: unknown }).text !== 'string') throw new Error('text must be a string');
        return true;
      },
    });
    const rec = new Recorder(sub);
    const conn = await hub.accept();
    await conn.handshake();
    const subscribe = await conn.expect('subscribe');
    conn.send({
      type: 'subscribed',
      id: subscribe.id,
      channel: 'chat:lobby',
      recovered: false,
      position: { offset: 0, epoch: 'e1' },
    });
    conn.send(pub(1, { text: 'ok' }));
    conn.send(pub(2, { text: 42 }));
    conn.send(pub(3, { text: 'fine' }));
    await rec.until(4);
    await turns();
    assert.deepEqual(rec.log, [
      'subscribed recovered=false',
      'message e1:1',
      'error DUPLEX_HUB_VALIDATION_FAILED',
      'message e1:3',
    ]);
    assert.equal((rec.errors[0]!.cause as Error).message, 'text must be a string');
    assert.equal(conn.pending.length, 0, 'no resubscription: the rejected offset counts as seen');
  });

  it('uses what a parse-style validator returns, and rejects on false', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    const sub = client.subscribe('n', {
      validate: (data) => (typeof data === 'number' ? data * 10 : false),
    });
    const rec = new Recorder(sub);
    const conn = await hub.accept();
    await conn.handshake();
    const subscribe = await conn.expect('subscribe');
    conn.send({
      type: 'subscribed',
      id: subscribe.id,
      channel: 'n',
      recovered: false,
      position: { offset: 0, epoch: 'e' },
    });
    conn.send({ type: 'pub', channel: 'n', offset: 1, epoch: 'e', data: 4 });
    conn.send({ type: 'pub', channel: 'n', offset: 2, epoch: 'e', data: 'x' });
    await rec.until(3);
    assert.deepEqual(
      rec.messages.map((m) => m.data),
      [40],
    );
    assert.equal(rec.errors[0]?.code, 'DUPLEX_HUB_VALIDATION_FAILED');
  });

  it('receives binary messages as Uint8Array from the frame that follows the announcement', async () => {
    const { conn, rec } = await open();
    conn.send({ type: 'pub', channel: 'chat:lobby', offset: 42, epoch: 'e1', binary: true });
    conn.sendBinary(new Uint8Array([0, 1, 2, 255]));
    conn.send(pub(43));
    await rec.until(3);
    const data = rec.messages[0]?.data;
    assert.ok(data instanceof Uint8Array);
    assert.deepEqual([...data], [0, 1, 2, 255]);
    assert.deepEqual(rec.offsets, [42, 43]);
  });

  it('emits join and leave, answers presence() and history() (binary publications included)', async () => {
    const { conn, sub } = await open();
    const joined = waitFor('join', (cb) => sub.on('join', cb));
    conn.send({ type: 'join', channel: 'chat:lobby', member: { user: 'bob', info: { name: 'Bob' } } });
    assert.deepEqual(await joined, { user: 'bob', info: { name: 'Bob' } });
    const left = waitFor('leave', (cb) => sub.on('leave', cb));
    conn.send({ type: 'leave', channel: 'chat:lobby', member: { user: 'bob' } });
    assert.deepEqual(await left, { user: 'bob' });

    const presence = sub.presence();
    const p = await conn.expect('presence');
    assert.equal(p.channel, 'chat:lobby');
    conn.send({
      type: 'presence',
      id: p.id,
      channel: 'chat:lobby',
      members: [{ user: 'bob', connections: 2 }],
    });
    assert.deepEqual(await presence, [{ user: 'bob', connections: 2 }]);

    const history = sub.history({ limit: 2, reverse: true });
    const h = await conn.expect('history');
    assert.deepEqual(
      { ...h, id: 0 },
      { type: 'history', id: 0, channel: 'chat:lobby', limit: 2, reverse: true },
    );
    conn.send({
      type: 'history',
      id: h.id,
      channel: 'chat:lobby',
      position: { offset: 41, epoch: 'e1' },
      publications: [
        { offset: 41, epoch: 'e1', binary: true },
        { offset: 40, epoch: 'e1', data: { text: 'x' }, from: 'bob' },
      ],
    });
    conn.sendBinary(new Uint8Array([9, 9]));
    const page = await history;
    assert.deepEqual(page.position, { offset: 41, epoch: 'e1' });
    assert.deepEqual(
      page.publications.map((x) => ({ ...x, data: x.data instanceof Uint8Array ? [...x.data] : x.data })),
      [
        { offset: 41, epoch: 'e1', data: [9, 9] },
        { offset: 40, epoch: 'e1', data: { text: 'x' }, from: 'bob' },
      ],
    );
  });

  it('unsubscribe() sends unsubscribe, stops delivery, and frees the channel for a new subscription', async () => {
    const { conn, sub, rec } = await open();
    await rec.until(1);
    sub.unsubscribe();
    sub.unsubscribe();
    assert.equal(sub.state, 'unsubscribed');
    const unsubscribe = await conn.expect('unsubscribe');
    assert.equal(unsubscribe.channel, 'chat:lobby');
    conn.send(pub(42));
    await turns();
    assert.deepEqual(rec.offsets, []);
    const again = client!.subscribe('chat:lobby');
    assert.notEqual(again, sub);
    assert.equal((await conn.expect('subscribe')).since, undefined);
  });

  it('throws DUPLEX_HUB_ALREADY_SUBSCRIBED for a second subscription to one channel', async () => {
    hub = await startScriptedHub();
    client = newClient(hub.url);
    client.subscribe('a');
    assert.throws(() => client!.subscribe('a'), { code: 'DUPLEX_HUB_ALREADY_SUBSCRIBED' });
  });

  it('ends the subscription when the hub ends it or refuses it', async () => {
    const { conn, sub } = await open();
    const ended = waitFor('unsubscribed', (cb) => sub.on('unsubscribed', cb));
    conn.send({
      type: 'unsubscribed',
      channel: 'chat:lobby',
      code: 'DUPLEX_HUB_FORBIDDEN',
      reason: 'revoked',
    });
    assert.deepEqual(await ended, { code: 'DUPLEX_HUB_FORBIDDEN', reason: 'revoked' });
    assert.equal(sub.state, 'unsubscribed');

    const other = client!.subscribe('secret');
    const errors: HubClientError[] = [];
    other.on('error', (e) => errors.push(e));
    const refusedEvent = waitFor('unsubscribed', (cb) => other.on('unsubscribed', cb));
    const s = await conn.expect('subscribe');
    conn.send({ type: 'error', id: s.id, code: 'DUPLEX_HUB_FORBIDDEN', message: 'no', retryable: false });
    await refusedEvent;
    assert.equal(errors[0]?.code, 'DUPLEX_HUB_FORBIDDEN');
    assert.equal(errors[0]?.retryable, false);
    assert.equal(other.state, 'unsubscribed');
    assert.equal((await outcome(Promise.resolve(client!.subscribe('secret')))).error, undefined);
  });

  it('retries a subscribe refused with a retryable code after a backoff delay', async () => {
    hub = await startScriptedHub();
    const clock = new FakeClock();
    client = newClient(hub.url, { clock, random: () => 0.5, backoff: { baseMs: 200, maxMs: 1_000 } });
    const sub = client.subscribe('busy');
    const rec = new Recorder(sub);
    const conn = await hub.accept();
    await conn.handshake();
    const first = await conn.expect('subscribe');
    conn.send({
      type: 'error',
      id: first.id,
      code: 'DUPLEX_HUB_BROKER_UNAVAILABLE',
      message: 'down',
      retryable: true,
    });
    await rec.until(1);
    assert.equal(rec.errors[0]?.code, 'DUPLEX_HUB_BROKER_UNAVAILABLE');
    assert.equal(sub.state, 'subscribing');
    clock.fire(await clock.waitForTimer('subscribe retry', (t) => t.ms === 100));
    await conn.expect('unsubscribe');
    const second = await conn.expect('subscribe');
    conn.send({
      type: 'subscribed',
      id: second.id,
      channel: 'busy',
      recovered: false,
      position: { offset: 3, epoch: 'e' },
    });
    await rec.until(2);
    assert.equal(sub.state, 'subscribed');
  });
});
