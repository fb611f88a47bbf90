/**
 * The Duplex client's side of permessage-deflate (RFC 7692 5 and 7) against a raw fake
 * server (test/helpers/fake-server.ts): responses it must refuse fail the connection
 * (`error`, then `close` 1006, no frame on the wire), a good response gives compressed
 * messages both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CloseEvent, InvalidArgumentError, WebSocket, type WebSocketOptions } from 'duplexjs';
import {
  type FakeConnection,
  type FakeServer,
  goodResponse,
  startFakeServer,
} from '../helpers/fake-server.js';
import { encodeFrame, Op } from '../helpers/raw-client.js';
import { bombPayload, RawDeflater, RawInflater, readMessage } from '../helpers/raw-deflate.js';
import { nextEvent, TIMEOUT, withTimeout } from './util.js';

const T = { timeout: 20_000 } as const;

/** respondWith is a fake server answering every handshake with `value` as Sec-WebSocket-Extensions. */
async function respondWith(value: string | undefined): Promise<FakeServer> {
  return startFakeServer({
    respond: (req) => goodResponse(req, value === undefined ? [] : [`Sec-WebSocket-Extensions: ${value}`]),
  });
}

interface Outcome {
  ws: WebSocket;
  conn: FakeConnection;
}

async function open(fake: FakeServer, options: WebSocketOptions = {}): Promise<Outcome> {
  const ws = new WebSocket(fake.url, undefined, options);
  const opened = nextEvent(ws, 'open');
  const conn = await fake.accept();
  await opened;
  return { ws, conn };
}

describe('the client offers permessage-deflate', () => {
  let fake: FakeServer;
  before(async () => {
    fake = await respondWith(undefined);
  });
  after(() => fake.close());

  const cases: Array<[WebSocketOptions['perMessageDeflate'], string | undefined]> = [
    [undefined, 'permessage-deflate; client_max_window_bits'],
    [true, 'permessage-deflate; client_max_window_bits'],
    [false, undefined],
    [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    ],
  ];
  for (const [option, offer] of cases) {
    test(`perMessageDeflate: ${JSON.stringify(option)} → ${offer ?? 'no offer'}`, T, async () => {
      const { ws, conn } = await open(fake, option === undefined ? {} : { perMessageDeflate: option });
      try {
        assert.equal(conn.request.headers['sec-websocket-extensions'], offer);
        // The server answered without the extension: plain RFC 6455.
        assert.equal(ws.extensions, '');
      } finally {
        ws.terminate();
      }
    });
  }

  test('invalid options throw InvalidArgumentError DUPLEX_INVALID_OPTION from the constructor', () => {
    for (const bad of [
      { clientMaxWindowBits: 16 },
      { serverMaxWindowBits: 7 },
      { level: 10 },
      { memLevel: 0 },
      { threshold: -1 },
      { serverNoContextTakeover: 'yes' as unknown as boolean },
    ]) {
      assert.throws(
        () => new WebSocket(fake.url, undefined, { perMessageDeflate: bad }),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.code === 'DUPLEX_INVALID_OPTION' &&
          e.option === `perMessageDeflate.${Object.keys(bad)[0]}`,
        JSON.stringify(bad),
      );
    }
  });
});

describe('RFC 7692 5: the client fails the connection on a response it cannot accept', () => {
  const bad: Array<[response: string, options: WebSocketOptions['perMessageDeflate'], why: string]> = [
    ['permessage-deflate; foo=1', true, 'a parameter not defined for a response'],
    ['permessage-deflate; foo', true, 'an unknown parameter without a value'],
    [
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      true,
      'a repeated parameter',
    ],
    ['permessage-deflate; server_max_window_bits=16', true, 'server_max_window_bits out of range'],
    ['permessage-deflate; server_max_window_bits=7', true, 'server_max_window_bits below 8'],
    [
      'permessage-deflate; client_max_window_bits',
      true,
      'client_max_window_bits without a value in a response',
    ],
    ['permessage-deflate; client_max_window_bits=16', true, 'client_max_window_bits out of range'],
    [
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
      'a client window above the offered 10',
    ],
    ['permessage-deflate', { serverMaxWindowBits: 10 }, 'server_max_window_bits offered but not answered'],
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      'a server window above the offered 10',
    ],
    [
      'permessage-deflate',
      { serverNoContextTakeover: true },
      'server_no_context_takeover offered but not answered',
    ],
    ['permessage-deflate; server_no_context_takeover=1', true, 'a value on server_no_context_takeover'],
    ['x-webkit-deflate-frame', true, 'an extension that was not offered'],
    ['permessage-deflate, permessage-deflate', true, 'permessage-deflate twice'],
    ['permessage-deflate', false, 'permessage-deflate when nothing was offered'],
  ];
  for (const [response, options, why] of bad) {
    test(`${why}: ${response}`, T, async () => {
      const fake = await respondWith(response);
      try {
        const ws = new WebSocket(fake.url, undefined, { perMessageDeflate: options });
        const events: string[] = [];
        ws.addEventListener('open', () => events.push('open'));
        const error = nextEvent<Event & { error?: unknown }>(ws, 'error');
        const closed = nextEvent<CloseEvent>(ws, 'close');
        const conn = await fake.accept();
        const err = (await error).error as { code?: string } | undefined;
        assert.equal(err?.code, 'DUPLEX_HANDSHAKE_BAD_EXTENSIONS', String(err));
        const close = await closed;
        // The connection was never established: no close frame, 1006 (RFC 6455 7.1.7, 7.4.1).
        assert.equal(close.code, 1006);
        assert.equal(close.wasClean, false);
        assert.deepEqual(events, [], 'no open event');
        assert.equal(ws.readyState, WebSocket.CLOSED);
        await conn.waitForTcpClose(TIMEOUT);
        assert.equal(conn.bufferedBytes, 0, 'nothing was sent after the handshake');
      } finally {
        await fake.close();
      }
    });
  }
});

describe('a good response: compressed messages both ways', () => {
  test(
    'permessage-deflate with context takeover: messages compress against the previous ones',
    T,
    async () => {
      const fake = await respondWith('permessage-deflate');
      const { ws, conn } = await open(fake);
      const inflate = new RawInflater();
      const deflate = new RawDeflater();
      try {
        assert.equal(ws.extensions, 'permessage-deflate');
        const text = `${'{"event":"tick","value":12345,"name":"héllo wörld"},'.repeat(200)}`;
        const sizes: number[] = [];
        for (let i = 0; i < 3; i++) {
          ws.send(text);
          const m = await readMessage(conn, TIMEOUT);
          assert.equal(m.opcode, Op.TEXT);
          assert.equal(m.rsv, 0x40, 'RSV1 on a compressed message');
          assert.ok(
            m.frames.every((f) => f.masked),
            'client frames are masked',
          );
          assert.equal((await inflate.decompress(m.payload)).toString(), text);
          sizes.push(m.payload.length);
        }
        assert.ok(sizes[1]! < sizes[0]! / 2, `context takeover: ${sizes.join(', ')}`);
        // Small messages go out uncompressed (threshold 1024).
        ws.send('tiny');
        const tiny = await readMessage(conn, TIMEOUT);
        assert.equal(tiny.rsv, 0);
        assert.equal(tiny.payload.toString(), 'tiny');

        for (let i = 0; i < 3; i++) {
          const received = nextEvent<MessageEvent>(ws, 'message');
          await conn.send(
            encodeFrame({ opcode: Op.TEXT, rsv: 0x40, mask: false, payload: await deflate.compress(text) }),
          );
          assert.equal((await received).data, text);
        }
        const binary = Buffer.alloc(100_000, 7);
        const received = nextEvent<MessageEvent>(ws, 'message');
        await conn.send(
          encodeFrame({ opcode: Op.BINARY, rsv: 0x40, mask: false, payload: await deflate.compress(binary) }),
        );
        assert.ok(Buffer.from((await received).data as Buffer).equals(binary));
      } finally {
        inflate.close();
        deflate.close();
        ws.terminate();
        await fake.close();
      }
    },
  );

  test('no context takeover and 10-bit windows both ways, as the response says', T, async () => {
    const response =
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10';
    const fake = await respondWith(response);
    const { ws, conn } = await open(fake);
    try {
      assert.equal(ws.extensions, response);
      const text = 'abcdefghij'.repeat(3000);
      for (let i = 0; i < 3; i++) {
        ws.send(text);
        const m = await readMessage(conn, TIMEOUT);
        assert.equal(m.rsv, 0x40);
        // A fresh 10-bit inflater per message: takeover or a wider window would fail here.
        const inflate = new RawInflater({ windowBits: 10, strictWindow: true });
        assert.equal((await inflate.decompress(m.payload)).toString(), text);
        inflate.close();
      }
      for (let i = 0; i < 3; i++) {
        const deflate = new RawDeflater({ windowBits: 10 });
        const received = nextEvent<MessageEvent>(ws, 'message');
        await conn.send(
          encodeFrame({ opcode: Op.TEXT, rsv: 0x40, mask: false, payload: await deflate.compress(text) }),
        );
        assert.equal((await received).data, text);
        deflate.close();
      }
    } finally {
      ws.terminate();
      await fake.close();
    }
  });

  test('RSV1 on a ping from the server fails the connection with 1002', T, async () => {
    const fake = await respondWith('permessage-deflate');
    const { ws, conn } = await open(fake);
    try {
      const closed = nextEvent<CloseEvent>(ws, 'close');
      await conn.send(encodeFrame({ opcode: Op.PING, rsv: 0x40, mask: false, payload: 'x' }));
      const frame = await conn.readFrame(TIMEOUT);
      assert.equal(frame.opcode, Op.CLOSE);
      assert.equal(frame.payload.readUInt16BE(0), 1002);
      assert.equal((await closed).code, 1002);
    } finally {
      ws.terminate();
      await fake.close();
    }
  });

  test('a compression bomb from the server fails the connection with 1009', T, async () => {
    const fake = await respondWith('permessage-deflate');
    const { ws, conn } = await open(fake, { maxPayload: 1024 * 1024 });
    try {
      const closed = nextEvent<CloseEvent>(ws, 'close');
      const bomb = await bombPayload(64 * 1024 * 1024);
      await conn.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, mask: false, payload: bomb }));
      const frame = await conn.readFrame(TIMEOUT);
      assert.equal(frame.opcode, Op.CLOSE);
      assert.equal(frame.payload.readUInt16BE(0), 1009);
      assert.equal((await withTimeout(closed, 'close')).code, 1009);
    } finally {
      ws.terminate();
      await fake.close();
    }
  });
});
