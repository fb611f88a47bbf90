// ws's README, "External HTTP/S server", run on Duplex with the import renamed: an https
// server with a self-signed certificate (made fresh by test/helpers/tls.ts, never stored),
// and a client that trusts it.
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'duplexjs';
import { makeSelfSignedCert } from '../../helpers/tls.js';
import { capture, portOf, until } from './harness.js';

test('External HTTPS server: a wss:// client and the server exchange "something"', async () => {
  const console = capture();
  const pem = await makeSelfSignedCert();
  const readFileSync = (path: string) => (path.endsWith('cert.pem') ? pem.cert : pem.key);

  // ---- README ----
  const server = createServer({
    cert: readFileSync('/path/to/cert.pem'),
    key: readFileSync('/path/to/key.pem'),
  });
  const wss = new WebSocketServer({ server });

  wss.on('connection', function connection(ws) {
    ws.on('error', console.error);

    ws.on('message', function message(data) {
      console.log('received: %s', data);
    });

    ws.send('something');
  });

  server.listen(0, '127.0.0.1');
  // ---- end ----

  await until(server, 'listening');
  const ws = new WebSocket(`wss://localhost:${portOf(server)}/`, { ca: pem.cert });
  ws.on('error', console.error);
  ws.on('open', () => ws.send('something'));
  ws.on('message', (data) => console.log('received: %s', data));
  await console.waitForLines('received: something', 2);
  assert.equal(ws.url, `wss://localhost:${portOf(server)}/`);

  // Without the certificate the client refuses the server.
  const untrusting = new WebSocket(`wss://localhost:${portOf(server)}/`);
  const failed = until<[Error & { code?: string }]>(untrusting, 'error');
  await until(untrusting, 'close');
  assert.match(String((await failed)[0].code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);

  ws.close();
  await until(ws, 'close');
  await wss.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(console.errors, []);
});
