// ws's README, "Multiple servers sharing a single HTTP/S server", run on Duplex with the
// import renamed: two noServer WebSocketServers behind one http server's upgrade handler.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('path routing in the upgrade handler: /foo to wss1, /bar to wss2, anything else destroyed', async () => {
  const console = capture();
  const seen: string[] = [];

  // ---- README ----
  const server = createServer();
  const wss1 = new WebSocketServer({ noServer: true });
  const wss2 = new WebSocketServer({ noServer: true });

  wss1.on('connection', function connection(ws) {
    ws.on('error', console.error);

    // ...
    seen.push('wss1');
    ws.send('from wss1');
  });

  wss2.on('connection', function connection(ws) {
    ws.on('error', console.error);

    // ...
    seen.push('wss2');
    ws.send('from wss2');
  });

  server.on('upgrade', function upgrade(request, socket, head) {
    const { pathname } = new URL(request.url!, 'wss://base.url');

    if (pathname === '/foo') {
      wss1.handleUpgrade(request, socket, head, function done(ws) {
        wss1.emit('connection', ws, request);
      });
    } else if (pathname === '/bar') {
      wss2.handleUpgrade(request, socket, head, function done(ws) {
        wss2.emit('connection', ws, request);
      });
    } else {
      socket.destroy();
    }
  });

  server.listen(0, '127.0.0.1');
  // ---- end ----

  await until(server, 'listening');
  const base = `ws://127.0.0.1:${portOf(server)}`;
  const foo = new WebSocket(`${base}/foo`);
  const [fromFoo] = await until<[Buffer]>(foo, 'message');
  const bar = new WebSocket(`${base}/bar`);
  const [fromBar] = await until<[Buffer]>(bar, 'message');
  assert.equal(fromFoo.toString(), 'from wss1');
  assert.equal(fromBar.toString(), 'from wss2');
  assert.deepEqual(seen, ['wss1', 'wss2']);
  assert.equal(wss1.clients.size, 1);
  assert.equal(wss2.clients.size, 1);

  const other = new WebSocket(`${base}/baz`);
  const failed = until<[Error]>(other, 'error');
  const [code] = await until<[number]>(other, 'close');
  assert.ok((await failed)[0] instanceof Error);
  assert.equal(code, 1006);
  assert.deepEqual(seen, ['wss1', 'wss2']);

  await Promise.all([wss1.close(), wss2.close()]);
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(console.errors, []);
});
