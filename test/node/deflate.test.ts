/**
 * permessage-deflate options of the node layer, Duplex to Duplex over loopback: the server
 * accepts offers by default and not with `perMessageDeflate: false`, the client offers by
 * default and not with `false`, `extensions` shows the negotiated header on both ends, and
 * messages of every size and type round-trip with each combination of parameters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { InvalidArgumentError, WebSocket, WebSocketServer, type WebSocketServerOptions } from 'duplexjs';
import type { PerMessageDeflateOptions } from 'duplexjs/protocol';
import { connectRaw } from '../helpers/raw-client.js';
import { nextEmit, nextEvent, startServer, stop, withTimeout } from './util.js';

const T = { timeout: 30_000 } as const;

/** pair connects a Duplex client to a fresh Duplex server and returns both ends and the request. */
async function pair(
  serverOptions: Omit<WebSocketServerOptions, 'port'>,
  clientDeflate?: boolean | PerMessageDeflateOptions,
) {
  const started = await startServer(serverOptions);
  const connection = nextEmit<[WebSocket, IncomingMessage]>(started.wss, 'connection');
  const client = new WebSocket(
    started.url,
    undefined,
    clientDeflate === undefined ? {} : { perMessageDeflate: clientDeflate },
  );
  await nextEvent(client, 'open');
  const [server, req] = await connection;
  return { ...started, client, server, req };
}

describe('perMessageDeflate options', () => {
  test('defaults: the client offers, the server accepts, extensions match on both ends', T, async () => {
    const p = await pair({});
    try {
      assert.equal(p.req.headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
      assert.equal(p.client.extensions, 'permessage-deflate');
      assert.equal(p.server.extensions, 'permessage-deflate');
    } finally {
      await stop(p.wss);
    }
  });

  test('server perMessageDeflate: false answers an offer without the extension', T, async () => {
    const p = await pair({ perMessageDeflate: false });
    try {
      assert.ok(p.req.headers['sec-websocket-extensions']?.startsWith('permessage-deflate'));
      assert.equal(p.client.extensions, '');
      assert.equal(p.server.extensions, '');
      const raw = await connectRaw(p.port, { extensions: 'permessage-deflate' });
      assert.equal(raw.response.headers['sec-websocket-extensions'], undefined);
      raw.destroy();
    } finally {
      await stop(p.wss);
    }
  });

  test('client perMessageDeflate: false sends no offer', T, async () => {
    const p = await pair({}, false);
    try {
      assert.equal(p.req.headers['sec-websocket-extensions'], undefined);
      assert.equal(p.client.extensions, '');
      assert.equal(p.server.extensions, '');
    } finally {
      await stop(p.wss);
    }
  });

  test('server options shape the response; both ends report it', T, async () => {
    const p = await pair({
      perMessageDeflate: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 12,
      },
    });
    try {
      const expected =
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12';
      assert.equal(p.server.extensions, expected);
      assert.equal(p.client.extensions, expected);
    } finally {
      await stop(p.wss);
    }
  });

  test('client options shape the offer; the server answers within it', T, async () => {
    const p = await pair(
      {},
      { serverNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 },
    );
    try {
      assert.equal(
        p.req.headers['sec-websocket-extensions'],
        'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
      );
      const expected =
        'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10';
      assert.equal(p.server.extensions, expected);
      assert.equal(p.client.extensions, expected);
    } finally {
      await stop(p.wss);
    }
  });

  test('a server that limits the client window declines a client that cannot be limited', T, async () => {
    const p = await pair({ perMessageDeflate: { clientMaxWindowBits: 10 } });
    try {
      const raw = await connectRaw(p.port, { extensions: 'permessage-deflate' });
      // RFC 7692 7.1.2.2: without client_max_window_bits in the offer the response may not carry it.
      assert.equal(raw.response.headers['sec-websocket-extensions'], undefined);
      raw.destroy();
      assert.equal(p.client.extensions, 'permessage-deflate; client_max_window_bits=10');
    } finally {
      await stop(p.wss);
    }
  });

  test('invalid server options throw InvalidArgumentError DUPLEX_INVALID_OPTION', () => {
    for (const bad of [
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 7.5 },
      { level: -2 },
      { memLevel: 10 },
    ]) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, perMessageDeflate: bad }),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.code === 'DUPLEX_INVALID_OPTION' &&
          e.option === `perMessageDeflate.${Object.keys(bad)[0]}`,
        JSON.stringify(bad),
      );
    }
  });
});

describe('messages round-trip with deflate, Duplex to Duplex', () => {
  const configs: Array<[string, PerMessageDeflateOptions | boolean, PerMessageDeflateOptions | boolean]> = [
    ['defaults', true, true],
    ['no context takeover both ways', { serverNoContextTakeover: true, clientNoContextTakeover: true }, true],
    ['9-bit windows', { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }, { clientMaxWindowBits: 9 }],
    [
      '8-bit windows (sent uncompressed)',
      { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      { clientMaxWindowBits: 8 },
    ],
    [
      'threshold 0, level 1, memLevel 1',
      { threshold: 0, level: 1, memLevel: 1 },
      { threshold: 0, level: 9, memLevel: 9 },
    ],
  ];
  for (const [name, serverDeflate, clientDeflate] of configs) {
    test(name, T, async () => {
      const p = await pair({ perMessageDeflate: serverDeflate }, clientDeflate);
      try {
        assert.ok(p.client.extensions.startsWith('permessage-deflate'), p.client.extensions);
        p.server.addEventListener('message', (e) => p.server.send(e.data as string | Buffer));
        const messages: Array<string | Buffer> = [
          '',
          Buffer.alloc(0),
          'héllo wörld €𝄞',
          'x'.repeat(2000),
          'x'.repeat(2000),
          randomBytes(70_000),
          Buffer.alloc(1024 * 1024, 'a'),
          randomBytes(1024 * 1024),
          JSON.stringify({ list: Array.from({ length: 5000 }, (_, i) => ({ i, name: `n${i % 10}` })) }),
        ];
        const got: Array<string | Buffer> = [];
        const done = new Promise<void>((resolve) => {
          p.client.addEventListener('message', (e) => {
            got.push(e.data as string | Buffer);
            if (got.length === messages.length) resolve();
          });
        });
        for (const m of messages) p.client.send(m);
        await withTimeout(done, 'echoes', 20_000);
        for (const [i, m] of messages.entries()) {
          if (typeof m === 'string') assert.equal(got[i], m, `message ${i}`);
          else assert.ok(Buffer.isBuffer(got[i]) && (got[i] as Buffer).equals(m), `message ${i}`);
        }
      } finally {
        await stop(p.wss);
      }
    });
  }
});
