import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseEvent, type DataEvent, ErrorEvent, WebSocket, type WebSocketServer } from 'duplexjs';
import { nextConnection, nextEvent, type Started, startServer, stop } from './util.js';

// The WHATWG DOM "dispatch" and "add an event listener" rules for a target without
// parents, checked on a real WebSocket (the event target is Duplex's own, not Node's).

let started: Started;
let client: WebSocket;
let server: WebSocket;

before(async () => {
  started = await startServer();
  const accepted = nextConnection(started.wss);
  client = new WebSocket(started.url);
  await nextEvent(client, 'open');
  server = await accepted;
});

after(async () => {
  client.close();
  await stop(started.wss as WebSocketServer);
});

/** synthetic builds an event of a type no WebSocket emits, so tests do not disturb the connection. */
const synthetic = (type = 'x') => new CloseEvent(type, { code: 4000 });

describe('WebSocket event target', () => {
  it('calls listeners in the order added, with target and currentTarget set during dispatch', () => {
    const seen: string[] = [];
    const a = (e: CloseEvent) => {
      assert.equal(e.target, client);
      assert.equal(e.currentTarget, client);
      assert.equal(e.eventPhase, 2);
      seen.push('a');
    };
    const b = { handleEvent: () => seen.push('b') };
    client.addEventListener('x', a as never);
    client.addEventListener('x', b);
    const event = synthetic();
    assert.equal(client.dispatchEvent(event), true);
    assert.deepEqual(seen, ['a', 'b']);
    assert.equal(event.currentTarget, null);
    assert.equal(event.eventPhase, 0);
    assert.equal(event.target, client);
    client.removeEventListener('x', a as never);
    client.removeEventListener('x', b);
    client.dispatchEvent(synthetic());
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('ignores a duplicate (same type, callback and capture) but not a different capture', () => {
    let calls = 0;
    const fn = () => calls++;
    client.addEventListener('x', fn);
    client.addEventListener('x', fn);
    client.addEventListener('x', fn, { capture: true });
    client.dispatchEvent(synthetic());
    assert.equal(calls, 2);
    client.removeEventListener('x', fn);
    client.removeEventListener('x', fn, true);
    client.dispatchEvent(synthetic());
    assert.equal(calls, 2);
  });

  it('runs a once listener once, and honours an AbortSignal', () => {
    let once = 0;
    let signalled = 0;
    const controller = new AbortController();
    client.addEventListener('x', () => once++, { once: true });
    client.addEventListener('x', () => signalled++, { signal: controller.signal });
    client.dispatchEvent(synthetic());
    controller.abort();
    client.dispatchEvent(synthetic());
    assert.equal(once, 1);
    assert.equal(signalled, 1);
    client.addEventListener('x', () => signalled++, { signal: controller.signal });
    client.dispatchEvent(synthetic());
    assert.equal(signalled, 1, 'an already aborted signal adds nothing');
  });

  it('skips a listener removed during dispatch and does not call one added during it', () => {
    const seen: string[] = [];
    const second = () => seen.push('second');
    const added = () => seen.push('added');
    const first = () => {
      seen.push('first');
      client.removeEventListener('x', second);
      client.addEventListener('x', added);
    };
    client.addEventListener('x', first);
    client.addEventListener('x', second);
    client.dispatchEvent(synthetic());
    assert.deepEqual(seen, ['first']);
    client.dispatchEvent(synthetic());
    assert.deepEqual(seen, ['first', 'first', 'added']);
    client.removeEventListener('x', first);
    client.removeEventListener('x', added);
  });

  it('stops at stopImmediatePropagation and reports preventDefault only for cancelable events', () => {
    const seen: string[] = [];
    const stopper = (e: CloseEvent) => {
      seen.push('stopper');
      e.preventDefault();
      e.stopImmediatePropagation();
    };
    const after = () => seen.push('after');
    client.addEventListener('x', stopper as never);
    client.addEventListener('x', after);
    const event = synthetic();
    assert.equal(client.dispatchEvent(event), true, 'a WebSocket event is not cancelable');
    assert.equal(event.defaultPrevented, false);
    assert.deepEqual(seen, ['stopper']);
    client.removeEventListener('x', stopper as never);
    client.removeEventListener('x', after);
  });

  it('goes on after a listener throws and rethrows the exception as uncaught', async () => {
    const boom = new Error('listener failure');
    const caught = new Promise<unknown>((resolve) => {
      const original = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const l of original) process.on('uncaughtException', l);
        resolve(error);
      });
    });
    let later = 0;
    const thrower = () => {
      throw boom;
    };
    const next = () => later++;
    client.addEventListener('x', thrower);
    client.addEventListener('x', next);
    client.dispatchEvent(synthetic());
    assert.equal(later, 1);
    assert.equal(await caught, boom);
    client.removeEventListener('x', thrower);
    client.removeEventListener('x', next);
  });

  it('implements on<event> attributes: one listener, replaced in place, removed by null', async () => {
    const seen: string[] = [];
    const first = (e: DataEvent<unknown>) => seen.push(`first ${String(e.data)}`);
    server.onmessage = first as never;
    assert.equal(server.onmessage, first);
    server.addEventListener('message', (e) => seen.push(`listener ${String(e.data)}`), { once: true });
    client.send('1');
    await nextEvent(server, 'message');
    server.onmessage = ((e: DataEvent<unknown>) => seen.push(`second ${String(e.data)}`)) as never;
    client.send('2');
    await nextEvent(server, 'message');
    server.onmessage = null;
    assert.equal(server.onmessage, null);
    client.send('3');
    await nextEvent(server, 'message');
    assert.deepEqual(seen, ['first 1', 'listener 1', 'second 2']);
  });

  it('delivers message events with the MessageEvent shape', async () => {
    const event = nextEvent<DataEvent<string>>(server, 'message');
    client.send('shape');
    const e = await event;
    assert.equal(e.type, 'message');
    assert.equal(e.data, 'shape');
    assert.equal(e.origin, '');
    assert.equal(e.lastEventId, '');
    assert.equal(e.source, null);
    assert.deepEqual(e.ports, []);
    assert.equal(e.target, server);
    assert.equal(typeof e.timeStamp, 'number');
    assert.equal(Object.prototype.toString.call(e), '[object MessageEvent]');
    assert.equal(new ErrorEvent('error', { error: new Error('m') }).message, 'm');
  });

  it('passes foreign events (a global Event) to the listeners as they are', () => {
    let got: unknown;
    const fn = (e: unknown) => {
      got = e;
    };
    client.addEventListener('y', fn);
    const foreign = new Event('y');
    assert.equal(client.dispatchEvent(foreign), true);
    assert.equal(got, foreign);
    client.removeEventListener('y', fn);
  });
});
