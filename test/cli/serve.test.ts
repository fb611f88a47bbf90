// `duplex serve`, driven from outside as its contract in shared/DESIGN.md says: one HTTP
// server with the hub at /hub, echo at /echo, the apps at / and /dashboard, the client bundle
// at /duplex-client.js and Prometheus metrics at /metrics; SIGTERM answers new upgrades with
// 503, closes hub clients with 1012 and a retry hint, and exits 0.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CloseEvent, WebSocket } from 'duplexjs';
import { type EchoProcess, startCommand } from '../helpers/echo-process.js';

/** HubPeer speaks duplex.v1 by hand: JSON requests with ids, replies matched by id. */
class HubPeer {
  readonly ws: WebSocket;
  readonly pushes: Record<string, unknown>[] = [];
  #next = 1;
  #waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  #pushWaiters: (() => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url, ['duplex.v1']);
    this.ws.addEventListener('message', (event) => {
      const msg = JSON.parse(String(event.data)) as Record<string, unknown>;
      const id = msg['id'];
      if (typeof id === 'number' && this.#waiting.has(id)) {
        this.#waiting.get(id)?.(msg);
        this.#waiting.delete(id);
      } else {
        this.pushes.push(msg);
        for (const w of this.#pushWaiters.splice(0)) w();
      }
    });
  }

  async open(): Promise<void> {
    await once(this.ws, 'open');
  }

  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const reply = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.ws.send(JSON.stringify({ ...body, id }));
    return reply;
  }

  async push(type: string): Promise<Record<string, unknown>> {
    for (;;) {
      const i = this.pushes.findIndex((m) => m['type'] === type);
      if (i >= 0) return this.pushes.splice(i, 1)[0]!;
      await new Promise<void>((resolve) => this.#pushWaiters.push(resolve));
    }
  }
}

/** rawUpgrade sends a WebSocket upgrade request by hand and resolves with the status line. */
function rawUpgrade(port: number, path: string): Promise<{ status: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.setEncoding('latin1');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: duplex.v1\r\n\r\n',
    );
    let head = '';
    const onData = (chunk: string): void => {
      head += chunk;
      const end = head.indexOf('\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve({ status: head.slice(0, end), socket });
      }
    };
    socket.on('data', onData);
  });
}

describe('duplex serve', () => {
  let server: EchoProcess;
  let base: string;
  let wsBase: string;
  before(async () => {
    server = await startCommand('serve');
    base = server.url;
    wsBase = base.replace('http://', 'ws://');
  });
  after(async () => {
    await server.stop();
  });

  it('prints the ready line with the real port', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(server.port, 0);
  });

  it('serves the client bundle as an ES module that exports HubClient', async () => {
    const res = await fetch(`${base}duplex-client.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    const body = await res.text();
    assert.match(body, /export\s*\{[^}]*HubClient/);
  });

  it('serves the chat at / and the dashboard at /dashboard', async () => {
    for (const path of ['', 'dashboard']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await res.text(), /\/duplex-client\.js/);
    }
    assert.equal((await fetch(`${base}nope`)).status, 404);
  });

  it('echoes text and binary at /echo', async () => {
    const ws = new WebSocket(`${wsBase}echo`);
    await once(ws, 'open');
    const got = new Promise<unknown[]>((resolve) => {
      const seen: unknown[] = [];
      ws.addEventListener('message', (e) => {
        seen.push(e.data);
        if (seen.length === 2) resolve(seen);
      });
    });
    ws.send('hello');
    ws.send(new Uint8Array([1, 2, 3]));
    const [text, binary] = await got;
    assert.equal(text, 'hello');
    assert.deepEqual([...(binary as Buffer)], [1, 2, 3]);
    ws.close();
  });

  it('refuses an upgrade on an unknown path with 404', async () => {
    const { status, socket } = await rawUpgrade(server.port, '/elsewhere');
    assert.match(status, /^HTTP\/1\.1 404 /);
    socket.destroy();
  });

  it('runs the demo policy: anonymous subscribe, publish, history, presence and the echo method', async () => {
    const a = new HubPeer(`${wsBase}hub`);
    const b = new HubPeer(`${wsBase}hub`);
    await Promise.all([a.open(), b.open()]);
    assert.equal((await a.request({ type: 'connect' }))['type'], 'connected');
    assert.equal((await b.request({ type: 'connect' }))['type'], 'connected');
    const subscribed = await b.request({ type: 'subscribe', channel: 'serve:test' });
    assert.equal(subscribed['type'], 'subscribed');
    const published = await a.request({ type: 'publish', channel: 'serve:test', data: { n: 1 } });
    assert.equal(published['type'], 'published');
    const pub = await b.push('pub');
    assert.deepEqual(pub['data'], { n: 1 });
    assert.equal(pub['offset'], published['offset']);
    const history = await a.request({ type: 'history', channel: 'serve:test', limit: 10 });
    assert.equal((history['publications'] as unknown[]).length, 1);
    const presence = await a.request({ type: 'presence', channel: 'serve:test' });
    assert.equal(presence['type'], 'presence');
    const result = await a.request({ type: 'call', method: 'echo', params: { a: [1, 'x'] } });
    assert.deepEqual(result, { type: 'result', id: result['id'], result: { a: [1, 'x'] } });
    a.ws.close();
    b.ws.close();
  });

  it('exposes Prometheus metrics at /metrics', async () => {
    const peer = new HubPeer(`${wsBase}hub`);
    await peer.open();
    await peer.request({ type: 'connect' });
    const res = await fetch(`${base}metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const connections = /^duplex_hub_connections (\d+)$/m.exec(text);
    assert.ok(connections, text.slice(0, 500));
    assert.ok(Number(connections[1]) >= 1);
    assert.match(text, /^# TYPE duplex_hub_messages_received_total counter$/m);
    peer.ws.close();
  });
});

describe('duplex serve shutdown', () => {
  it('on SIGTERM refuses new upgrades with 503, closes hub clients with 1012 and a retry hint, exits 0', async () => {
    const server = await startCommand('serve');
    const wsBase = server.url.replace('http://', 'ws://');
    const peer = new HubPeer(`${wsBase}hub`);
    await peer.open();
    await peer.request({ type: 'connect' });
    // A peer that completes the handshake and then never answers a close keeps the process in its
    // shutdown (until the close timeout): long enough to see how a new upgrade is answered.
    const stubborn = await rawUpgrade(server.port, '/hub');
    assert.match(stubborn.status, /^HTTP\/1\.1 101 /);
    const closed = once(peer.ws, 'close') as Promise<[CloseEvent]>;
    server.child.kill('SIGTERM');
    const [event] = await closed;
    assert.equal(event.code, 1012);
    const hint = JSON.parse(event.reason) as { retryAfterMs: number };
    assert.ok(hint.retryAfterMs > 0);
    const late = await rawUpgrade(server.port, '/hub');
    assert.match(late.status, /^HTTP\/1\.1 503 /);
    late.socket.destroy();
    stubborn.socket.destroy();
    assert.equal(await server.stop(), 0);
  });
});
