import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { BufferFullError, type CloseEvent, type ErrorEvent, WebSocket } from 'duplexjs';
import { closePayload, connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { nextConnection, nextEvent, sleep, startServer, stop, withTimeout } from './util.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('bufferedAmount and drain', () => {
  it('counts unflushed bytes and fires drain once they are flushed', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    // Uncompressed, so that the 8 MiB of one byte value stay 8 MiB on the wire.
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false });
    await nextEvent(ws, 'open');
    const server = await accepted;
    assert.equal(server.bufferedAmount, 0);
    const received = nextEvent<MessageEvent>(ws, 'message');
    server.send(Buffer.alloc(8 * MiB, 1));
    assert.ok(server.bufferedAmount > 0, 'an 8 MiB message cannot be flushed synchronously');
    await nextEvent(server, 'drain');
    assert.equal(server.bufferedAmount, 0);
    assert.equal(((await received).data as Buffer).length, 8 * MiB);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });
});

describe('send tells the caller where it stands (issue 8)', () => {
  it('returns true under the high-water mark, false above it and once closing began', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false });
    await nextEvent(ws, 'open');
    const server = await accepted;
    server.addEventListener('message', () => {});
    assert.equal(ws.send('small'), true);
    assert.equal(ws.send(Buffer.alloc(MiB)), false, 'wait for drain after 1 MiB');
    await nextEvent(ws, 'drain');
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(ws.send('small again'), true);
    const serverClosed = nextEvent<CloseEvent>(server, 'close');
    ws.close();
    assert.equal(ws.send('late'), false, 'dropped once closing began');
    assert.equal((await nextEvent<CloseEvent>(ws, 'close')).wasClean, true);
    assert.equal((await serverClosed).wasClean, true);
    await stop(wss);
  });

  // Issue 8: 48 sends of 1 MiB delivered 16 MiB, then a close 1008 reported as wasClean true.
  it('48 sends of 1 MiB in a plain loop arrive complete at a reading peer', { timeout: 30_000 }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false });
    await nextEvent(ws, 'open');
    const server = await accepted;
    const count = 48;
    let bytes = 0;
    let messages = 0;
    const all = new Promise<void>((resolve) => {
      server.addEventListener('message', (e) => {
        const data = e.data as Buffer;
        assert.equal(data[0], messages % 256);
        bytes += data.length;
        if (++messages === count) resolve();
      });
    });
    const errors: unknown[] = [];
    ws.addEventListener('error', (e) => errors.push(e.error));
    for (let i = 0; i < count; i++) ws.send(Buffer.alloc(MiB, i));
    await withTimeout(all, `${count} messages`, 25_000);
    assert.deepEqual([messages, bytes, errors], [count, count * MiB, []]);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
    assert.deepEqual((await nextEvent<CloseEvent>(ws, 'close')).wasClean, true);
    await stop(wss);
  });

  it('with a small maxBufferedAmount, a plain send loop fails loudly: DUPLEX_BUFFER_FULL, then close 1008 with wasClean false', {
    timeout: 15_000,
  }, async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false, maxBufferedAmount: 4 * MiB });
    await nextEvent(ws, 'open');
    const failed = nextEvent<ErrorEvent>(ws, 'error');
    const closed = nextEvent<CloseEvent>(ws, 'close', 10_000);
    let accepted = 0;
    for (let i = 0; i < 48; i++)
      if (ws.send(Buffer.alloc(MiB, i)) || ws.readyState === WebSocket.OPEN) accepted++;
    const error = (await failed).error;
    assert.ok(error instanceof BufferFullError, String(error));
    assert.deepEqual([error.code, error.closeCode, error.limit], ['DUPLEX_BUFFER_FULL', 1008, 4 * MiB]);
    assert.ok(error.bufferedAmount > 4 * MiB);
    assert.ok(accepted < 48, 'sends after the failure are dropped');
    const close = await closed;
    assert.deepEqual([close.code, close.reason, close.wasClean], [1008, 'send buffer full', false]);
    await stop(wss);
  });
});

describe('drain after the peer is gone (issue 8)', () => {
  it("await once(ws, 'drain') returns when the peer disconnects before the buffer drained", {
    timeout: 15_000,
  }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    peer.socket.pause();
    // 32 MiB is more than loopback's socket buffers hold for a reader that is paused.
    let ok = true;
    for (let i = 0; i < 32; i++) ok = server.send(Buffer.alloc(MiB, i));
    assert.equal(ok, false);
    // A WebSocket has ws's on/once too, so events.once treats it as an EventEmitter: it settles
    // on drain, or rejects on the error event of the broken write. Either way it never hangs.
    let drains = 0;
    server.addEventListener('drain', () => drains++);
    const closedEvent = nextEvent<CloseEvent>(server, 'close', 10_000);
    const drained = withTimeout(
      once(server as unknown as NodeJS.EventEmitter, 'drain').then(
        () => 'drain',
        (error: NodeJS.ErrnoException) => `error ${error.code}`,
      ),
      'drain',
    );
    peer.destroy();
    assert.match(await drained, /^(drain|error (EPIPE|ECONNRESET))$/);
    await closedEvent;
    assert.equal(drains, 1, 'the owed drain fires once, before close');
    assert.equal(server.readyState, WebSocket.CLOSED, 'the drain of a closed socket');
    await stop(wss);
  });
});

describe('send-buffer limit policy', () => {
  it('closes with 1008 a peer that stops reading, keeping memory bounded', { timeout: 15_000 }, async () => {
    const limit = 256 * KiB;
    const { wss, port } = await startServer({ maxBufferedAmount: limit, closeTimeout: 5_000 });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close', 10_000);
    peer.socket.pause();
    const chunk = Buffer.alloc(64 * KiB, 2);
    let most = 0;
    let sent = 0;
    for (; sent < 2_000 && server.readyState === WebSocket.OPEN; sent++) {
      server.send(chunk);
      most = Math.max(most, server.bufferedAmount);
      if (sent % 16 === 15) await sleep(1);
    }
    assert.equal(server.readyState, WebSocket.CLOSING, `still open after ${sent} sends of 64 KiB`);
    assert.ok(most <= limit + chunk.length + 2 * KiB, `buffered ${most} bytes`);
    // Further sends are dropped, not queued.
    const before = server.bufferedAmount;
    for (let i = 0; i < 100; i++) server.send(chunk);
    assert.ok(server.bufferedAmount <= before + 2 * KiB);
    // A slow but live peer that reads again finds the policy's close frame after the data.
    peer.socket.resume();
    const close = await peer.readClose(10_000);
    assert.equal(close.code, 1008);
    assert.equal(close.reason.toString(), 'send buffer full');
    assert.ok(close.before.every((f) => f.opcode === Op.BINARY));
    await peer.send(encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1008), mask: true }));
    const close2 = await closed;
    // Sent data was dropped, so the close is not clean even though both close frames passed.
    assert.deepEqual([close2.code, close2.wasClean], [1008, false]);
    await stop(wss);
  });

  it('destroys the connection after closeTimeout when the peer never reads again', {
    timeout: 15_000,
  }, async () => {
    const { wss, port } = await startServer({ maxBufferedAmount: 64 * KiB, closeTimeout: 300 });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close', 10_000);
    peer.socket.pause();
    const chunk = Buffer.alloc(64 * KiB, 3);
    for (let i = 0; i < 2_000 && server.readyState === WebSocket.OPEN; i++) {
      server.send(chunk);
      if (i % 16 === 15) await sleep(1);
    }
    assert.equal(server.readyState, WebSocket.CLOSING);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1008, false]);
    peer.destroy();
    await stop(wss);
  });
});

describe('async iteration', () => {
  it('yields every message in order and ends on close', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    wss.on('connection', (ws) => {
      ws.send('one');
      ws.send(Buffer.from('two'));
      ws.send('');
      ws.close(1000);
    });
    const ws = new WebSocket(url);
    const seen: unknown[] = [];
    await withTimeout(
      (async () => {
        for await (const message of ws) seen.push(message);
      })(),
      'iteration',
    );
    assert.deepEqual(seen, ['one', Buffer.from('two'), '']);
    await stop(wss);
  });

  it('pauses reading while the loop is slow (real backpressure)', { timeout: 20_000 }, async () => {
    const { wss, url } = await startServer({ maxBufferedAmount: 256 * MiB });
    const accepted = nextConnection(wss);
    // Uncompressed, so that 48 MiB of constant bytes fill the socket buffers.
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false });
    const iterator = ws[Symbol.asyncIterator]();
    await nextEvent(ws, 'open');
    const server = await accepted;
    const count = 48;
    for (let i = 0; i < count; i++) server.send(Buffer.alloc(MiB, i));
    await sleep(300);
    assert.ok(server.bufferedAmount > 8 * MiB, `server still holds ${server.bufferedAmount} bytes`);
    for (let i = 0; i < count; i++) {
      const next = await withTimeout(iterator.next(), `message ${i}`);
      assert.equal(next.done, false);
      const data = next.value as Buffer;
      assert.equal(data.length, MiB);
      assert.equal(data[0], i);
    }
    await iterator.return?.();
    assert.equal(ws.readyState, WebSocket.OPEN, 'break leaves the socket open');
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('delivers binary messages as binaryType says', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    wss.on('connection', (server) => {
      server.addEventListener('message', (e) => server.send(e.data));
    });
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    assert.equal(ws.binaryType, 'nodebuffer');
    ws.binaryType = 'arraybuffer';
    ws.send(new Uint8Array([1, 2, 3]));
    const ab = (await nextEvent<MessageEvent>(ws, 'message')).data;
    assert.ok(ab instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(ab)], [1, 2, 3]);
    ws.binaryType = 'blob';
    const messages: unknown[] = [];
    ws.addEventListener('message', (e) => messages.push(e.data));
    ws.send(new Blob([Buffer.from('blob')]));
    ws.send('after');
    await withTimeout(
      (async () => {
        while (messages.length < 2) await sleep(5);
      })(),
      'two echoes',
    );
    const [blob, after] = messages;
    assert.ok(blob instanceof Blob);
    assert.equal(await blob.text(), 'blob');
    assert.equal(after, 'after', 'a Blob keeps its place in order');
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });
});
