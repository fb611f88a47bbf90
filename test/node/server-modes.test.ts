import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  type CloseEvent,
  type ErrorEvent,
  UnexpectedResponseError,
  WebSocket,
  WebSocketServer,
} from 'duplexjs';
import { openTcp } from '../helpers/raw-client.js';
import { nextConnection, nextEmit, nextEvent, startServer, stop, withTimeout } from './util.js';

/** httpGet resolves with the status and body of a plain GET. */
function httpGet(
  url: string,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      }).on('error', reject);
    }),
    `GET ${url}`,
  );
}

/** expectRefusal opens a client and returns the HTTP status it was refused with. */
async function expectRefusal(url: string): Promise<UnexpectedResponseError> {
  const ws = new WebSocket(url);
  const [error, close] = await Promise.all([
    nextEvent<ErrorEvent>(ws, 'error'),
    nextEvent<CloseEvent>(ws, 'close'),
  ]);
  assert.equal(close.code, 1006);
  assert.ok(error.error instanceof UnexpectedResponseError, String(error.error));
  return error.error;
}

/** listenHttp starts an http server on a free loopback port. */
async function listenHttp(server: ReturnType<typeof createServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await nextEmit(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('WebSocketServer standalone', () => {
  it('echoes a message and reports its address', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    assert.equal(wss.clients.size, 1);
    server.addEventListener('message', (e) => server.send(e.data));
    ws.send('héllo');
    const message = await nextEvent<MessageEvent>(ws, 'message');
    assert.equal(message.data, 'héllo');
    ws.close(1000, 'done');
    const close = await nextEvent<CloseEvent>(ws, 'close');
    assert.deepEqual([close.code, close.wasClean], [1000, true]);
    await stop(wss);
  });

  it('answers plain HTTP requests with 426 Upgrade Required', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer();
    const res = await httpGet(`http://127.0.0.1:${port}/anything`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.upgrade, 'websocket');
    await stop(wss);
  });

  it('keeps an upgraded connection open past handshakeTimeout', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer({ handshakeTimeout: 300 });
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('emits error when the port is taken', { timeout: 10_000 }, async () => {
    const { wss, port } = await startServer();
    const second = new WebSocketServer({ host: '127.0.0.1', port });
    const [error] = await nextEmit<[NodeJS.ErrnoException]>(second, 'error');
    assert.equal(error.code, 'EADDRINUSE');
    await stop(wss);
  });
});

describe('WebSocketServer attached to an http server', () => {
  it('handles upgrades on its path and leaves the http server serving', { timeout: 10_000 }, async () => {
    const http = createServer((_req, res) => res.end('page'));
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    const port = await listenHttp(http);
    const page = await httpGet(`http://127.0.0.1:${port}/`);
    assert.equal(page.body, 'page');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=1`);
    await nextEvent(ws, 'open');
    const refused = await expectRefusal(`ws://127.0.0.1:${port}/other`);
    assert.equal(refused.status, 404);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
    assert.equal(http.listening, true, 'close() leaves an attached server running');
    http.close();
  });

  it('lets two servers share one http server by path', { timeout: 10_000 }, async () => {
    const http = createServer();
    const a = new WebSocketServer({ server: http, path: '/a' });
    const b = new WebSocketServer({ server: http, path: '/b' });
    const port = await listenHttp(http);
    const seen: string[] = [];
    a.on('connection', () => seen.push('a'));
    b.on('connection', () => seen.push('b'));
    for (const path of ['/b', '/a']) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      await nextEvent(ws, 'open');
      ws.close();
      await nextEvent(ws, 'close');
    }
    assert.deepEqual(seen, ['b', 'a']);
    await Promise.all([stop(a), stop(b)]);
    http.close();
  });

  // Issue 8: with two servers on /a and /b, an upgrade to /c got no answer and its socket
  // stayed open forever.
  it('answers 404 to an upgrade no server on the http server wants, instead of hanging', {
    timeout: 10_000,
  }, async () => {
    const http = createServer();
    const a = new WebSocketServer({ server: http, path: '/a' });
    const b = new WebSocketServer({ server: http, path: '/b' });
    const port = await listenHttp(http);
    const refused = await expectRefusal(`ws://127.0.0.1:${port}/c`);
    assert.equal(refused.status, 404);
    // Each path still reaches its own server, and only one answer went out for /c.
    const raw = await openTcp(port);
    await raw.send(upgradeRequest('/c', port));
    assert.equal((await raw.readHead()).status, 404);
    assert.equal(await raw.waitForTcpClose(), 'fin');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/b`);
    await nextEvent(ws, 'open');
    ws.close();
    await nextEvent(ws, 'close');
    await Promise.all([stop(a), stop(b)]);
    http.close();
  });

  it('answers 404 after handshakeTimeout when another upgrade listener leaves the socket alone', {
    timeout: 10_000,
  }, async () => {
    const http = createServer();
    const a = new WebSocketServer({ server: http, path: '/a', handshakeTimeout: 200 });
    http.on('upgrade', () => {}); // another library that does not want this path either
    const port = await listenHttp(http);
    const raw = await openTcp(port);
    await raw.send(upgradeRequest('/c', port));
    assert.equal((await raw.readHead(5_000)).status, 404);
    raw.destroy();
    await stop(a);
    http.close();
  });

  it('adds nothing to a socket that another upgrade listener answered', { timeout: 10_000 }, async () => {
    const http = createServer();
    const a = new WebSocketServer({ server: http, path: '/a', handshakeTimeout: 200 });
    http.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    const port = await listenHttp(http);
    const raw = await openTcp(port);
    await raw.send(upgradeRequest('/c', port));
    assert.equal((await raw.readHead()).status, 418);
    await raw.waitForTcpClose();
    assert.equal(raw.bufferedBytes, 0, 'no second response after the first');
    await stop(a);
    http.close();
  });
});

/** upgradeRequest is a valid opening handshake request for `path`. */
function upgradeRequest(path: string, port: number): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'latin1',
  );
}

describe('WebSocketServer noServer', () => {
  it('completes handshakes handed over by handleUpgrade', { timeout: 10_000 }, async () => {
    const wss = new WebSocketServer({ noServer: true });
    assert.equal(wss.address(), null);
    const http = createServer();
    http.on('upgrade', (req, socket, head) => {
      if (req.url !== '/mine') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send('welcome');
      });
    });
    const port = await listenHttp(http);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mine`);
    const message = await nextEvent<MessageEvent>(ws, 'message');
    assert.equal(message.data, 'welcome');
    assert.equal((await expectRefusal(`ws://127.0.0.1:${port}/yours`)).status, 404);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
    http.close();
  });

  it('survives a connection callback that throws', { timeout: 10_000 }, async () => {
    const wss = new WebSocketServer({ noServer: true });
    const errors: unknown[] = [];
    wss.on('error', (e) => errors.push(e));
    const http = createServer();
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, () => {
        throw new Error('application bug');
      }),
    );
    const port = await listenHttp(http);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const close = await nextEvent<CloseEvent>(ws, 'close');
    assert.equal(close.code, 1011);
    assert.equal((errors[0] as Error).message, 'application bug');
    await stop(wss);
    http.close();
  });
});
