// ws's README FAQ, "How to detect and close broken connections?", run on Duplex with the
// import renamed. The server's 30 s interval becomes 50 ms so the test runs quickly; what is
// checked is not a time but who is terminated: a client that never answers pings (a Duplex
// client with autoPong: false stands for a pulled cord) is, a live one is not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

// The README's code adds its own properties to the WebSocket (plain JavaScript); TypeScript needs them declared.
declare module 'duplexjs' {
  interface WebSocket {
    isAlive?: boolean;
    pingTimeout?: NodeJS.Timeout;
  }
}

describe('heartbeat (README FAQ)', () => {
  test('the server terminates a client that stopped answering pings and keeps a live one', async () => {
    const console = capture();

    // ---- README (server), 30000 ms -> 50 ms ----
    function heartbeat(this: WebSocket) {
      this.isAlive = true;
    }

    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

    wss.on('connection', function connection(ws) {
      ws.isAlive = true;
      ws.on('error', console.error);
      ws.on('pong', heartbeat);
    });

    const interval = setInterval(function ping() {
      // biome-ignore lint/suspicious/useIterableCallbackReturn: the README's code, as written
      wss.clients.forEach(function each(ws) {
        if (ws.isAlive === false) return ws.terminate();

        ws.isAlive = false;
        ws.ping();
      });
    }, 50);

    wss.on('close', function close() {
      clearInterval(interval);
    });
    // ---- end ----

    await until(wss, 'listening');
    const url = `ws://127.0.0.1:${portOf(wss)}/`;
    const live = new WebSocket(url);
    // autoPong: false and no ping listener that answers: this client looks dead to the server.
    const dead = new WebSocket(url, { autoPong: false });
    let deadPings = 0;
    dead.on('ping', () => deadPings++);
    await Promise.all([until(live, 'open'), until(dead, 'open')]);
    const [code] = await until<[number, Buffer]>(dead, 'close');
    assert.equal(code, 1006, 'terminated without a closing handshake');
    assert.ok(deadPings >= 1, 'it was pinged before it was given up');
    // The live client answered every ping; it is still open after several more rounds.
    let livePings = 0;
    live.on('ping', () => livePings++);
    for (let i = 0; livePings < 3 && i < 200; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(livePings >= 3);
    assert.equal(live.readyState, WebSocket.OPEN);
    assert.equal(wss.clients.size, 1);
    assert.deepEqual(console.errors, []);
    await wss.close();
  });

  test('the client side: open and every ping re-arm pingTimeout (this is the WebSocket), close clears it', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await until(wss, 'listening');
    const pinged = new Promise<void>((resolve) =>
      wss.on('connection', (ws) => ws.ping('x', undefined, () => resolve())),
    );
    const console = capture();
    let armed = 0;

    // ---- README (client) ----
    function heartbeat(this: WebSocket) {
      clearTimeout(this.pingTimeout);
      armed++;

      // Use `WebSocket#terminate()`, which immediately destroys the connection,
      // instead of `WebSocket#close()`, which waits for the close timer.
      // Delay should be equal to the interval at which your server
      // sends out pings plus a conservative assumption of the latency.
      this.pingTimeout = setTimeout(() => {
        this.terminate();
      }, 30000 + 1000);
    }

    const client = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`);

    client.on('error', console.error);
    client.on('open', heartbeat);
    client.on('ping', heartbeat);
    client.on('close', function clear() {
      clearTimeout(this.pingTimeout);
    });
    // ---- end ----

    const [data] = await until<[Buffer]>(client, 'ping');
    assert.equal(data.toString(), 'x');
    await pinged;
    assert.equal(armed, 2, 'armed on open and on the ping');
    assert.ok(client.pingTimeout);
    const closed = until(client, 'close');
    await wss.close();
    await closed;
    assert.deepEqual(console.errors, []);
  });
});
