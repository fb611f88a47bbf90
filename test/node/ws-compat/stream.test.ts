// createWebSocketStream: a Node Duplex over a WebSocket with backpressure both ways, over
// real loopback sockets.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { createWebSocketStream, WebSocket } from 'duplexjs';
import { nextEmit, sleep, startServer, stop, withTimeout } from '../util.js';

async function pair(options = {}) {
  const started = await startServer({ perMessageDeflate: false, ...options });
  const connected = nextEmit<[WebSocket]>(started.wss, 'connection');
  const client = new WebSocket(started.url, { perMessageDeflate: false });
  const [server] = await connected;
  return { ...started, client, server };
}

describe('createWebSocketStream', () => {
  test('reading: a stream nobody reads pauses the WebSocket, reading resumes it, nothing is lost', async () => {
    const { wss, client, server } = await pair();
    const stream = createWebSocketStream(client, { highWaterMark: 1024 });
    await once(client, 'open');
    const total = 64;
    const chunk = Buffer.alloc(512, 1);
    for (let i = 0; i < total; i++) server.send(chunk);
    for (let i = 0; !client.isPaused && i < 500; i++) await sleep(10);
    assert.equal(client.isPaused, true, 'the WebSocket stopped reading once the stream buffer was full');
    let bytes = 0;
    stream.on('data', (data: Buffer) => {
      bytes += data.length;
    });
    for (let i = 0; bytes < total * chunk.length && i < 500; i++) await sleep(10);
    assert.equal(bytes, total * chunk.length);
    assert.equal(client.isPaused, false);
    stream.destroy();
    await stop(wss);
  });

  test('writing: write() returns false past the highWaterMark while the peer does not read, then drains in order', async () => {
    const { wss, client, server } = await pair();
    const stream = createWebSocketStream(client, { highWaterMark: 16 * 1024 });
    server.pause();
    const chunk = Buffer.alloc(256 * 1024, 2);
    let writes = 0;
    // Writes made while connecting wait for open; keep writing until the stream pushes back.
    while (stream.write(chunk) && writes < 1000) writes++;
    assert.ok(writes < 1000, 'write() returned false: the stream holds back');
    const got: number[] = [];
    server.on('message', (data) => got.push((data as Buffer).length));
    server.resume();
    await withTimeout(once(stream, 'drain'), 'drain');
    for (let i = 0; got.length < writes + 1 && i < 500; i++) await sleep(10);
    assert.equal(got.length, writes + 1);
    assert.ok(got.every((n) => n === chunk.length));
    stream.destroy();
    await stop(wss);
  });

  test('ending the writable side closes the WebSocket; a peer close ends the readable side', async () => {
    const { wss, client, server } = await pair();
    const stream = createWebSocketStream(client, { encoding: 'utf8' });
    const texts: string[] = [];
    stream.on('data', (t: string) => texts.push(t));
    const ended = once(stream, 'end');
    server.on('message', (data) => server.send(data.toString()));
    stream.write('ping');
    for (let i = 0; texts.length === 0 && i < 500; i++) await sleep(10);
    assert.deepEqual(texts, ['ping']);
    const closed = new Promise<number>((resolve) => server.on('close', resolve));
    stream.end();
    assert.equal(await withTimeout(closed, 'server close'), 1005);
    await withTimeout(ended, 'end');
    assert.equal(client.readyState, WebSocket.CLOSED);
    await stop(wss);
  });

  test('destroying the stream terminates the WebSocket; an error on the WebSocket destroys the stream', async () => {
    const { wss, client, server } = await pair();
    const stream = createWebSocketStream(client);
    await once(client, 'open');
    const closed = new Promise<number>((resolve) => client.on('close', resolve));
    stream.destroy();
    assert.equal(await withTimeout(closed, 'close'), 1006);
    await withTimeout(once(server, 'close'), 'server close');

    const second = await pair();
    const s2 = createWebSocketStream(second.client);
    s2.resume();
    await once(second.client, 'open');
    const failed = once(s2, 'error');
    // Text that is not UTF-8: the client fails the connection (1007), and the stream gets the error.
    second.server.send(Buffer.from([0xff]), { binary: false });
    const [error] = await withTimeout(failed, 'stream error');
    assert.equal((error as { code?: string }).code, 'DUPLEX_INVALID_UTF8');
    assert.equal(s2.destroyed, true);
    await stop(wss);
    await stop(second.wss);
  });
});
