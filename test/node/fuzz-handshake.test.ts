/**
 * Fuzzing the opening handshake over real loopback sockets, differentially: random request
 * heads go to a real standalone WebSocketServer, and the same method and headers go to the
 * core's validateClientRequest. The server answers 101 exactly when the core accepts, and
 * otherwise the core's status (or 426 for a plain HTTP request that names no WebSocket header
 * at all, docs/api.md Modes); the server emits no `error`, and it keeps serving.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'duplexjs';
import { HandshakeError, type HeaderMap, validateClientRequest } from 'duplexjs/protocol';
import fc from 'fast-check';
import { params } from '../helpers/fuzz.js';
import { connectRaw, openTcp } from '../helpers/raw-client.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Pieces of header values: the right words, near misses and separators (no CR, LF or NUL: HTTP forbids them). */
const piece = fc.constantFrom(
  'websocket',
  'WebSocket',
  'Upgrade',
  'upgrade',
  'keep-alive',
  '13',
  '8',
  KEY,
  'AAAAAAAAAAAAAAAAAAAAAA=',
  'chat',
  'permessage-deflate',
  'client_max_window_bits',
  'server_max_window_bits=10',
  '=',
  ';',
  ',',
  ' ',
  '"',
  '\\',
  'x',
);
const value = fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => p.join(''));

const GOOD: Record<string, string> = {
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-version': '13',
  'sec-websocket-key': KEY,
};
const NAMES = [
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
];

const request = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant('GET') },
    { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'HEAD', 'OPTIONS') },
  ),
  base: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  replaced: fc.dictionary(fc.constantFrom(...NAMES), fc.option(value), { maxKeys: 3 }),
});

describe('fuzz: the opening handshake over loopback agrees with validateClientRequest (RFC 6455 4.2)', () => {
  let wss: WebSocketServer;
  let port: number;
  const serverErrors: unknown[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', dangerouslyAllowAnyOrigin: true });
    wss.on('error', (error) => serverErrors.push(error));
    wss.on('connection', (ws) => {
      ws.addEventListener('message', (event) => ws.send(event.data as string | Buffer));
    });
    await new Promise<void>((resolve) => wss.on('listening', () => resolve()));
    port = (wss.address() as AddressInfo).port;
  });

  after(() => wss.close());

  it('101 exactly when the core accepts, else the core’s status', async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ method, base, replaced }) => {
        const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...(base ? GOOD : {}) };
        for (const [name, v] of Object.entries(replaced)) {
          if (v === null) delete headers[name];
          else headers[name] = v;
        }
        // What node:http hands over: values without surrounding whitespace.
        const seen: HeaderMap = {};
        for (const [name, v] of Object.entries(headers)) seen[name] = v.trim();
        let want: number;
        try {
          validateClientRequest({ method, httpVersion: '1.1', headers: seen });
          want = 101;
        } catch (e) {
          assert.ok(e instanceof HandshakeError && e.status !== undefined);
          want = e.status;
        }
        const head = `${method} / HTTP/1.1\r\n${Object.entries(headers)
          .map(([n, v]) => `${n}: ${v}\r\n`)
          .join('')}\r\n`;
        const c = await openTcp(port);
        try {
          await c.send(Buffer.from(head, 'latin1'));
          const res = await c.readHead();
          const plain = headers.upgrade === undefined && headers['sec-websocket-key'] === undefined;
          const allowed = plain && want !== 101 ? [want, 426] : [want];
          assert.ok(
            allowed.includes(res.status),
            `${res.startLine} for ${JSON.stringify(headers)} (core: ${want})`,
          );
        } finally {
          c.destroy();
        }
        assert.deepEqual(serverErrors, [], 'the server emitted error');
      }),
      params(60),
    );
    const good = await connectRaw(port);
    good.destroy();
  });
});
