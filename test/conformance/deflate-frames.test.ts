/**
 * RFC 7692 6 and 7.2 on the wire, against a running `duplex echo` (default options) after a
 * negotiated `permessage-deflate`: which frames may carry RSV1, compressed fragmented
 * messages, messages from 0 bytes to 16 MiB, context takeover, and corrupt data.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { connectRaw, encodeFrame, encodeFrames, Op, type RawClient } from '../helpers/raw-client.js';
import {
  DeflateSession,
  fragmentFrames,
  jsonLike,
  parseDeflateResponse,
  RawDeflater,
} from '../helpers/raw-deflate.js';
import { echoServer, expectFailure, hex, READ_MS, TEST } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

const MiB = 1024 * 1024;
/** The echo's default maxPayload (DESIGN.md). */
const MAX_PAYLOAD = 16 * MiB;

/** withSession connects with `offer`, checks deflate was negotiated, runs `fn`, and always cleans up. */
async function withSession<T>(
  fn: (s: DeflateSession, c: RawClient) => Promise<T>,
  offer = 'permessage-deflate; client_max_window_bits',
): Promise<T> {
  const c = await connectRaw(server.get().port, { extensions: offer });
  const header = c.response.headers['sec-websocket-extensions'];
  if (header === undefined) {
    c.destroy();
    throw new Error('permessage-deflate was not negotiated');
  }
  const session = new DeflateSession(c, parseDeflateResponse(header));
  try {
    return await fn(session, c);
  } finally {
    session.close();
    c.destroy();
  }
}

/** echoes sends `data` compressed (in `fragments` frames) and checks the echo's type and bytes. */
async function echoes(
  s: DeflateSession,
  opcode: number,
  data: Buffer | string,
  fragments = 1,
): Promise<boolean> {
  await s.sendCompressed(opcode, data, fragments);
  const echo = await s.receive(READ_MS);
  const expected = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  assert.equal(echo.opcode, opcode, 'echo opcode');
  assert.equal(echo.data.length, expected.length, 'echo length');
  assert.ok(echo.data.equals(expected), 'echo bytes');
  return echo.compressed;
}

// "Hello" compressed (RFC 7692 7.2.3.1).
const HELLO = hex('f2 48 cd c9 c9 07 00');

describe('RFC 7692 6: RSV1 marks a compressed message on its first frame only', () => {
  test('RFC 7692 7.2.3.1: the example "Hello" (f2 48 cd c9 c9 07 00) is echoed as Hello', TEST, () =>
    withSession(async (s, c) => {
      await c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: HELLO }));
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.toString(), 'Hello');
    }),
  );

  test('RFC 7692 7.2.3.2: "Hello" twice with context takeover (the second as f2 00 11 00 00)', TEST, () =>
    withSession(async (s, c) => {
      await c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: HELLO }));
      assert.equal((await s.receive(READ_MS)).data.toString(), 'Hello');
      await c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: hex('f2 00 11 00 00') }));
      assert.equal((await s.receive(READ_MS)).data.toString(), 'Hello');
    }),
  );

  test('RFC 7692 7.2.3.3: a DEFLATE block with no compression (stored) is accepted', TEST, () =>
    withSession(async (s, c) => {
      await c.send(
        encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: hex('00 05 00 fa ff 48 65 6c 6c 6f 00') }),
      );
      assert.equal((await s.receive(READ_MS)).data.toString(), 'Hello');
    }),
  );

  test('RFC 7692 7.2.3.6: an empty message compressed as 00 and as 02 00', TEST, () =>
    withSession(async (s, c) => {
      await c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: hex('00') }));
      await c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: hex('02 00') }));
      const a = await s.receive(READ_MS);
      const b = await s.receive(READ_MS);
      assert.deepEqual([a.opcode, a.data.length, b.opcode, b.data.length], [Op.TEXT, 0, Op.BINARY, 0]);
    }),
  );

  test('uncompressed messages (RSV1 clear) are still accepted after negotiation', TEST, () =>
    withSession(async (s, c) => {
      await c.send(encodeFrame({ opcode: Op.TEXT, payload: 'plain' }));
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.toString(), 'plain');
    }),
  );

  test('small echoes go out uncompressed, large ones compressed (threshold)', TEST, () =>
    withSession(async (s) => {
      assert.equal(await echoes(s, Op.TEXT, 'tiny'), false, 'a 4-byte echo is not compressed');
      assert.equal(await echoes(s, Op.TEXT, jsonLike(64 * 1024)), true, 'a 64 KiB echo is compressed');
    }),
  );

  for (const [kind, opcode] of [
    ['ping', Op.PING],
    ['pong', Op.PONG],
    ['close', Op.CLOSE],
  ] as const) {
    // RFC 7692 6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
    // frames" and RFC 6455 5.2: a non-zero RSV bit without a meaning fails the connection.
    test(`RSV1 on a ${kind} frame fails with 1002`, TEST, () =>
      withSession(async (_s, c) => {
        void c.send(
          encodeFrame({
            opcode,
            rsv: 0x40,
            payload: opcode === Op.CLOSE ? hex('03e8') : HELLO.subarray(0, 5),
          }),
        );
        await expectFailure(c, 1002, `RSV1 on ${kind}`);
      }),
    );
  }

  test('RSV1 on a continuation frame fails with 1002', TEST, () =>
    withSession(async (_s, c) => {
      void c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'Hel', fin: false },
          { opcode: Op.CONTINUATION, payload: 'lo', rsv: 0x40 },
        ]),
      );
      await expectFailure(c, 1002, 'RSV1 on a continuation');
    }),
  );

  test('RSV1 on the first and on a continuation frame fails with 1002', TEST, () =>
    withSession(async (_s, c) => {
      void c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: HELLO.subarray(0, 3), rsv: 0x40, fin: false },
          { opcode: Op.CONTINUATION, payload: HELLO.subarray(3), rsv: 0x40 },
        ]),
      );
      await expectFailure(c, 1002, 'RSV1 on both frames');
    }),
  );

  for (const [name, bit] of [
    ['RSV2', 0x20],
    ['RSV3', 0x10],
  ] as const) {
    test(`${name} stays reserved with deflate negotiated: 1002`, TEST, () =>
      withSession(async (_s, c) => {
        void c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40 | bit, payload: HELLO }));
        await expectFailure(c, 1002, `${name}`);
      }),
    );
  }

  test('a control frame between compressed fragments is answered and the message echoed', TEST, () =>
    withSession(async (s, c) => {
      const data = jsonLike(20_000);
      const compressed = await s.deflater.compress(data);
      const third = Math.ceil(compressed.length / 3);
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, rsv: 0x40, fin: false, payload: compressed.subarray(0, third) },
          { opcode: Op.PING, payload: 'in between' },
          { opcode: Op.CONTINUATION, fin: false, payload: compressed.subarray(third, 2 * third) },
          { opcode: Op.CONTINUATION, payload: compressed.subarray(2 * third) },
        ]),
      );
      const pong = await c.readFrame(READ_MS);
      assert.equal(pong.opcode, Op.PONG);
      assert.equal(pong.rsv, 0, 'RFC 7692 6.1: no RSV1 on a control frame');
      assert.equal(pong.payload.toString(), 'in between');
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.toString(), data);
    }),
  );
});

describe('RFC 7692 6.1 and 7.2: compressed fragmented messages', () => {
  for (const fragments of [2, 3, 17]) {
    test(`a 100 KB text message compressed in ${fragments} fragments`, TEST, () =>
      withSession(async (s) => {
        await echoes(s, Op.TEXT, jsonLike(100_000), fragments);
      }),
    );
  }

  test('a compressed message in 1-byte fragments', TEST, () =>
    withSession(async (s, c) => {
      const data = jsonLike(3000);
      const compressed = await s.deflater.compress(data);
      await c.send(fragmentFrames(Op.TEXT, compressed, compressed.length, 0x40));
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.toString(), data);
    }),
  );

  test('a compressed message whose first fragment is empty', TEST, () =>
    withSession(async (s, c) => {
      const data = jsonLike(4000);
      const compressed = await s.deflater.compress(data);
      await c.send(
        encodeFrames([
          { opcode: Op.BINARY, rsv: 0x40, fin: false, payload: Buffer.alloc(0) },
          { opcode: Op.CONTINUATION, payload: compressed },
        ]),
      );
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.toString(), data);
    }),
  );

  test('a multi-byte UTF-8 character split across compressed fragments', TEST, () =>
    withSession(async (s) => {
      await echoes(s, Op.TEXT, '€𝄞é'.repeat(500), 7);
    }),
  );

  test('the echo of a fragmented message carries RSV1 on its first frame only', TEST, () =>
    withSession(async (s) => {
      await s.sendCompressed(Op.BINARY, randomBytes(200_000), 5);
      // readMessage (in receive) fails on RSV1 on a continuation frame.
      const echo = await s.receive(READ_MS);
      assert.equal(echo.data.length, 200_000);
    }),
  );
});

describe('RFC 7692 7.2: compressed messages from 0 bytes to 16 MiB', () => {
  const sizes = [0, 1, 125, 126, 1023, 1024, 1025, 65_535, 65_536, 65_537, MiB];
  for (const size of sizes) {
    test(`${size} bytes of text and of random binary`, TEST, () =>
      withSession(async (s) => {
        await echoes(s, Op.TEXT, jsonLike(size));
        await echoes(s, Op.BINARY, randomBytes(size));
      }),
    );
  }

  test(
    '16 MiB (maxPayload exactly) of compressible text, in one frame and in 16 fragments',
    {
      timeout: 120_000,
    },
    () =>
      withSession(async (s) => {
        const text = jsonLike(MAX_PAYLOAD);
        await echoes(s, Op.TEXT, text);
        await echoes(s, Op.TEXT, text, 16);
      }),
  );

  test(
    '16 MiB (maxPayload exactly) of random binary, larger than maxPayload on the wire, is accepted',
    {
      timeout: 120_000,
    },
    () =>
      withSession(async (s) => {
        // Random data does not compress: deflate's stored blocks make the frame a little larger
        // than the message. Only the inflated size is held to maxPayload (docs/design/protocol-choices.md).
        const data = randomBytes(MAX_PAYLOAD);
        assert.ok(
          zlib.deflateRawSync(data).length > MAX_PAYLOAD,
          'the probe must exceed maxPayload on the wire',
        );
        await echoes(s, Op.BINARY, data);
      }),
  );

  test('16 MiB + 1 byte inflated fails with 1009', { timeout: 120_000 }, () =>
    withSession(async (s, c) => {
      void s.sendCompressed(Op.BINARY, Buffer.alloc(MAX_PAYLOAD + 1, 0x61));
      await expectFailure(c, 1009, '16 MiB + 1 inflated');
    }),
  );
});

describe('RFC 7692 7.2.1 and 8.2.3: context takeover across messages', () => {
  test('the client keeps its context: repeated messages shrink to back-references and still echo', TEST, () =>
    withSession(async (s) => {
      const text = jsonLike(30_000);
      const first = await s.deflater.compress(text);
      const again = await s.deflater.compress(text);
      assert.ok(
        again.length < first.length / 4,
        `second copy is a back-reference (${again.length} vs ${first.length})`,
      );
      // Both were compressed already: send them as they are.
      await s.socket.send(fragmentFrames(Op.TEXT, first, 1, 0x40));
      await s.socket.send(fragmentFrames(Op.TEXT, again, 2, 0x40));
      for (let i = 0; i < 2; i++) assert.equal((await s.receive(READ_MS)).data.toString(), text);
      for (let i = 0; i < 5; i++) await echoes(s, Op.TEXT, text);
    }),
  );

  test('client_no_context_takeover: each message compressed from an empty context', TEST, () =>
    withSession(async (s) => {
      assert.equal(s.params.clientNoContextTakeover, true);
      for (let i = 0; i < 5; i++) await echoes(s, Op.BINARY, Buffer.from(jsonLike(10_000)));
    }, 'permessage-deflate; client_no_context_takeover'),
  );

  test('server_no_context_takeover: every echo inflates from an empty context', TEST, () =>
    withSession(async (s) => {
      assert.equal(s.params.serverNoContextTakeover, true);
      // The session's inflater starts fresh for each message, so a back-reference into an
      // earlier message would fail to inflate.
      for (let i = 0; i < 5; i++) assert.equal(await echoes(s, Op.TEXT, jsonLike(10_000)), true);
    }, 'permessage-deflate; server_no_context_takeover'),
  );

  test('uncompressed and compressed messages interleave without breaking the contexts', TEST, () =>
    withSession(async (s, c) => {
      const text = jsonLike(8000);
      for (let i = 0; i < 4; i++) {
        await echoes(s, Op.TEXT, text);
        await c.send(encodeFrame({ opcode: Op.TEXT, payload: `plain ${i}` }));
        assert.equal((await s.receive(READ_MS)).data.toString(), `plain ${i}`);
      }
    }),
  );
});

describe('corrupt compressed data fails the connection', () => {
  test('RSV1 with data that is not DEFLATE (reserved block type 11)', TEST, () =>
    withSession(async (_s, c) => {
      void c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: hex('ff ff ff ff') }));
      const res = await c.readClose(READ_MS);
      // RFC 7692 does not name a code for data that does not inflate: Duplex sends 1007
      // (RFC 6455 7.4.1: data not consistent with the type of the message), as ws does.
      assert.equal(res.code, 1007, `close code ${res.code}`);
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('a DEFLATE stream with a back-reference before its start', TEST, () =>
    withSession(async (_s, c) => {
      // The second message of a context that the server never saw refers back into the first.
      const elsewhere = new RawDeflater();
      const text = jsonLike(5000);
      await elsewhere.compress(text);
      const dangling = await elsewhere.compress(text);
      elsewhere.close();
      void c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: dangling }));
      const res = await c.readClose(READ_MS);
      assert.equal(res.code, 1007, `close code ${res.code}`);
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('compressed text that inflates to invalid UTF-8 fails with 1007', TEST, () =>
    withSession(async (s, c) => {
      const bad = zlib.deflateRawSync(Buffer.from([0x48, 0x69, 0xc3, 0x28]), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      void c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: bad.subarray(0, -4) }));
      await expectFailure(c, 1007, 'invalid UTF-8 after inflation');
      void s;
    }),
  );
});
