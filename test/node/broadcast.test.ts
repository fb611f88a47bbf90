import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { type CloseEvent, PreparedMessage, prepareMessage, WebSocket } from 'duplexjs';
import { closePayload, connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { nextConnection, nextEvent, sleep, startServer, stop, withTimeout } from './util.js';

const KiB = 1024;

/** collect records the data of every message a client receives. */
function collect(ws: WebSocket): unknown[] {
  const seen: unknown[] = [];
  ws.addEventListener('message', (e) => seen.push(e.data));
  return seen;
}

async function until(what: string, done: () => boolean): Promise<void> {
  await withTimeout(
    (async () => {
      while (!done()) await sleep(5);
    })(),
    what,
  );
}

describe('prepareMessage', () => {
  it('serializes a text or binary frame once, header then payload', () => {
    const text = prepareMessage('hé');
    assert.equal(text.binary, false);
    assert.deepEqual(Buffer.concat(text.frames), Buffer.from([0x81, 3, 0x68, 0xc3, 0xa9]));
    const bin = prepareMessage(new Uint8Array([1, 2]));
    assert.equal(bin.binary, true);
    assert.deepEqual(Buffer.concat(bin.frames), Buffer.from([0x82, 2, 1, 2]));
    const forced = prepareMessage(Buffer.from('x'), { binary: false });
    assert.equal(forced.binary, false);
    assert.ok(forced instanceof PreparedMessage);
  });

  it('references a large payload instead of copying it', () => {
    const payload = Buffer.alloc(64 * KiB, 7);
    const prepared = prepareMessage(payload);
    assert.equal(prepared.frames.length, 2);
    assert.equal(prepared.frames[1], payload);
    assert.equal(prepared.byteLength, 10 + 64 * KiB);
  });
});

describe('WebSocketServer#broadcast', () => {
  it('sends one message to every open client but the one excepted, types preserved', async () => {
    const { wss, url } = await startServer();
    const clients: WebSocket[] = [];
    const servers: WebSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const accepted = nextConnection(wss);
      const ws = new WebSocket(url);
      await nextEvent(ws, 'open');
      clients.push(ws);
      servers.push(await accepted);
    }
    const seen = clients.map(collect);
    assert.equal(wss.broadcast('hello', { except: servers[0] }), 2);
    assert.equal(wss.broadcast(Buffer.from([0, 1, 2])), 3);
    const big = Buffer.alloc(70 * KiB, 9);
    assert.equal(wss.broadcast(prepareMessage(big)), 3);
    await until('deliveries', () => seen.every((s, i) => s.length === (i === 0 ? 2 : 3)));
    assert.deepEqual(seen[0], [Buffer.from([0, 1, 2]), big]);
    assert.deepEqual(seen[1], ['hello', Buffer.from([0, 1, 2]), big]);
    assert.deepEqual(seen[2], ['hello', Buffer.from([0, 1, 2]), big]);
    for (const ws of clients) ws.close();
    await stop(wss);
  });

  it('sendPrepared on a client masks each frame (falls back to a normal send)', async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    const seen = collect(server);
    const message = prepareMessage('from the client');
    ws.sendPrepared(message);
    ws.sendPrepared(prepareMessage(Buffer.from([5])));
    await until('client messages', () => seen.length === 2);
    assert.deepEqual(seen, ['from the client', Buffer.from([5])]);
    ws.close();
    await stop(wss);
  });

  it('throws while connecting and drops once closing, as send does', async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    assert.throws(() => ws.sendPrepared(prepareMessage('x')), { name: 'InvalidStateError' });
    await nextEvent(ws, 'open');
    ws.close();
    ws.sendPrepared(prepareMessage('dropped'));
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('writes the messages of one event-loop turn to each subscriber in one writev', async () => {
    const { wss, port } = await startServer();
    const peers = [];
    for (let i = 0; i < 3; i++) {
      const accepted = nextConnection(wss);
      peers.push(await connectRaw(port));
      await accepted;
    }
    // Count the calls that reach the kernel path, per connection, while 10 messages are
    // broadcast in one turn: the TCP handle's own writes on the handle path of
    // src/node/wire.ts, node:net's Socket writes on the stream path (DUPLEX_STREAM_IO=1).
    const calls = new Map<object, string[]>();
    const tcp = (process as unknown as { binding(name: string): { TCP: { prototype: object } } }).binding(
      'tcp_wrap',
    );
    const spied =
      process.env.DUPLEX_STREAM_IO === '1'
        ? ([[Socket.prototype, ['_write', '_writev']]] as const)
        : ([[tcp.TCP.prototype, ['writeBuffer', 'writev']]] as const);
    const restore: (() => void)[] = [];
    for (const [proto, names] of spied) {
      const target = proto as Record<string, (...args: unknown[]) => unknown>;
      for (const name of names) {
        const original = target[name]!;
        target[name] = function (this: object, ...args: unknown[]) {
          calls.set(this, [...(calls.get(this) ?? []), name]);
          return original.apply(this, args);
        };
        restore.push(() => {
          target[name] = original;
        });
      }
    }
    try {
      try {
        for (let i = 0; i < 10; i++) wss.broadcast(`message ${i}`);
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        for (const undo of restore) undo();
      }
      assert.equal(calls.size, 3);
      for (const list of calls.values())
        assert.equal(list.length === 1 && list[0]!.endsWith('writev'), true, `${list}`);
      for (const peer of peers) {
        for (let i = 0; i < 10; i++)
          assert.equal((await peer.readFrame()).payload.toString(), `message ${i}`);
      }
    } finally {
      for (const peer of peers) peer.destroy();
      await stop(wss);
    }
  });

  it('closes a subscriber that stops reading with 1008 while the others keep receiving', {
    timeout: 20_000,
  }, async () => {
    const limit = 128 * KiB;
    const { wss, port, url } = await startServer({ maxBufferedAmount: limit, closeTimeout: 5_000 });
    const accepted = nextConnection(wss);
    const slow = await connectRaw(port);
    const slowServer = await accepted;
    const slowClosed = nextEvent<CloseEvent>(slowServer, 'close', 15_000);
    const fast = new WebSocket(url);
    await nextEvent(fast, 'open');
    let received = 0;
    fast.addEventListener('message', () => received++);
    slow.socket.pause();
    const chunk = prepareMessage(Buffer.alloc(16 * KiB, 4));
    let most = 0;
    let sent = 0;
    for (; sent < 4_000 && slowServer.readyState === WebSocket.OPEN; sent++) {
      wss.broadcast(chunk);
      most = Math.max(most, slowServer.bufferedAmount);
      if (sent % 8 === 7) await sleep(1);
    }
    assert.equal(slowServer.readyState, WebSocket.CLOSING, `still open after ${sent} broadcasts`);
    assert.ok(most <= limit + 2 * chunk.byteLength, `buffered ${most} bytes`);
    // The fast subscriber got everything and keeps receiving.
    for (let i = 0; i < 10; i++) wss.broadcast(chunk);
    await until('fast subscriber', () => received === sent + 10);
    // The slow one, reading again, finds the policy's close frame after the data.
    slow.socket.resume();
    const close = await slow.readClose(10_000);
    assert.equal(close.code, 1008);
    assert.ok(close.before.every((f) => f.opcode === Op.BINARY));
    await slow.send(encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1008), mask: true }));
    assert.equal((await slowClosed).code, 1008);
    slow.destroy();
    fast.close();
    await nextEvent(fast, 'close');
    await stop(wss);
  });
});
