/**
 * permessage-deflate (RFC 7692 6 and 7.2) through Connection: bytes in, events out, with
 * the PerMessageDeflate extension. Server-to-client frames are unmasked hex; client frames
 * are masked with the fixed key 01 02 03 04. The RFC's own examples (7.2.3) are checked
 * byte for byte.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import {
  acceptDeflateResponse,
  Connection,
  type DeflateParams,
  negotiateDeflate,
  Opcode,
  offerDeflate,
  PayloadTooBigError,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  parseExtensionHeader,
  serializeFrame,
} from 'duplexjs/protocol';
import { assertBytes, expectFailure, FIXED_KEY, feed, hex, maskedFrame, messages, toHex } from './helpers.js';

const MiB = 1024 * 1024;
const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** deflateClient is a client Connection with permessage-deflate (threshold 0: every message is compressed). */
function deflateClient(
  params: Partial<DeflateParams> = {},
  options: PerMessageDeflateOptions = {},
  maxPayload?: number,
) {
  return new Connection({
    role: 'client',
    maskKey: FIXED_KEY,
    ...(maxPayload === undefined ? {} : { maxPayload }),
    extensions: [
      new PerMessageDeflate({
        role: 'client',
        params: { ...PARAMS, ...params },
        options: { threshold: 0, skipIncompressible: false, ...options },
      }),
    ],
  });
}

function deflateServer(
  params: Partial<DeflateParams> = {},
  options: PerMessageDeflateOptions = {},
  maxPayload?: number,
) {
  return new Connection({
    role: 'server',
    ...(maxPayload === undefined ? {} : { maxPayload }),
    extensions: [
      new PerMessageDeflate({
        role: 'server',
        params: { ...PARAMS, ...params },
        options: { threshold: 0, skipIncompressible: false, ...options },
      }),
    ],
  });
}

/** negotiatedPair runs the whole negotiation (offer, server's choice, client's check) and returns both ends. */
function negotiatedPair(
  clientOptions: PerMessageDeflateOptions,
  serverOptions: PerMessageDeflateOptions = {},
) {
  const agreed = negotiateDeflate(parseExtensionHeader(offerDeflate(clientOptions)), serverOptions);
  assert.ok(agreed, 'the server accepts the offer');
  const clientParams = acceptDeflateResponse(agreed.response, clientOptions);
  const client = new Connection({
    role: 'client',
    maskKey: FIXED_KEY,
    extensions: [new PerMessageDeflate({ role: 'client', params: clientParams, options: clientOptions })],
  });
  const server = new Connection({
    role: 'server',
    extensions: [new PerMessageDeflate({ role: 'server', params: agreed.params, options: serverOptions })],
  });
  return { client, server, params: agreed.params };
}

/** jsonLike is compressible text like a real-time app's messages, different for each seed. */
function jsonLike(bytes: number, seed = 0): Buffer {
  const parts: string[] = [];
  let length = 2;
  for (let i = 0; length < bytes; i++) {
    const item = JSON.stringify({
      id: seed * 100_000 + i,
      channel: `room-${(seed + i) % 7}`,
      user: `user${(i * 31 + seed) % 97}`,
      text: `message ${i} of ${seed}: ${'abcdefghij'.slice(0, (i + seed) % 10)}`,
      at: 1_700_000_000_000 + i * 1_337,
    });
    parts.push(item);
    length += item.length + 1;
  }
  return Buffer.from(`[${parts.join(',')}]`.slice(0, bytes));
}

/** serverFrames builds unmasked frames from [fin, opcode, rsv, payload] tuples with serializeFrame. */
function serverFrames(...frames: Array<[boolean, number, number, Buffer]>): Buffer {
  return Buffer.concat(
    frames.flatMap(([fin, opcode, rsv, payload]) => serializeFrame({ fin, opcode, rsv, payload })),
  );
}

function clientFrames(...frames: Array<[boolean, number, number, Buffer]>): Buffer {
  return Buffer.concat(
    frames.flatMap(([fin, opcode, rsv, payload]) =>
      serializeFrame({ fin, opcode, rsv, payload, maskKey: FIXED_KEY() }),
    ),
  );
}

/** rawDeflate is an independent one-message compressor (no context), tail removed as RFC 7692 7.2.1 says. */
function rawDeflate(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** firstByte of the frames a send call returned. */
function firstByte(frames: Buffer[]): number {
  return Buffer.concat(frames)[0]!;
}

describe('RFC 7692 7.2.3 examples', () => {
  it('7.2.3.1: "Hello" in one compressed DEFLATE block is c1 07 f2 48 cd c9 c9 07 00', () => {
    // "0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00"
    const client = deflateClient();
    const got = feed(client, hex('c1 07 f2 48 cd c9 c9 07 00'));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
    assertBytes(deflateServer().sendText('Hello'), 'c1 07 f2 48 cd c9 c9 07 00');
  });

  it('7.2.3.1: the same message in two fragments, RSV1 on the first only', () => {
    // "0x41 0x03 0xf2 0x48 0xcd" and "0x80 0x04 0xc9 0xc9 0x07 0x00"
    const got = feed(deflateClient(), hex('41 03 f2 48 cd'), hex('80 04 c9 c9 07 00'));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
  });

  it('7.2.3.2: with context takeover the second "Hello" is c1 05 f2 00 11 00 00', () => {
    // "0xc1 0x05 0xf2 0x00 0x11 0x00 0x00": a back-reference into the first message.
    const server = deflateServer();
    assertBytes(server.sendText('Hello'), 'c1 07 f2 48 cd c9 c9 07 00');
    assertBytes(server.sendText('Hello'), 'c1 05 f2 00 11 00 00');
    const got = feed(deflateClient(), hex('c1 07 f2 48 cd c9 c9 07 00'), hex('c1 05 f2 00 11 00 00'));
    assert.deepEqual(messages(got).length, 2);
    assert.deepEqual(messages(got)[1], { binary: false, data: toHex(Buffer.from('Hello')) });
  });

  it('7.2.3.2: without context takeover the second "Hello" is compressed from scratch', () => {
    const server = deflateServer({ serverNoContextTakeover: true });
    assertBytes(server.sendText('Hello'), 'c1 07 f2 48 cd c9 c9 07 00');
    assertBytes(server.sendText('Hello'), 'c1 07 f2 48 cd c9 c9 07 00');
  });

  it('7.2.3.2: a back-reference into a previous message fails with 1007 when the peer agreed to no context takeover', () => {
    const client = deflateClient({ serverNoContextTakeover: true });
    const got = feed(client, hex('c1 07 f2 48 cd c9 c9 07 00'), hex('c1 05 f2 00 11 00 00'));
    const error = expectFailure(client, got, 1007);
    assert.equal(error.code, 'DUPLEX_DEFLATE_INVALID_DATA');
  });

  it('7.2.3.3: a DEFLATE block with no compression', () => {
    // "0xc1 0x0b 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00"
    const got = feed(deflateClient(), hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
  });

  it('7.2.3.4: a DEFLATE block with BFINAL set to 1', () => {
    // "0xc1 0x08 0xf3 0x48 0xcd 0xc9 0xc9 0x07 0x00 0x00"
    const got = feed(deflateClient(), hex('c1 08 f3 48 cd c9 c9 07 00 00'));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
  });

  it('7.2.3.5: two DEFLATE blocks in one message', () => {
    // "0xc1 0x0d 0xf2 0x48 0x05 0x00 0x00 0x00 0xff 0xff 0xca 0xc9 0xc9 0x07 0x00"
    const got = feed(deflateClient(), hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
  });

  it('7.2.3.6: an empty compressed message (0x00) and an empty payload with RSV1 both give an empty message', () => {
    const got = feed(deflateClient(), hex('c1 01 00'), hex('c2 00'));
    assert.deepEqual(messages(got), [
      { binary: false, data: '' },
      { binary: true, data: '' },
    ]);
    const fromClient = feed(
      deflateServer(),
      maskedFrame(0xc1, hex('00')),
      maskedFrame(0xc2, Buffer.alloc(0)),
    );
    assert.deepEqual(messages(fromClient), [
      { binary: false, data: '' },
      { binary: true, data: '' },
    ]);
  });

  it('7.2.3.6: an empty message compresses to 00', () => {
    assertBytes(deflateServer().sendText(''), 'c1 01 00');
    assertBytes(deflateClient().sendBinary(Buffer.alloc(0)), 'c2 81 01020304 01');
  });
});

describe('RFC 7692 6 RSV1 marks a compressed message on its first frame', () => {
  it('sets RSV1 on compressed text and binary messages', () => {
    const server = deflateServer();
    assert.equal(firstByte(server.sendText('a'.repeat(100))), 0xc1);
    assert.equal(firstByte(server.sendBinary(Buffer.alloc(100))), 0xc2);
    const client = deflateClient();
    assert.equal(firstByte(client.sendText('a'.repeat(100))), 0xc1);
  });

  it('never compresses control frames: ping, pong and close have RSV1 clear', () => {
    const server = deflateServer();
    assertBytes(server.ping('aaaaaaaaaa'), `89 0a ${toHex(Buffer.from('aaaaaaaaaa'))}`);
    assertBytes(server.pong('aaaaaaaaaa'), `8a 0a ${toHex(Buffer.from('aaaaaaaaaa'))}`);
    assertBytes(server.close(1000), '88 02 03e8');
  });

  it('answers a ping with an uncompressed pong while a compressed message is in flight', () => {
    const client = deflateClient();
    const got = feed(client, hex('41 03 f2 48 cd'), hex('89 02 6869'), hex('80 04 c9 c9 07 00'));
    assertBytes(got.output, `8a 82 01020304 ${toHex(Buffer.from([0x68 ^ 1, 0x69 ^ 2]))}`);
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
  });

  it('fails with 1002 on RSV1 on a control frame', () => {
    // RFC 7692 6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control frames
    // and non-first fragments of a data message. An endpoint receiving such a frame MUST
    // _Fail the WebSocket Connection_."
    for (const first of [0xc9, 0xca, 0xc8]) {
      const client = deflateClient();
      const got = feed(client, Buffer.from([first, 0x00]));
      assert.equal(expectFailure(client, got, 1002).code, 'DUPLEX_RESERVED_BITS');
    }
  });

  it('fails with 1002 on RSV1 on a continuation frame', () => {
    // RFC 7692 6, as above: "... and non-first fragments of a data message".
    for (const firstFrame of ['41 03 f2 48 cd', '02 03 f2 48 cd']) {
      const client = deflateClient();
      const got = feed(client, hex(firstFrame), hex('c0 04 c9 c9 07 00'));
      assert.equal(expectFailure(client, got, 1002).code, 'DUPLEX_RESERVED_BITS');
    }
  });

  it('fails with 1002 on RSV2 or RSV3, which permessage-deflate does not claim', () => {
    for (const first of [0xa1, 0x91]) {
      const client = deflateClient();
      const got = feed(client, Buffer.from([first, 0x00]));
      expectFailure(client, got, 1002);
    }
  });

  it('passes messages with RSV1 clear through unchanged, without touching the window', () => {
    // RFC 7692 6: a message with the bit clear is not compressed; context takeover covers
    // compressed messages only, so the second "Hello" still refers to the first.
    const got = feed(
      deflateClient(),
      hex('c1 07 f2 48 cd c9 c9 07 00'),
      hex('81 05 576f726c64'),
      hex('c1 05 f2 00 11 00 00'),
    );
    assert.deepEqual(
      messages(got).map((m) => Buffer.from(m.data, 'hex').toString()),
      ['Hello', 'World', 'Hello'],
    );
  });

  it('sends messages under the threshold uncompressed', () => {
    const server = deflateServer({}, { threshold: 1024 });
    assertBytes(server.sendText('Hello'), `81 05 ${toHex(Buffer.from('Hello'))}`);
    assert.equal(firstByte(server.sendText(jsonLike(1024))), 0xc1);
  });
});

describe('RFC 7692 7.2.2 decompression: fragmented and invalid input', () => {
  const text = jsonLike(5000, 3);

  it('reassembles a compressed message in many fragments, both directions, including empty fragments', () => {
    const compressed = rawDeflate(text);
    const cuts = [0, 1, 1, 17, 500, compressed.length - 1, compressed.length];
    const pieces = cuts.slice(1).map((end, i) => compressed.subarray(cuts[i], end));
    const frames = pieces.map((p, i): [boolean, number, number, Buffer] => [
      i === pieces.length - 1,
      i === 0 ? Opcode.TEXT : Opcode.CONTINUATION,
      i === 0 ? 0x40 : 0,
      p,
    ]);
    const toClient = feed(deflateClient(), serverFrames(...frames));
    assert.deepEqual(messages(toClient), [{ binary: false, data: toHex(text) }]);
    const toServer = feed(deflateServer(), clientFrames(...frames));
    assert.deepEqual(messages(toServer), [{ binary: false, data: toHex(text) }]);
  });

  it('fails with 1007 on data that is not DEFLATE (DUPLEX_DEFLATE_INVALID_DATA)', () => {
    for (const payload of ['ff ff ff ff', '07', '00 05 00 00 00 48 65 6c 6c 6f']) {
      const client = deflateClient();
      const got = feed(client, serverFrames([true, Opcode.BINARY, 0x40, hex(payload)]));
      assert.equal(expectFailure(client, got, 1007).code, 'DUPLEX_DEFLATE_INVALID_DATA', payload);
    }
  });

  it('fails with 1007 on compressed text that inflates to invalid UTF-8', () => {
    const client = deflateClient();
    const got = feed(client, serverFrames([true, Opcode.TEXT, 0x40, rawDeflate(hex('48 c3 28'))]));
    assert.equal(expectFailure(client, got, 1007).code, 'DUPLEX_INVALID_UTF8');
  });

  it('fails with 1007 on a back-reference past the negotiated window', () => {
    // The server agreed to 9 bits (512 bytes) and refers 1,000 bytes back into the last message.
    const first = Buffer.from(jsonLike(1000, 1));
    const second = Buffer.concat([first.subarray(0, 40), Buffer.from('!')]);
    const out = deflateRawSync(second, { dictionary: first, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const client = deflateClient({ serverMaxWindowBits: 9 });
    const got = feed(
      client,
      serverFrames([true, Opcode.TEXT, 0x40, rawDeflate(first)]),
      serverFrames([true, Opcode.TEXT, 0x40, out.subarray(0, out.length - 4)]),
    );
    assert.equal(messages(got).length, 1);
    assert.equal(expectFailure(client, got, 1007).code, 'DUPLEX_DEFLATE_INVALID_DATA');
  });
});

describe('RFC 7692 7.1.2 every window size with and without context takeover, both directions', () => {
  for (let bits = 8; bits <= 15; bits++) {
    for (const takeover of [true, false]) {
      it(`${bits} bits, context takeover ${takeover ? 'on' : 'off'}: 30 messages each way`, () => {
        const options: PerMessageDeflateOptions = {
          threshold: 0,
          serverMaxWindowBits: bits,
          clientMaxWindowBits: bits,
          serverNoContextTakeover: !takeover,
          clientNoContextTakeover: !takeover,
        };
        const { client, server, params } = negotiatedPair(options, { threshold: 0 });
        assert.deepEqual(params, {
          serverMaxWindowBits: bits,
          clientMaxWindowBits: bits,
          serverNoContextTakeover: !takeover,
          clientNoContextTakeover: !takeover,
        });
        // Each message twice in a row, so context takeover has something to refer to
        // (the first is short enough for even a 512-byte window).
        const base = [150, 700, 2000, 5000].map((n, k) => jsonLike(n, k));
        const sizes: number[] = [];
        for (let i = 0; i < 30; i++) {
          const message = base[Math.floor(i / 2) % base.length]!;
          for (const [from, to] of [
            [client, server],
            [server, client],
          ] as const) {
            const wire = Buffer.concat(from.sendText(message));
            // zlib cannot compress with a 256-byte window: at 8 bits everything goes plain.
            assert.equal(wire[0], bits === 8 ? 0x81 : 0xc1, `message ${i}`);
            if (from === server) sizes.push(wire.length);
            const got = feed(to, wire);
            assert.deepEqual(messages(got), [{ binary: false, data: toHex(message) }], `message ${i}`);
          }
        }
        if (bits > 8) {
          if (takeover)
            assert.ok(sizes[1]! < sizes[0]! / 3, `takeover shrinks a repeat: ${sizes[0]} -> ${sizes[1]}`);
          else assert.equal(sizes[1], sizes[0], 'without takeover a repeat compresses the same');
        }
      });
    }
  }
});

describe('RFC 7692 7.2 messages of 0 bytes to 16 MiB', () => {
  for (const size of [0, 1, 125, 126, 1023, 1024, 65_535, 65_536, MiB, 16 * MiB]) {
    it(`${size} bytes round trip, text and binary, both directions`, () => {
      const { client, server } = negotiatedPair({ threshold: 0 }, { threshold: 0 });
      const text = jsonLike(size, size);
      const binary = Buffer.alloc(size, 0x5a);
      for (const [from, to] of [
        [client, server],
        [server, client],
      ] as const) {
        const got = feed(to, Buffer.concat(from.sendText(text)), Buffer.concat(from.sendBinary(binary)));
        const [t, b] = got.events;
        assert.ok(
          t?.type === 'message' && b?.type === 'message',
          JSON.stringify(got.events.map((e) => e.type)),
        );
        assert.ok(!t.binary && t.data.equals(text));
        assert.ok(b.binary && b.data.equals(binary));
      }
    });
  }

  it('a message that inflates to maxPayload + 1 bytes fails with 1009; maxPayload bytes pass', () => {
    const limit = 100_000;
    const exact = feed(
      deflateClient({}, {}, limit),
      serverFrames([true, Opcode.BINARY, 0x40, rawDeflate(Buffer.alloc(limit))]),
    );
    assert.equal(messages(exact).length, 1);
    const client = deflateClient({}, {}, limit);
    const got = feed(client, serverFrames([true, Opcode.BINARY, 0x40, rawDeflate(Buffer.alloc(limit + 1))]));
    const error = expectFailure(client, got, 1009);
    assert.equal(error.code, 'DUPLEX_PAYLOAD_TOO_BIG');
  });
});

describe('RFC 7692 with maxPayload: the wire margin of encoded messages', () => {
  // Data that does not compress grows a little under deflate; only the inflated size is held to maxPayload.
  const random = randomBytes(4096);

  it('a compressed message of exactly maxPayload bytes that is larger on the wire is accepted', () => {
    const compressed = rawDeflate(random);
    assert.ok(compressed.length > random.length, 'the probe grows under deflate');
    const server = deflateServer({}, {}, random.length);
    const got = feed(server, clientFrames([true, 2, 0x40, compressed]));
    assert.deepEqual(messages(got), [{ binary: true, data: toHex(random) }]);
  });

  it('a plain message is still held to maxPayload exactly, with deflate negotiated', () => {
    const server = deflateServer({}, {}, 4095);
    const error = expectFailure(server, feed(server, clientFrames([true, 2, 0, random])), 1009);
    assert.ok(error instanceof PayloadTooBigError);
    assert.equal(error.size, 4096);
    assert.equal(error.limit, 4095);
  });

  it('a compressed message that inflates to maxPayload + 1 bytes fails with 1009', () => {
    const server = deflateServer({}, {}, random.length - 1);
    expectFailure(server, feed(server, clientFrames([true, 2, 0x40, rawDeflate(random)])), 1009);
  });
});
