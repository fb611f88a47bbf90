// ws's README FAQ, "How to detect and close broken connections?", run on Duplex with the
// import renamed. The test runs the server's 30 s rounds itself (it shadows setInterval) and
// checks who is terminated: a client that never answers pings (a Duplex client with
// autoPong: false stands for a pulled cord) is, a live one is not.
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
    // The README's interval runs every 30 s; the test holds its callback and runs each round
    // itself, after the previous round's pongs arrived, so nothing depends on timing.
    let round: (() => void) | undefined;
    const setInterval = (fn: () => void, _ms: number) => {
      round = fn;
      return globalThis.setInterval(() => {}, 1 << 30);
    };

    // ---- README (server) ----
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
    }, 30000);

    wss.on('close', function close() {
      clearInterval(interval);
    });
    // ---- end ----

    let pongs = 0;
    wss.on('connection', (ws) => ws.on('pong', () => pongs++));
    await until(wss, 'listening');
    const url = `ws://127.0.0.1:${portOf(wss)}/`;
    const live = new WebSocket(url);
    // autoPong: false and no ping listener that answers: this client looks dead to the server.
    const dead = new WebSocket(url, { autoPong: false });
    const deadPinged = until(dead, 'ping');
    await Promise.all([until(live, 'open'), until(dead, 'open')]);
    for (let i = 0; wss.clients.size < 2 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    const deadClosed = until<[number, Buffer]>(dead, 'close');

    round!(); // both are pinged; only the live one answers
    await deadPinged;
    for (let i = 0; pongs < 1 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pongs, 1);
    round!(); // the dead one is terminated, the live one pinged again
    const [code] = await deadClosed;
    assert.equal(code, 1006, 'terminated without a closing handshake');
    for (let i = 0; pongs < 2 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    round!();
    for (let i = 0; pongs < 3 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pongs, 3);
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
