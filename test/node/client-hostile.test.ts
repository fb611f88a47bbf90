/**
 * The Node client against a hostile server (issue 13, item 2). Every server here is a raw
 * node:net server writing HTTP by hand (test/helpers/fake-server.ts or the small `rawHttp`
 * below), sharing no code with Duplex. Each case expects a coded error on the client and
 * checks what reached the wire: nothing that should not be there.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, WebSocket, type WebSocketOptions } from 'duplexjs';
import { type FakeServer, goodResponse, startFakeServer } from '../helpers/fake-server.js';
import { closePayload, encodeFrame, GUID, Op } from '../helpers/raw-client.js';
import { nextEvent, sleep, withTimeout } from './util.js';

/** failure opens a client and resolves with the error event's error and the close event. */
async function failure(
  ws: WebSocket,
): Promise<{ error: { code?: string; status?: number }; close: CloseEvent }> {
  const error = nextEvent<ErrorEvent>(ws, 'error');
  const close = nextEvent<CloseEvent>(ws, 'close');
  return { error: (await error).error as { code?: string; status?: number }, close: await close };
}

/** nothingAfterRequest checks that the client sent no byte after its request head and closed TCP. */
async function nothingAfterRequest(server: FakeServer): Promise<void> {
  const conn = await server.accept();
  await conn.waitForTcpClose();
  assert.equal(conn.bufferedBytes, 0, 'no frame after a refused handshake');
}

interface RawRequest {
  head: string;
  headers: Record<string, string>;
}

/** rawHttp is a plain TCP server that records each request head and lets `answer` write the reply. */
async function rawHttp(answer: (req: RawRequest, socket: net.Socket, port: number) => void) {
  const requests: RawRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = got.slice(0, end);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const req = { head, headers };
      requests.push(req);
      answer(req, socket, port);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function accept101(req: RawRequest, extra = ''): string {
  const accept = createHash('sha1')
    .update(req.headers['sec-websocket-key'] + GUID)
    .digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}

describe('client against a hostile server: the handshake response (RFC 6455 4.1)', () => {
  it('a subprotocol that was not offered: DUPLEX_HANDSHAKE_BAD_PROTOCOL, nothing sent', async () => {
    const server = await startFakeServer({
      respond: (req) => goodResponse(req, ['Sec-WebSocket-Protocol: evil']),
    });
    const { error, close } = await failure(new WebSocket(server.url, ['chat']));
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_BAD_PROTOCOL');
    assert.equal(close.code, 1006);
    await nothingAfterRequest(server);
    await server.close();
  });

  it('a subprotocol when none was offered: DUPLEX_HANDSHAKE_BAD_PROTOCOL', async () => {
    const server = await startFakeServer({
      respond: (req) => goodResponse(req, ['Sec-WebSocket-Protocol: chat']),
    });
    const { error } = await failure(new WebSocket(server.url));
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_BAD_PROTOCOL');
    await nothingAfterRequest(server);
    await server.close();
  });

  it('an extension that was not offered: DUPLEX_HANDSHAKE_BAD_EXTENSIONS, nothing sent', async () => {
    for (const [options, header] of [
      [{ perMessageDeflate: false }, 'permessage-deflate'],
      [{}, 'x-evil-extension'],
      [{}, 'permessage-deflate; server_max_window_bits=20'],
    ] as const) {
      const server = await startFakeServer({
        respond: (req) => goodResponse(req, [`Sec-WebSocket-Extensions: ${header}`]),
      });
      const { error } = await failure(new WebSocket(server.url, undefined, options));
      assert.equal(error.code, 'DUPLEX_HANDSHAKE_BAD_EXTENSIONS', header);
      await nothingAfterRequest(server);
      await server.close();
    }
  });

  it('a wrong Sec-WebSocket-Accept: DUPLEX_HANDSHAKE_BAD_ACCEPT, nothing sent', async () => {
    const server = await startFakeServer({
      respond: () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    });
    const { error } = await failure(new WebSocket(server.url));
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_BAD_ACCEPT');
    await nothingAfterRequest(server);
    await server.close();
  });

  it('an oversized response head: a coded error, the socket dropped', async () => {
    const http = await rawHttp((req, socket) => {
      socket.write(accept101(req, `X-Junk: ${'a'.repeat(256 * 1024)}\r\n`));
    });
    const { error, close } = await failure(new WebSocket(`ws://127.0.0.1:${http.port}/`));
    assert.equal(typeof error.code, 'string', `a coded error, got ${String(error.code)}`);
    assert.equal(close.code, 1006);
    http.close();
  });

  it('a response head that dribbles in: DUPLEX_HANDSHAKE_TIMEOUT at handshakeTimeout', async () => {
    let timer: NodeJS.Timeout | undefined;
    const http = await rawHttp((_req, socket) => {
      const bytes = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n', 'latin1');
      let i = 0;
      timer = setInterval(() => {
        if (i < bytes.length && !socket.destroyed) socket.write(bytes.subarray(i, ++i));
      }, 20);
    });
    const { error } = await failure(new WebSocket(`ws://127.0.0.1:${http.port}/`, { handshakeTimeout: 300 }));
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_TIMEOUT');
    clearInterval(timer);
    http.close();
  });
});

describe('client against a hostile server: redirects', () => {
  it('are not followed unless asked: DUPLEX_HANDSHAKE_UNEXPECTED_STATUS with the 3xx', async () => {
    const http = await rawHttp((_req, socket, port) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${port}/next\r\nContent-Length: 0\r\n\r\n`);
    });
    const { error } = await failure(new WebSocket(`ws://127.0.0.1:${http.port}/`));
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS');
    assert.equal(error.status, 302);
    assert.equal(http.requests.length, 1, 'the Location was not requested');
    http.close();
  });

  it('are followed at most maxRedirects times: DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS', async () => {
    const http = await rawHttp((_req, socket, port) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${port}/loop\r\nContent-Length: 0\r\n\r\n`);
    });
    const ws = new WebSocket(`ws://127.0.0.1:${http.port}/`, { followRedirects: true, maxRedirects: 3 });
    const { error } = await failure(ws);
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS');
    assert.equal(http.requests.length, 4, 'the first request and 3 redirects');
    http.close();
  });

  it('drop Authorization, Cookie and URL credentials across origins, keep them within one', async () => {
    const target = await rawHttp((req, socket) => socket.write(accept101(req)));
    const sameOrigin = await rawHttp((req, socket, port) => {
      if (req.head.startsWith('GET /first ')) {
        socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: /second\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      if (req.head.startsWith('GET /second ')) {
        socket.end(
          `HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${target.port}/third\r\nContent-Length: 0\r\n\r\n`,
        );
        return;
      }
      socket.destroy(new Error(`unexpected ${req.head} on ${port}`));
    });
    const ws = new WebSocket(`ws://user:secret@127.0.0.1:${sameOrigin.port}/first`, {
      followRedirects: true,
      headers: { Authorization: 'Bearer token', Cookie: 'session=1', 'X-Other': 'kept' },
    });
    await nextEvent(ws, 'open');
    const [first, second] = sameOrigin.requests;
    const [third] = target.requests;
    assert.equal(first!.headers['authorization'], 'Bearer token');
    assert.equal(second!.headers['authorization'], 'Bearer token', 'same origin: kept');
    assert.equal(second!.headers['cookie'], 'session=1');
    assert.equal(third!.headers['authorization'], undefined, 'other origin: dropped');
    assert.equal(third!.headers['cookie'], undefined);
    assert.equal(third!.headers['x-other'], 'kept');
    assert.equal(ws.url, `ws://127.0.0.1:${target.port}/third`);
    ws.terminate();
    sameOrigin.close();
    target.close();
  });
});

describe('client API misuse is thrown at the API, never sent', () => {
  it('CR, LF or NUL in a header name or value, or in origin: DUPLEX_INVALID_HEADER, no connection', async () => {
    const http = await rawHttp((req, socket) => socket.write(accept101(req)));
    const url = `ws://127.0.0.1:${http.port}/`;
    for (const options of <WebSocketOptions[]>[
      { headers: { 'X-A': 'a\r\nInjected: 1' } },
      { headers: { 'X-A': 'a\nInjected: 1' } },
      { headers: { 'X-A\r\nInjected': '1' } },
      { headers: { 'X-A': 'a\0' } },
      { origin: 'https://a.example\r\nInjected: 1' },
    ]) {
      assert.throws(
        () => new WebSocket(url, options),
        (e: { code?: string }) => e.code === 'DUPLEX_INVALID_HEADER',
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => new WebSocket(url, ['chat\r\nInjected: 1']),
      (e: { code?: string }) => e.code === 'DUPLEX_INVALID_PROTOCOL',
    );
    await sleep(50);
    assert.equal(http.requests.length, 0, 'nothing reached the server');
    http.close();
  });

  it('close(1005), close codes out of range and reasons over 123 bytes throw; ping over 125 bytes throws', async () => {
    const server = await startFakeServer();
    const ws = new WebSocket(server.url);
    await nextEvent(ws, 'open');
    const conn = await server.accept();
    const code = (c: string) => (e: { code?: string }) => e.code === c;
    for (const bad of [1005, 1006, 1015, 999, 1001, 2999, 5000, 1000.5]) {
      assert.throws(() => ws.close(bad), code('DUPLEX_INVALID_CLOSE_CODE'), String(bad));
    }
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), code('DUPLEX_CLOSE_REASON_TOO_LONG'));
    assert.throws(() => ws.close(1000, 'é'.repeat(62)), code('DUPLEX_CLOSE_REASON_TOO_LONG'), '124 bytes');
    assert.throws(() => ws.ping(Buffer.alloc(126)), code('DUPLEX_CONTROL_PAYLOAD_TOO_BIG'));
    assert.equal(ws.readyState, WebSocket.OPEN, 'nothing of it closed the connection');
    // The only frame on the wire is the close that follows.
    ws.close(1000, 'x'.repeat(123));
    const closeFrame = await conn.readClose();
    assert.equal(closeFrame.before.length, 0, 'no frame before the close');
    assert.equal(closeFrame.code, 1000);
    assert.equal(closeFrame.reason.length, 123);
    await conn.send(encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1000), mask: false }));
    conn.end();
    await nextEvent(ws, 'close');
    await server.close();
  });
});

describe('client against a hostile server: frames', () => {
  it('a ping over 125 bytes fails the connection with 1002 (RFC 6455 5.5)', async () => {
    const server = await startFakeServer();
    const ws = new WebSocket(server.url);
    await nextEvent(ws, 'open');
    const conn = await server.accept();
    const done = failure(ws);
    await conn.send(encodeFrame({ opcode: Op.PING, payload: Buffer.alloc(126, 1), mask: false }));
    const { error, close } = await done;
    assert.equal(error.code, 'DUPLEX_CONTROL_TOO_BIG');
    assert.equal(close.code, 1002);
    const closeFrame = await conn.readClose();
    assert.equal(closeFrame.code, 1002);
    assert.equal(closeFrame.before.length, 0, 'no pong for it');
    await server.close();
  });

  it('a frame announcing 2^63-1 bytes fails with 1009 before anything is buffered', async () => {
    const server = await startFakeServer();
    const ws = new WebSocket(server.url, { maxPayload: 1024 });
    await nextEvent(ws, 'open');
    const conn = await server.accept();
    const done = failure(ws);
    await conn.send(
      encodeFrame({
        opcode: Op.BINARY,
        payload: Buffer.alloc(0),
        mask: false,
        declaredLength: 2n ** 63n - 1n,
      }),
    );
    const { error, close } = await done;
    assert.equal(error.code, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.equal(close.code, 1009);
    await server.close();
  });

  it('a masked frame from the server fails with 1002', async () => {
    const server = await startFakeServer();
    const ws = new WebSocket(server.url);
    await nextEvent(ws, 'open');
    const conn = await server.accept();
    const done = failure(ws);
    await conn.send(encodeFrame({ opcode: Op.TEXT, payload: 'hi', mask: true }));
    const { close } = await done;
    assert.equal(close.code, 1002);
    await server.close();
  });

  it('bytes before the 101 is complete never reach the application', async () => {
    const http = await rawHttp((req, socket) => {
      // A frame glued to the 101 is data of the connection, and a valid one is delivered.
      socket.write(
        Buffer.concat([
          Buffer.from(accept101(req), 'latin1'),
          encodeFrame({ opcode: Op.TEXT, payload: 'early', mask: false }),
        ]),
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${http.port}/`);
    const message = await withTimeout(
      new Promise<string>((resolve) => ws.addEventListener('message', (e) => resolve(String(e.data)))),
      'the early message',
    );
    assert.equal(message, 'early');
    ws.terminate();
    http.close();
  });
});
