// The client as a drop-in for ws's: followRedirects/maxRedirects (credentials dropped across
// origins), the upgrade, redirect and unexpected-response events, agent and
// createConnection, autoPong and skipUTF8Validation. Real sockets on 127.0.0.1.
import assert from 'node:assert/strict';
import { Agent, createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createConnection, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { HandshakeError, InvalidArgumentError, UnexpectedResponseError, WebSocket } from 'duplexjs';
import WsWebSocket, { WebSocketServer as WsServer } from 'ws';
import { nextEmit, startServer, stop, withTimeout } from '../util.js';

/** redirector answers every request with `status` and a Location from `to(req)`, recording the requests. */
async function redirector(to: (req: IncomingMessage) => string, status = 302) {
  const requests: IncomingMessage[] = [];
  const http = createServer((req, res) => {
    requests.push(req);
    res.writeHead(status, { Location: to(req) }).end();
  });
  http.on('upgrade', (req, socket) => {
    requests.push(req);
    socket.end(`HTTP/1.1 ${status} Found\r\nLocation: ${to(req)}\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, requests, port: (http.address() as AddressInfo).port };
}

async function closeHttp(http: Server): Promise<void> {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
}

function settle(ws: WebSocket): Promise<{ error?: unknown; open: boolean }> {
  return withTimeout(
    new Promise((resolve) => {
      ws.on('open', () => resolve({ open: true }));
      ws.on('error', (error) => resolve({ error, open: false }));
    }),
    'open or error',
  );
}

describe('client followRedirects', () => {
  test('off (the default): a 302 is an UnexpectedResponseError', async () => {
    const r = await redirector(() => 'ws://127.0.0.1:1/');
    const { error } = await settle(new WebSocket(`ws://127.0.0.1:${r.port}/`));
    assert.ok(error instanceof UnexpectedResponseError);
    assert.equal(error.status, 302);
    await closeHttp(r.http);
  });

  test('on: follows to another origin, dropping Authorization and Cookie; fires redirect; url is the final one', async () => {
    const { wss, url, port } = await startServer();
    const connected = nextEmit<[WebSocket, IncomingMessage]>(wss, 'connection');
    const r = await redirector((req) => `http://localhost:${port}/final${req.url}`);
    const ws = new WebSocket(`ws://user:pw@127.0.0.1:${r.port}/start`, {
      followRedirects: true,
      headers: { Authorization: 'Bearer secret', Cookie: 'sid=1', 'X-Keep': 'yes' },
    });
    const redirects: string[] = [];
    ws.on('redirect', (to) => redirects.push(to));
    assert.deepEqual(await settle(ws), { open: true });
    const [, req] = await connected;
    assert.equal(req.url, '/final/start');
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.headers.cookie, undefined);
    assert.equal(req.headers['x-keep'], 'yes');
    assert.equal(r.requests[0]?.headers.authorization, 'Bearer secret');
    assert.deepEqual(redirects, [`ws://localhost:${port}/final/start`]);
    assert.equal(ws.url, `ws://localhost:${port}/final/start`);
    assert.notEqual(url, ws.url);
    ws.close();
    await stop(wss);
    await closeHttp(r.http);
  });

  test('on: a same-origin redirect keeps the credentials', async () => {
    const { wss, port } = await startServer();
    const r = await redirector((req) => (req.url === '/a' ? '/b' : `ws://127.0.0.1:${port}/done`));
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/a`, {
      followRedirects: true,
      headers: { Authorization: 'Bearer secret' },
    });
    assert.deepEqual(await settle(ws), { open: true });
    assert.deepEqual(
      r.requests.map((q) => [q.url, q.headers.authorization]),
      [
        ['/a', 'Bearer secret'],
        ['/b', 'Bearer secret'],
      ],
    );
    ws.close();
    await stop(wss);
    await closeHttp(r.http);
  });

  test('maxRedirects: a loop fails with DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS after that many', async () => {
    const r = await redirector(() => '/again');
    const { error } = await settle(
      new WebSocket(`ws://127.0.0.1:${r.port}/`, { followRedirects: true, maxRedirects: 3 }),
    );
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS');
    assert.equal(r.requests.length, 4, 'the first request and 3 redirects');
    const dflt = await redirector(() => '/again');
    await settle(new WebSocket(`ws://127.0.0.1:${dflt.port}/`, { followRedirects: true }));
    assert.equal(dflt.requests.length, 11, "ws's default of 10 redirects");
    await closeHttp(r.http);
    await closeHttp(dflt.http);
  });
});

describe('client events and connection options', () => {
  test("an unknown client option throws DUPLEX_INVALID_OPTION naming it, with a hint for ws's", () => {
    for (const [name, hint] of [
      ['maxPayLoad', /"maxPayLoad"$/],
      ['generateMask', /"generateMask": masking keys/],
      ['lookup', /"lookup": pass createConnection/],
    ] as const) {
      assert.throws(
        () => new WebSocket('ws://127.0.0.1:1/', { [name]: 1 } as object),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          error.code === 'DUPLEX_INVALID_OPTION' &&
          hint.test(error.message),
      );
    }
  });

  test('upgrade fires with the 101 response before open', async () => {
    const { wss, url } = await startServer();
    const order: string[] = [];
    const ws = new WebSocket(url);
    ws.on('upgrade', (res) => order.push(`upgrade ${res.statusCode} ${res.headers.upgrade}`));
    ws.on('open', () => order.push('open'));
    await settle(ws);
    assert.deepEqual(order, ['upgrade 101 websocket', 'open']);
    ws.close();
    await stop(wss);
  });

  test('unexpected-response: the listener gets (req, res) and no error event fires; close 1006 follows', async () => {
    const { wss, url } = await startServer({ authenticate: () => ({ status: 403, body: 'go away' }) });
    const ws = new WebSocket(url);
    let errors = 0;
    ws.on('error', () => errors++);
    const body = new Promise<[number | undefined, string]>((resolve) =>
      ws.on('unexpected-response', (req, res) => {
        assert.equal(typeof req.destroy, 'function');
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve([res.statusCode, text]));
      }),
    );
    const closed = new Promise<[number]>((resolve) => ws.on('close', (code) => resolve([code])));
    assert.deepEqual(await withTimeout(body, 'response'), [403, 'go away']);
    assert.deepEqual(await withTimeout(closed, 'close'), [1006]);
    assert.equal(errors, 0);
    await stop(wss);
  });

  test('agent: the upgrade request goes through the given http.Agent', async () => {
    const { wss, url } = await startServer();
    let made = 0;
    class CountingAgent extends Agent {
      override createConnection(...args: Parameters<Agent['createConnection']>) {
        made++;
        return super.createConnection(...args);
      }
    }
    const ws = new WebSocket(url, { agent: new CountingAgent() });
    assert.deepEqual(await settle(ws), { open: true });
    assert.equal(made, 1);
    ws.close();
    await stop(wss);
  });

  test('createConnection: the upgrade request uses the socket it returns', async () => {
    const { wss, url, port } = await startServer();
    const sockets: Socket[] = [];
    const ws = new WebSocket(url, {
      createConnection: () => {
        const socket = createConnection({ host: '127.0.0.1', port });
        sockets.push(socket);
        return socket;
      },
    });
    assert.deepEqual(await settle(ws), { open: true });
    assert.equal(sockets.length, 1);
    ws.send('through my socket');
    ws.close();
    await stop(wss);
  });

  test('autoPong: false leaves pings to the application (no pong until it calls pong)', async () => {
    const wsServer = new WsServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wsServer.on('listening', resolve));
    const pongs: string[] = [];
    const server = new Promise<WsWebSocket>((resolve) => wsServer.on('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(wsServer.address() as AddressInfo).port}/`, {
      autoPong: false,
    });
    client.on('ping', (data) => {
      if (data.toString() === 'answer me') client.pong(`app: ${data}`);
    });
    const peer = await withTimeout(server, 'connection');
    peer.on('pong', (data) => pongs.push(data.toString()));
    const echoed = new Promise((resolve) => peer.on('message', resolve));
    peer.ping('ignored');
    peer.ping('answer me');
    // The client echoes a message after both pings; ws delivers in order, so both pings were handled by then.
    client.on('message', (data) => client.send(data));
    peer.send('sync');
    await withTimeout(echoed, 'echo');
    for (let i = 0; pongs.length === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(pongs, ['app: answer me']);
    client.close();
    await new Promise((resolve) => wsServer.close(resolve));
  });

  test('skipUTF8Validation: invalid UTF-8 text is delivered instead of failing with 1007', async () => {
    for (const skip of [true, false]) {
      const { wss, url } = await startServer({ skipUTF8Validation: skip });
      const got = new Promise<[string, unknown]>((resolve) =>
        wss.on('connection', (ws) => {
          ws.on('message', (data, isBinary) => resolve(['message', [...(data as Buffer), isBinary]]));
          ws.on('error', (error) => resolve(['error', (error as { code?: string }).code]));
        }),
      );
      const ws = new WsWebSocket(url);
      await new Promise((resolve) => ws.on('open', resolve));
      ws.send(Buffer.from([0xff, 0xfe]), { binary: false });
      const outcome = await withTimeout(got, 'outcome');
      if (skip) assert.deepEqual(outcome, ['message', [0xff, 0xfe, false]]);
      else assert.deepEqual(outcome, ['error', 'DUPLEX_INVALID_UTF8']);
      ws.terminate();
      await stop(wss);
    }
  });
});
