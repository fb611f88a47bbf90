/**
 * The transport feeds the core one message at a time (Connection#receive stops at each
 * message): the application answers a message before a close frame that came in the same
 * TCP segment ends the connection, and `pause()` in a message listener stops delivery at
 * that message even when more messages came with it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WebSocket } from 'duplexjs';
import { closePayload, connectRaw, Op } from '../helpers/raw-client.js';
import { nextEmit, sleep, startServer, stop, withTimeout } from './util.js';

describe('one message at a time from a chunk that carries several', () => {
  test('a message and a close frame in one write: the answer goes out before the close echo', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: false });
    const connected = nextEmit<[WebSocket]>(wss, 'connection');
    const raw = await connectRaw(port);
    const [server] = await withTimeout(connected, 'connection');
    server.on('message', (data) => server.send(`echo:${String(data)}`));
    const closed = nextEmit<[number, Buffer]>(server, 'close');
    await raw.sendFrames(
      { opcode: Op.TEXT, payload: 'hi' },
      { opcode: Op.CLOSE, payload: closePayload(1000, 'bye') },
    );
    const { code, before } = await raw.readClose();
    assert.deepEqual(
      before.map((f) => [f.opcode, f.payload.toString()]),
      [[Op.TEXT, 'echo:hi']],
    );
    assert.equal(code, 1000);
    const [closeCode, reason] = await withTimeout(closed, 'close');
    assert.deepEqual([closeCode, reason.toString()], [1000, 'bye']);
    raw.destroy();
    await stop(wss);
  });

  test('pause() in a message listener stops at that message; resume() delivers the rest in order', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: false });
    const connected = nextEmit<[WebSocket]>(wss, 'connection');
    const raw = await connectRaw(port);
    const [server] = await withTimeout(connected, 'connection');
    const got: string[] = [];
    let all!: () => void;
    const three = new Promise<void>((resolve) => {
      all = resolve;
    });
    server.on('message', (data) => {
      got.push(String(data));
      if (got.length === 1) server.pause();
      if (got.length === 3) all();
    });
    await raw.sendFrames(
      { opcode: Op.TEXT, payload: 'one' },
      { opcode: Op.TEXT, payload: 'two' },
      { opcode: Op.TEXT, payload: 'three' },
    );
    // A negative check: nothing more may arrive while paused (this wait cannot make a working build fail).
    await sleep(100);
    assert.deepEqual(got, ['one']);
    server.resume();
    await withTimeout(three, 'the rest after resume');
    assert.deepEqual(got, ['one', 'two', 'three']);
    raw.destroy();
    await stop(wss);
  });
});
