// ws's README, "Client authentication", run on Duplex with the import renamed. The README
// leaves `authenticate` to the reader; here it accepts the bearer token "alice".
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import WebSocket, { UnexpectedResponseError, WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

test('Client authentication: the upgrade handler refuses with 401 or passes the client to connection', async () => {
  const console = capture();
  function authenticate(request: IncomingMessage, next: (err: Error | null, client?: string) => void) {
    const token = request.headers.authorization?.replace(/^Bearer /, '');
    setImmediate(() => (token === 'alice' ? next(null, 'alice') : next(new Error('who are you?'))));
  }

  // ---- README ----
  function onSocketError(err: Error) {
    console.error(err);
  }

  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });

  // biome-ignore lint/correctness/noUnusedFunctionParameters: the README's code, as written
  wss.on('connection', function connection(ws, request, client) {
    ws.on('error', console.error);

    ws.on('message', function message(data) {
      console.log(`Received message ${data} from user ${client}`);
    });
  });

  server.on('upgrade', function upgrade(request, socket, head) {
    socket.on('error', onSocketError);

    // This function is not defined on purpose. Implement it with your own logic.
    authenticate(request, function next(err, client) {
      if (err || !client) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }

      socket.removeListener('error', onSocketError);

      wss.handleUpgrade(request, socket, head, function done(ws) {
        wss.emit('connection', ws, request, client);
      });
    });
  });

  server.listen(0, '127.0.0.1');
  // ---- end ----

  await until(server, 'listening');
  const url = `ws://127.0.0.1:${portOf(server)}/`;

  const stranger = new WebSocket(url);
  const refused = until<[Error]>(stranger, 'error');
  const [code] = await until<[number]>(stranger, 'close');
  const [error] = await refused;
  assert.ok(error instanceof UnexpectedResponseError);
  assert.equal(error.status, 401);
  assert.equal(code, 1006);

  const alice = new WebSocket(url, { headers: { Authorization: 'Bearer alice' } });
  await until(alice, 'open');
  alice.send('hello');
  assert.equal(await console.waitFor(/^Received message/), 'Received message hello from user alice');

  alice.close();
  await until(alice, 'close');
  await wss.close();
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(console.errors, []);
});
