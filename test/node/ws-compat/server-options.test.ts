// WebSocketServer as a drop-in for ws's: unknown options refused loudly, verifyClient,
// clientTracking, the headers and wsClientError events, handleProtocols given a Set,
// authenticate's context. Real sockets on 127.0.0.1; the real `ws` package as a client
// where it helps.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import {
  InvalidArgumentError,
  InvalidStateError,
  type OfferedProtocols,
  UnexpectedResponseError,
  WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from 'duplexjs';
import WsWebSocket from 'ws';
import { connectRaw, openTcp } from '../../helpers/raw-client.js';
import { nextEmit, startServer, stop, withTimeout } from '../util.js';

/** refusal connects a Duplex client and returns the UnexpectedResponseError it gets. */
async function refusal(url: string, options = {}): Promise<UnexpectedResponseError> {
  const ws = new WebSocket(url, options);
  const error = await withTimeout(new Promise<unknown>((resolve) => ws.on('error', resolve)), 'the refusal');
  assert.ok(error instanceof UnexpectedResponseError, String(error));
  return error;
}

async function opens(url: string, options = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  await withTimeout(new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject)), 'open');
  return ws;
}

describe('WebSocketServer options', () => {
  test('an unknown option throws DUPLEX_INVALID_OPTION naming it, with a hint where ws has another name', () => {
    const attempt = (options: object) => {
      try {
        new WebSocketServer({ noServer: true, ...options } as WebSocketServerOptions);
      } catch (error) {
        return error;
      }
      assert.fail('no error');
    };
    const typo = attempt({ maxPayLoad: 10 });
    assert.ok(typo instanceof InvalidArgumentError);
    assert.equal(typo.code, 'DUPLEX_INVALID_OPTION');
    assert.match(typo.message, /"maxPayLoad"/);
    const custom = attempt({ WebSocket: class {} }) as InvalidArgumentError;
    assert.equal(custom.code, 'DUPLEX_INVALID_OPTION');
    assert.match(custom.message, /"WebSocket".*context/);
    const both = attempt({ authenticate: () => true, verifyClient: () => true }) as InvalidArgumentError;
    assert.equal(both.code, 'DUPLEX_INVALID_OPTION');
    assert.match(both.message, /authenticate or verifyClient/);
    // ws's own option names that Duplex honours are accepted.
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: true,
      allowSynchronousEvents: true,
      autoPong: true,
      skipUTF8Validation: false,
    });
    assert.ok(wss);
  });

  test('verifyClient, synchronous: false refuses with 401, true accepts; info has origin, secure and req', async () => {
    const infos: Array<{ origin: string; secure: boolean; url: string | undefined }> = [];
    const { wss, url } = await startServer({
      verifyClient: (info) => {
        infos.push({ origin: info.origin, secure: info.secure, url: info.req.url });
        return info.req.url === '/ok';
      },
    });
    assert.equal((await refusal(`${url}no`)).status, 401);
    const ws = await opens(`${url}ok`, { origin: `http://${new URL(url).host}` });
    assert.deepEqual(infos, [
      { origin: undefined, secure: false, url: '/no' },
      { origin: `http://${new URL(url).host}`, secure: false, url: '/ok' },
    ]);
    ws.close();
    await stop(wss);
  });

  test('verifyClient with a callback: refuses with its code, message and headers', async () => {
    const { wss, url } = await startServer({
      verifyClient: (info, callback) => {
        setImmediate(() => {
          if (info.req.headers.authorization === 'Bearer yes') callback(true);
          else callback(false, 403, 'No entry', { 'X-Reason': 'no token', 'Retry-After': 5 });
        });
      },
    });
    const error = await refusal(url);
    assert.equal(error.status, 403);
    assert.equal(error.body, 'No entry');
    assert.equal(error.responseHeaders['x-reason'], 'no token');
    assert.equal(error.responseHeaders['retry-after'], '5');
    const ws = await opens(url, { headers: { Authorization: 'Bearer yes' } });
    ws.close();
    await stop(wss);
  });

  test('clientTracking: false keeps no clients; broadcast refuses; close() leaves connections open', async () => {
    const { wss, url } = await startServer({ clientTracking: false });
    const connected = nextEmit<[WebSocket]>(wss, 'connection');
    const client = await opens(url);
    const [server] = await connected;
    assert.equal(wss.clients.size, 0);
    assert.throws(() => wss.broadcast('x'), InvalidStateError);
    await stop(wss);
    assert.equal(server.readyState, WebSocket.OPEN, "as in ws: untracked clients are the application's");
    const closed = new Promise((resolve) => client.on('close', resolve));
    server.close(1000);
    await withTimeout(closed, 'close');
  });

  test('clientTracking default: clients holds every open connection', async () => {
    const { wss, url } = await startServer();
    const client = await opens(url);
    for (let i = 0; wss.clients.size === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(wss.clients.size, 1);
    client.close();
    await stop(wss);
  });
});

describe('WebSocketServer events and hooks from ws', () => {
  test('headers: listeners edit the 101 lines before they are written (a cookie reaches the client)', async () => {
    const { wss, url } = await startServer();
    const seen: Array<{ first: string; url: string | undefined }> = [];
    wss.on('headers', (headers, req) => {
      seen.push({ first: headers[0]!, url: req.url });
      headers.push('Set-Cookie: session=abc; HttpOnly');
    });
    const ws = new WebSocket(`${url}chat`);
    const [response] = await withTimeout(
      new Promise<[IncomingMessage]>((resolve) => ws.on('upgrade', (res) => resolve([res]))),
      'upgrade',
    );
    assert.deepEqual(response.headers['set-cookie'], ['session=abc; HttpOnly']);
    assert.deepEqual(seen, [{ first: 'HTTP/1.1 101 Switching Protocols', url: '/chat' }]);
    ws.close();
    await stop(wss);
  });

  test('headers: a line with CR or LF refuses the client with 500 and reports the error', async () => {
    const { wss, url } = await startServer();
    wss.on('headers', (headers) => headers.push('X-Evil: a\r\nInjected: yes'));
    const reported = nextEmit<[Error]>(wss, 'error');
    assert.equal((await refusal(url)).status, 500);
    const [error] = await reported;
    assert.equal((error as InvalidArgumentError).code, 'DUPLEX_INVALID_HEADER');
    await stop(wss);
  });

  test('wsClientError: a malformed handshake goes to the listener, which answers it', async () => {
    const { wss, port } = await startServer();
    const reported = new Promise<[Error & { status?: number }, boolean, string | undefined]>((resolve) =>
      wss.on('wsClientError', (error, socket, req) => {
        resolve([error, socket.writable, req.url]);
        socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\n\r\n');
      }),
    );
    const raw = await openTcp(port);
    await raw.send(
      Buffer.from(
        'GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n',
      ),
    );
    const head = await raw.readHead();
    assert.equal(head.status, 418);
    const [error, writable, path] = await reported;
    assert.equal((error as { code?: string }).code, 'DUPLEX_HANDSHAKE_VERSION');
    assert.equal(error.status, 426);
    assert.equal(writable, true);
    assert.equal(path, '/x');
    raw.destroy();
    await stop(wss);
  });

  test('without a wsClientError listener the server answers a malformed handshake itself', async () => {
    const { wss, port } = await startServer();
    const raw = await openTcp(port);
    await raw.send(
      Buffer.from(
        'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    assert.equal((await raw.readHead()).status, 400);
    raw.destroy();
    await stop(wss);
  });

  test("handleProtocols receives a Set in the client's order (ws 8) that also reads as an array", async () => {
    const offers: unknown[] = [];
    const { wss, port } = await startServer({
      handleProtocols: (protocols: OfferedProtocols, req) => {
        offers.push({
          isSet: protocols instanceof Set,
          values: [...protocols],
          has: protocols.has('b'),
          first: protocols[0],
          length: protocols.length,
          includes: protocols.includes('c'),
          url: req.url,
        });
        return protocols.has('b') ? 'b' : false;
      },
    });
    // ws's own client, with ws-style code on the server side.
    const ws = new WsWebSocket(`ws://127.0.0.1:${port}/p`, ['a', 'b', 'c']);
    await withTimeout(new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject)), 'open');
    assert.equal(ws.protocol, 'b');
    assert.deepEqual(offers, [
      { isSet: true, values: ['a', 'b', 'c'], has: true, first: 'a', length: 3, includes: true, url: '/p' },
    ]);
    ws.close();
    await stop(wss);
  });
});

describe('authenticate hands its context to the connection', () => {
  test('{ accept: true, context } reaches the connection listener as its third argument and ws.context', async () => {
    const { wss, url } = await startServer({
      authenticate: async (req) =>
        req.headers.authorization === 'Bearer alice'
          ? { accept: true, context: { user: 'alice', role: 'admin' } }
          : { status: 401 },
    });
    const got = new Promise<[unknown, unknown]>((resolve) =>
      wss.on('connection', (ws, _req, context) => resolve([context, ws.context])),
    );
    const client = await opens(url, { headers: { Authorization: 'Bearer alice' } });
    const [third, onSocket] = await withTimeout(got, 'connection');
    assert.deepEqual(third, { user: 'alice', role: 'admin' });
    assert.equal(onSocket, third);
    assert.equal((await refusal(url)).status, 401);
    assert.equal(client.context, undefined, 'a client has no server context');
    client.close();
    await stop(wss);
  });

  test("noServer: handleUpgrade's callback gets the context as its third argument", async () => {
    const wss = new WebSocketServer({
      noServer: true,
      authenticate: () => ({ accept: true, context: 42 }),
    });
    const http = createServer();
    const got = new Promise<unknown[]>((resolve) =>
      http.on('upgrade', (req, socket, head) =>
        wss.handleUpgrade(req, socket, head, (ws, request, context) =>
          resolve([ws.context, context, request.url]),
        ),
      ),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    const client = await connectRaw(port, { path: '/np' });
    assert.deepEqual(await withTimeout(got, 'upgrade'), [42, 42, '/np']);
    client.destroy();
    await wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
});
