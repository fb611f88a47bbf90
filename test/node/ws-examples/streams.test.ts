// ws's README, "Use the Node.js streams API", run on Duplex with the import renamed, against
// a local echo server; stdin and stdout become a PassThrough and a collecting Writable.
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import WebSocket, { createWebSocketStream, WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('createWebSocketStream: stdin lines go out as messages, the echoes come back as utf8 text', async () => {
  const console = capture();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await until(wss, 'listening');
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  const process = { stdin: new PassThrough(), stdout: new PassThrough() };
  let printed = '';
  process.stdout.pipe(
    new Writable({
      write(chunk, _encoding, callback) {
        printed += chunk;
        if (printed.includes('world')) console.log(printed);
        callback();
      },
    }),
  );

  // ---- README ----
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(wss)}/`);

  const duplex = createWebSocketStream(ws, { encoding: 'utf8' });

  duplex.on('error', console.error);

  duplex.pipe(process.stdout);
  process.stdin.pipe(duplex);
  // ---- end ----

  process.stdin.write('hello ');
  process.stdin.write('world');
  assert.equal(await console.waitFor(/world/), 'hello world');
  process.stdin.end();
  await until(ws, 'close');
  await wss.close();
  assert.deepEqual(console.errors, []);
});
