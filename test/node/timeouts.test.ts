import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, type HandshakeError, WebSocket } from 'duplexjs';
import { FakeClock } from '../helpers/fake-clock.js';
import { connectRaw, Op, openTcp } from '../helpers/raw-client.js';
import { nextConnection, nextEmit, nextEvent, startServer, stop } from './util.js';

// Real sockets on loopback, fake time: each timeout fires when the test moves the clock.

describe('timeouts on an injected clock', () => {
  it('handshakeTimeout: an upgrade still undecided is answered 408', { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    let asked!: () => void;
    const authenticating = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const { wss, port } = await startServer({
      clock,
      handshakeTimeout: 60_000,
      authenticate: () => {
        asked();
        return new Promise<boolean>(() => {});
      },
    });
    const raw = await openTcp(port);
    await raw.send(
      Buffer.from(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        'latin1',
      ),
    );
    await authenticating;
    clock.advance(59_999);
    assert.equal(raw.bufferedBytes, 0);
    clock.advance(1);
    assert.equal((await raw.readHead()).status, 408);
    raw.destroy();
    await stop(wss);
  });

  it('closeTimeout: a peer that never answers our close frame is cut off', { timeout: 10_000 }, async () => {
    const clock = new FakeClock();
    const { wss, port } = await startServer({ clock, closeTimeout: 5_000 });
    const accepted = nextConnection(wss);
    const raw = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    server.close(1000);
    assert.equal((await raw.readClose()).code, 1000);
    assert.equal(server.readyState, WebSocket.CLOSING);
    clock.advance(5_000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    await raw.waitForTcpClose();
    await stop(wss);
  });

  it('heartbeat: an idle peer is pinged after interval and terminated after timeout', {
    timeout: 10_000,
  }, async () => {
    const clock = new FakeClock();
    const { wss, port } = await startServer({ clock, heartbeat: { interval: 30_000, timeout: 30_000 } });
    const accepted = nextConnection(wss);
    const raw = await connectRaw(port);
    const server = await accepted;
    const closed = nextEvent<CloseEvent>(server, 'close');
    clock.advance(30_000);
    assert.equal((await raw.readFrame()).opcode, Op.PING);
    clock.advance(30_000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    raw.destroy();
    await stop(wss);
  });

  it('client handshakeTimeout: a server that never answers fails with DUPLEX_HANDSHAKE_TIMEOUT', {
    timeout: 10_000,
  }, async () => {
    const clock = new FakeClock();
    const silent = net.createServer(() => {});
    const sockets = new Set<net.Socket>();
    let connected!: () => void;
    const gotConnection = new Promise<void>((resolve) => {
      connected = resolve;
    });
    silent.on('connection', (socket) => {
      sockets.add(socket);
      connected();
    });
    silent.listen(0, '127.0.0.1');
    await nextEmit(silent, 'listening');
    const { port } = silent.address() as net.AddressInfo;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, undefined, { clock, handshakeTimeout: 10_000 });
    const failed = nextEvent<ErrorEvent>(ws, 'error');
    const closed = nextEvent<CloseEvent>(ws, 'close');
    await gotConnection;
    clock.advance(10_000);
    assert.equal(((await failed).error as HandshakeError).code, 'DUPLEX_HANDSHAKE_TIMEOUT');
    assert.equal((await closed).code, 1006);
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
});
