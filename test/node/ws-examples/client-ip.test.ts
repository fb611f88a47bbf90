// ws's README FAQ, "How to get the IP address of the client?", run on Duplex with the import
// renamed. The address is read again later, once Duplex has taken the connection over from
// node:net (docs/api.md: the Socket is destroyed after the upgrade): all four values stay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('req.socket.remoteAddress, and the other addresses, stay readable after the upgrade', async () => {
  const console = capture();
  let ips: string[] = [];

  // ---- README ----
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });

  wss.on('connection', function connection(ws, req) {
    const ip = req.socket.remoteAddress;

    ws.on('error', console.error);
    // ---- end ----
    ips.push(ip!);
    ws.on('message', () => {
      // A later turn: the upgrade is long done.
      const s = req.socket;
      ws.send(JSON.stringify([s.remoteAddress, s.remotePort, s.localAddress, s.localPort, s.remoteFamily]));
    });
  });

  await until(wss, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`);
  let localPort = 0;
  ws.on('upgrade', (response) => {
    localPort = response.socket.localPort!;
  });
  await until(ws, 'open');
  ws.send('where am I?');
  const [data] = await until<[Buffer]>(ws, 'message');
  assert.deepEqual(JSON.parse(data.toString()), ['127.0.0.1', localPort, '127.0.0.1', portOf(wss), 'IPv4']);
  assert.deepEqual(ips, ['127.0.0.1']);
  ips = [];
  ws.close();
  await until(ws, 'close');
  await wss.close();
  assert.deepEqual(console.errors, []);
});
