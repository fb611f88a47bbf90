// The client's `proxy` option: ws:// and wss:// through an HTTP CONNECT proxy written in the
// test (test/helpers/connect-proxy.ts) with Basic authorization, TLS end to end inside the
// tunnel (the proxy never sees the plaintext), the proxy's refusals as coded errors, and
// proxyFromEnv's choice (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) driving it.

import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, proxyFromEnv, WebSocket, WebSocketServer } from 'duplexjs';
import { type ConnectProxy, startConnectProxy } from '../helpers/connect-proxy.js';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { nextEmit, nextEvent } from './util.js';

const T = { timeout: 30_000 };

interface Target {
  port: number;
  hosts: string[];
  close(): Promise<void>;
}

/** startTarget is an echo server (ws:, or wss: with a certificate) that records each upgrade's Host. */
async function startTarget(tls?: { key: string; cert: string }): Promise<Target> {
  const server = tls ? createHttpsServer(tls) : createHttpServer();
  const wss = new WebSocketServer({ server });
  const hosts: string[] = [];
  wss.on('connection', (ws, req: IncomingMessage) => {
    hosts.push(req.headers.host ?? '');
    ws.addEventListener('message', (e) => ws.send(e.data));
  });
  server.listen(0, '127.0.0.1');
  await nextEmit(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    hosts,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  await nextEvent(ws, 'open');
  ws.send(text);
  const reply = (await nextEvent<MessageEvent>(ws, 'message')).data as string;
  ws.close(1000);
  await nextEvent<CloseEvent>(ws, 'close');
  return reply;
}

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('WebSocket option proxy', () => {
  let proxy: ConnectProxy;
  let plain: Target;
  let secure: Target;
  let cert: string;
  before(async () => {
    const pair = await makeSelfSignedCert();
    cert = pair.cert;
    proxy = await startConnectProxy('carol:p@ss w0rd');
    plain = await startTarget();
    secure = await startTarget(pair);
  });
  after(async () => {
    await proxy.close();
    await plain.close();
    await secure.close();
  });

  it(
    'tunnels ws:// through CONNECT with Basic authorization, the Host header naming the target',
    T,
    async () => {
      proxy.requests.length = 0;
      const url = `ws://localhost:${plain.port}/chat`;
      const ws = new WebSocket(url, [], { proxy: proxy.url('carol:p%40ss%20w0rd') });
      assert.equal(await echoOnce(ws, 'through the tunnel'), 'through the tunnel');
      assert.deepEqual(proxy.requests, [
        { target: `localhost:${plain.port}`, auth: basic('carol:p@ss w0rd') },
      ]);
      assert.equal(plain.hosts.at(-1), `localhost:${plain.port}`);
    },
  );

  it('runs TLS of wss:// end to end inside the tunnel: the proxy relays only ciphertext', T, async () => {
    proxy.requests.length = 0;
    const before = proxy.relayed().length;
    const ws = new WebSocket(`wss://localhost:${secure.port}/`, [], {
      proxy: new URL(proxy.url('carol:p%40ss%20w0rd')),
      ca: cert,
      perMessageDeflate: false,
    });
    const secret = 'the plaintext the proxy must not see';
    assert.equal(await echoOnce(ws, secret), secret);
    assert.equal(proxy.requests[0]?.target, `localhost:${secure.port}`);
    const relayed = proxy.relayed().subarray(before);
    assert.ok(relayed.length > 0);
    assert.equal(relayed.indexOf('GET /'), -1, 'the upgrade request went through TLS');
    assert.equal(relayed.indexOf('Sec-WebSocket-Key'), -1);
    assert.equal(relayed[0], 0x16, 'the first byte through the tunnel is a TLS handshake record');
  });

  it('checks the certificate against the target host, inside the tunnel', T, async () => {
    const untrusting = new WebSocket(`wss://localhost:${secure.port}/`, [], {
      proxy: proxy.url('carol:p%40ss%20w0rd'),
    });
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(untrusting, 'error'),
      nextEvent<CloseEvent>(untrusting, 'close'),
    ]);
    assert.match(String((error.error as Error).message), /self[- ]signed/i);
    assert.equal(close.code, 1006);
  });

  it('reports a refusal as DUPLEX_HANDSHAKE_PROXY_REFUSED with the status, and close 1006', T, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/`, [], { proxy: proxy.url('carol:wrong') });
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(ws, 'error'),
      nextEvent<CloseEvent>(ws, 'close'),
    ]);
    const e = error.error as Error & { code: string; status: number };
    assert.equal(e.code, 'DUPLEX_HANDSHAKE_PROXY_REFUSED');
    assert.equal(e.status, 407);
    assert.match(e.message, /refused the tunnel to 127\.0\.0\.1:\d+: 407 Proxy Authentication Required/);
    assert.equal(close.code, 1006);
  });

  it('reports an unreachable proxy as DUPLEX_HANDSHAKE_PROXY_FAILED', T, async () => {
    const closed = await startTarget();
    const port = closed.port;
    await closed.close();
    const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/`, [], { proxy: `http://127.0.0.1:${port}` });
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(ws, 'error'),
      nextEvent<CloseEvent>(ws, 'close'),
    ]);
    assert.equal((error.error as { code: string }).code, 'DUPLEX_HANDSHAKE_PROXY_FAILED');
    assert.match((error.error as Error).message, /cannot reach proxy 127\.0\.0\.1:\d+/);
    assert.equal(close.code, 1006);
  });

  it('refuses a proxy that is not http://, and a proxy with agent or createConnection', () => {
    const url = `ws://127.0.0.1:${plain.port}/`;
    assert.throws(() => new WebSocket(url, [], { proxy: 'socks5://127.0.0.1:1080' }), {
      code: 'DUPLEX_INVALID_OPTION',
    });
    assert.throws(() => new WebSocket(url, [], { proxy: 'not a url' }), { code: 'DUPLEX_INVALID_OPTION' });
    assert.throws(
      () =>
        new WebSocket(url, [], {
          proxy: 'http://127.0.0.1:3128',
          createConnection: () => undefined as never,
        }),
      { code: 'DUPLEX_INVALID_OPTION' },
    );
  });

  it('follows proxyFromEnv: HTTP_PROXY for ws:, HTTPS_PROXY for wss:, direct for NO_PROXY', T, async () => {
    const env = {
      HTTP_PROXY: proxy.url('carol:p%40ss%20w0rd'),
      HTTPS_PROXY: proxy.url('carol:p%40ss%20w0rd'),
    };
    proxy.requests.length = 0;
    const ws = `ws://localhost:${plain.port}/`;
    const wss = `wss://localhost:${secure.port}/`;
    const viaEnv = (url: string, e: Record<string, string>) => {
      const chosen = proxyFromEnv(url, e);
      return new WebSocket(url, [], { ca: cert, ...(chosen ? { proxy: chosen } : {}) });
    };
    assert.equal(await echoOnce(viaEnv(ws, env), 'a'), 'a');
    assert.equal(await echoOnce(viaEnv(wss, env), 'b'), 'b');
    assert.deepEqual(
      proxy.requests.map((r) => r.target),
      [`localhost:${plain.port}`, `localhost:${secure.port}`],
    );
    proxy.requests.length = 0;
    assert.equal(await echoOnce(viaEnv(ws, { ...env, NO_PROXY: 'example.com,localhost' }), 'c'), 'c');
    assert.equal(await echoOnce(viaEnv(wss, { ...env, no_proxy: `localhost:${secure.port}` }), 'd'), 'd');
    assert.deepEqual(proxy.requests, [], 'NO_PROXY hosts go direct');
  });
});
