// ws's README, "Sending binary data", run on Duplex with the import renamed; the server
// side (not in that example) records what arrives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('Sending binary data: a Float32Array arrives as one binary message with its bytes', async () => {
  const console = capture();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await until(wss, 'listening');
  const received = new Promise<[Buffer, boolean]>((resolve) =>
    wss.on('connection', (socket) =>
      socket.on('message', (data, isBinary) => resolve([data as Buffer, isBinary])),
    ),
  );

  // ---- Sending binary data (README) ----
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/path`);

  ws.on('error', console.error);

  ws.on('open', function open() {
    const array = new Float32Array(5);

    // biome-ignore lint/correctness/noInnerDeclarations: the README's code, as written
    for (var i = 0; i < array.length; ++i) {
      array[i] = i / 2;
    }

    ws.send(array);
  });
  // ---- end ----

  const [data, isBinary] = await received;
  assert.equal(isBinary, true);
  assert.deepEqual([...new Float32Array(new Uint8Array(data).buffer)], [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(console.errors, []);
  ws.close();
  await until(ws, 'close');
  await wss.close();
});
