import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, WebSocket } from 'duplexjs';
import { startFakeServer } from '../helpers/fake-server.js';
import { closePayload, connectRaw, encodeFrame, Op, serverFrame } from '../helpers/raw-client.js';
import { nextConnection, nextEvent, sleep, startServer, stop, withTimeout } from './util.js';

describe('heartbeat', () => {
  it('pings an idle peer and terminates it when nothing comes back', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer({ heartbeat: { interval: 100, timeout: 150 } });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    const ping = await peer.readFrame(2_000);
    assert.equal(ping.opcode, Op.PING);
    await peer.waitForTcpClose(2_000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    assert.equal(wss.clients.size, 0);
    await stop(wss);
  });

  it('keeps a live peer that answers pings', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer({ heartbeat: { interval: 50, timeout: 100 } });
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    let pongs = 0;
    server.addEventListener('pong', () => pongs++);
    await sleep(600);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.ok(pongs >= 2, `expected pongs, saw ${pongs}`);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('counts any incoming byte as life, so a slow sender survives', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer({ heartbeat: { interval: 100, timeout: 100 } });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const received = nextEvent<MessageEvent>(server, 'message', 5_000);
    // One 40-byte text message sent one byte every 25 ms (1 s in all); pings are never answered.
    const frame = encodeFrame({ opcode: Op.TEXT, payload: Buffer.alloc(40, 'a'), mask: true });
    await peer.sendChunked(frame, 1, 25);
    assert.equal((await received).data, 'a'.repeat(40));
    peer.destroy();
    await stop(wss);
  });
});

describe('closing handshake and teardown (RFC 6455 7.1.1)', () => {
  it('the server closes TCP first after the closing handshake', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    await peer.send(encodeFrame({ opcode: Op.CLOSE, payload: closePayload(4001, 'bye'), mask: true }));
    const echo = await peer.readClose(2_000);
    assert.equal(echo.code, 4001);
    assert.equal(await peer.waitForTcpClose(2_000), 'fin');
    const close = await closed;
    assert.deepEqual([close.code, close.reason, close.wasClean], [4001, 'bye', true]);
    await stop(wss);
  });

  it('the server destroys a peer that never answers its close frame after closeTimeout', async () => {
    const { wss, port } = await startServer({ closeTimeout: 200 });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    server.close(1000, 'leaving');
    assert.equal(server.readyState, WebSocket.CLOSING);
    const frame = await peer.readClose(2_000);
    assert.equal(frame.code, 1000);
    await peer.waitForTcpClose(2_000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    await stop(wss);
  });

  it('the client waits for the server FIN, then reports a clean close', { timeout: 10_000 }, async () => {
    const fake = await startFakeServer();
    const ws = new WebSocket(fake.url);
    const conn = await fake.accept();
    await nextEvent(ws, 'open');
    const closed = nextEvent<CloseEvent>(ws, 'close');
    await conn.send(serverFrame(Op.CLOSE, closePayload(1001, 'restart')));
    const echo = await conn.readClose(2_000);
    assert.equal(echo.code, 1001);
    assert.equal(echo.frame.masked, true);
    assert.ok(await conn.staysOpen(150), 'the client must not close TCP before the server');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    conn.end();
    const close = await closed;
    assert.deepEqual([close.code, close.reason, close.wasClean], [1001, 'restart', true]);
    await fake.close();
  });

  it('the client destroys TCP when the server never sends FIN (closeTimeout)', {
    timeout: 10_000,
  }, async () => {
    const fake = await startFakeServer();
    const ws = new WebSocket(fake.url, [], { closeTimeout: 200 });
    const conn = await fake.accept();
    await nextEvent(ws, 'open');
    const closed = nextEvent<CloseEvent>(ws, 'close');
    ws.close(1000);
    await conn.readClose(2_000);
    await conn.send(serverFrame(Op.CLOSE, closePayload(1000)));
    await conn.waitForTcpClose(2_000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1000, true]);
    await fake.close();
  });

  it('a protocol error gives error, then close with the code sent', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const error = nextEvent<ErrorEvent>(server, 'error');
    const closed = nextEvent<CloseEvent>(server, 'close');
    await peer.send(encodeFrame({ opcode: 0x3, payload: Buffer.alloc(0), mask: true }));
    assert.equal((await peer.readClose(2_000)).code, 1002);
    assert.equal(((await error).error as { closeCode: number }).closeCode, 1002);
    assert.deepEqual([(await closed).code, (await closed).wasClean], [1002, false]);
    await stop(wss);
  });

  it('reports 1006 when TCP drops without a close frame', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    peer.destroy();
    assert.deepEqual([(await closed).code, (await closed).wasClean], [1006, false]);
    await stop(wss);
  });
});

describe('server.close()', () => {
  it('sends 1001 to every client, waits for them and resolves', { timeout: 10_000 }, async () => {
    const { wss, url, port } = await startServer();
    const clients = [new WebSocket(url), new WebSocket(url), new WebSocket(url)];
    await Promise.all(clients.map((ws) => nextEvent(ws, 'open')));
    const closes = clients.map((ws) => nextEvent<CloseEvent>(ws, 'close'));
    let emitted = false;
    wss.on('close', () => {
      emitted = true;
    });
    let called = false;
    await withTimeout(
      wss.close(() => {
        called = true;
      }),
      'close()',
    );
    for (const close of await Promise.all(closes)) {
      assert.deepEqual([close.code, close.reason, close.wasClean], [1001, 'server shutting down', true]);
    }
    assert.equal(wss.clients.size, 0);
    assert.ok(emitted && called);
    const late = new WebSocket(`ws://127.0.0.1:${port}/`);
    const failed = await nextEvent<CloseEvent>(late, 'close');
    assert.equal(failed.code, 1006);
  });

  it('resolves within closeTimeout when a peer ignores the 1001', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer({ closeTimeout: 200 });
    const accepted = nextConnection(wss);
    const peer = await connectRaw(port);
    await accepted;
    await withTimeout(wss.close(), 'close() with a mute peer', 2_000);
    assert.equal((await peer.readClose(1_000)).code, 1001);
  });
});

describe('client handshake failures', () => {
  it('a non-101 answer gives an error carrying the status, then close 1006', {
    timeout: 10_000,
  }, async () => {
    const fake = await startFakeServer({
      respond: () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope',
    });
    const ws = new WebSocket(fake.url);
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(ws, 'error'),
      nextEvent<CloseEvent>(ws, 'close'),
    ]);
    assert.deepEqual(
      [(error.error as { status: number }).status, (error.error as { body: string }).body],
      [404, 'nope'],
    );
    assert.deepEqual([close.code, close.wasClean, ws.readyState], [1006, false, WebSocket.CLOSED]);
    await fake.close();
  });

  it('a wrong Sec-WebSocket-Accept fails the connection', { timeout: 10_000 }, async () => {
    const fake = await startFakeServer({
      respond: () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
    });
    const ws = new WebSocket(fake.url);
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(ws, 'error'),
      nextEvent<CloseEvent>(ws, 'close'),
    ]);
    assert.equal((error.error as { code: string }).code, 'DUPLEX_HANDSHAKE_BAD_ACCEPT');
    assert.equal(close.code, 1006);
    await fake.close();
  });

  it('times out a server that never answers (handshakeTimeout)', { timeout: 10_000 }, async () => {
    const fake = await startFakeServer({ respond: () => '', endAfterRefusal: false });
    const ws = new WebSocket(fake.url, [], { handshakeTimeout: 200 });
    const error = await nextEvent<ErrorEvent>(ws, 'error', 2_000);
    assert.equal((error.error as { code: string }).code, 'DUPLEX_HANDSHAKE_TIMEOUT');
    await fake.close();
  });

  it('close() while connecting aborts with error and close 1006', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    const events: string[] = [];
    ws.onerror = () => events.push('error');
    ws.onclose = (e) => events.push(`close ${e.code}`);
    ws.close();
    assert.deepEqual(events, ['error', 'close 1006']);
    assert.throws(() => new WebSocket(url).send('x'), { code: 'DUPLEX_INVALID_STATE' });
    await stop(wss);
  });
});

describe('WHATWG argument checks', () => {
  it('close() accepts only 1000 and 3000-4999 on a client, reasons up to 123 bytes', async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    for (const code of [999, 1001, 1005, 2999, 5000, 1000.5]) {
      assert.throws(() => ws.close(code), { code: 'DUPLEX_INVALID_CLOSE_CODE' }, String(code));
    }
    assert.throws(() => ws.close(1000, 'é'.repeat(62)), { code: 'DUPLEX_CLOSE_REASON_TOO_LONG' });
    ws.close(4999, 'x'.repeat(123));
    assert.equal((await nextEvent<CloseEvent>(ws, 'close')).code, 4999);
    await stop(wss);
  });

  it('maps http(s) URLs to ws(s) and refuses other schemes and fragments', () => {
    assert.throws(() => new WebSocket('ftp://x/'), { code: 'DUPLEX_INVALID_URL' });
    assert.throws(() => new WebSocket('ws://x/#frag'), { code: 'DUPLEX_INVALID_URL' });
    assert.throws(() => new WebSocket('not a url'), { code: 'DUPLEX_INVALID_URL' });
    const ws = new WebSocket('http://127.0.0.1:9/path?q', [], { handshakeTimeout: 100 });
    assert.equal(ws.url, 'ws://127.0.0.1:9/path?q');
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    ws.addEventListener('error', () => {});
    ws.terminate();
  });
});
