// ws's README, "Simple server" and "Sending and receiving text data", run on Duplex with the
// import renamed from 'ws' to 'duplexjs'. Port 8080 becomes port 0 on 127.0.0.1 (a shared
// machine) and the client's URL points at it; `console` is a capture the test reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('Simple server + Sending and receiving text data: both ends print "received: something"', async () => {
  const console = capture();

  // ---- Simple server (README) ----
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

  wss.on('connection', function connection(ws) {
    ws.on('error', console.error);

    ws.on('message', function message(data) {
      console.log('received: %s', data);
    });

    ws.send('something');
  });
  // ---- end ----

  await until(wss, 'listening');
  const url = `ws://127.0.0.1:${portOf(wss)}/path`;

  // ---- Sending and receiving text data (README) ----
  const ws = new WebSocket(url);

  ws.on('error', console.error);

  ws.on('open', function open() {
    ws.send('something');
  });

  ws.on('message', function message(data) {
    console.log('received: %s', data);
  });
  // ---- end ----

  // The server prints the client's message and the client prints the server's.
  await console.waitForLines('received: something', 2);
  assert.deepEqual(console.errors, []);
  ws.close();
  await until(ws, 'close');
  await wss.close();
});

test('a ws-style message listener gets (Buffer, isBinary) for text and binary, close gets (code, Buffer)', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await until(wss, 'listening');
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (data.toString() === 'bye') ws.close(4001, 'bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`);
  await until(ws, 'open');
  ws.send('text');
  const [text, textIsBinary] = await until<[Buffer, boolean]>(ws, 'message');
  assert.ok(Buffer.isBuffer(text), 'text arrives as a Buffer, as in ws');
  assert.equal(text.toString(), 'text');
  assert.equal(textIsBinary, false);
  ws.send(Buffer.from([1, 2, 3]));
  const [binary, binaryIsBinary] = await until<[Buffer, boolean]>(ws, 'message');
  assert.deepEqual([...binary], [1, 2, 3]);
  assert.equal(binaryIsBinary, true);
  ws.send('bye');
  const [code, reason] = await until<[number, Buffer]>(ws, 'close');
  assert.equal(code, 4001);
  assert.ok(Buffer.isBuffer(reason));
  assert.equal(reason.toString(), 'bye');
  await wss.close();
});
