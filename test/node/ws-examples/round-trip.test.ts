// ws's README, "Round-trip time", run on Duplex with the import renamed, against a local
// echo server instead of websocket-echo.com. It sends Date.now() (a number) every 500 ms;
// the test lets it print three times, then closes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('Round-trip time: numbers go out as text and come back; the client prints each round trip', async () => {
  const console = capture();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await until(wss, 'listening');
  const sent: Array<[string, boolean]> = [];
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => {
      sent.push([data.toString(), isBinary]);
      socket.send(data, { binary: isBinary });
    }),
  );

  // ---- README ----
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`);

  ws.on('error', console.error);

  ws.on('open', function open() {
    console.log('connected');
    ws.send(Date.now());
  });

  ws.on('close', function close() {
    console.log('disconnected');
  });

  ws.on('message', function message(data) {
    console.log(`Round-trip time: ${Date.now() - (data as unknown as number)} ms`);

    setTimeout(function timeout() {
      ws.send(Date.now());
    }, 500);
  });
  // ---- end ----

  const lines = await console.waitForLines(/^Round-trip time: /, 3);
  for (const line of lines) assert.match(line, /^Round-trip time: \d+ ms$/);
  assert.equal(console.lines[0], 'connected');
  assert.ok(sent.length >= 3);
  for (const [text, isBinary] of sent) {
    assert.match(text, /^\d{13}$/, 'Date.now() is sent as its decimal text');
    assert.equal(isBinary, false);
  }
  await wss.close();
  await console.waitFor('disconnected');
  assert.deepEqual(console.errors, []);
});
