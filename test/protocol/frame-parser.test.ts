/**
 * FrameParser on its own: bytes in (any chunking), frames out, or a ProtocolError that
 * carries the close code. Frame-level rules only; message rules live in connection.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Frame, FrameParser, PayloadTooBigError, ProtocolError } from 'duplexjs/protocol';
import { bytewise, hex, maskedFrame, toHex } from './helpers.js';

function parser(expectMasked = false, opts: { allowedRsv?: number; maxMessagePayload?: number } = {}) {
  return new FrameParser({ expectMasked, ...opts });
}

/** frames drains every complete frame, rendering payloads as hex. */
function drain(p: FrameParser): Array<Omit<Frame, 'payload'> & { payload: string }> {
  const out: Array<Omit<Frame, 'payload'> & { payload: string }> = [];
  for (let f = p.next(); f !== undefined; f = p.next()) out.push({ ...f, payload: toHex(f.payload) });
  return out;
}

function parseAll(input: Buffer, expectMasked = false) {
  const p = parser(expectMasked);
  p.push(input);
  return drain(p);
}

/** fails asserts that parsing `input` throws a ProtocolError with `closeCode` (and `code` if given). */
function fails(input: Buffer, closeCode: number, code?: string, p = parser()): ProtocolError {
  let caught: unknown;
  p.push(input);
  assert.throws(
    () => drain(p),
    (e: unknown) => {
      caught = e;
      return true;
    },
  );
  assert.ok(caught instanceof ProtocolError, `a ProtocolError, got ${String(caught)}`);
  assert.equal(caught.closeCode, closeCode, `${caught.code}: ${caught.message}`);
  if (code !== undefined) assert.equal(caught.code, code);
  return caught;
}

const text = (s: string) => toHex(Buffer.from(s));

describe('RFC 6455 5.7 examples', () => {
  it('a single-frame unmasked text message', () => {
    assert.deepEqual(parseAll(hex('81 05 48656c6c6f')), [
      { fin: true, rsv: 0, opcode: 1, payload: text('Hello') },
    ]);
  });

  it('a single-frame masked text message', () => {
    assert.deepEqual(parseAll(hex('81 85 37fa213d 7f9f4d5158'), true), [
      { fin: true, rsv: 0, opcode: 1, payload: text('Hello') },
    ]);
  });

  it('a fragmented unmasked text message', () => {
    assert.deepEqual(parseAll(hex('01 03 48656c  80 02 6c6f')), [
      { fin: false, rsv: 0, opcode: 1, payload: text('Hel') },
      { fin: true, rsv: 0, opcode: 0, payload: text('lo') },
    ]);
  });

  it('an unmasked ping and a masked pong', () => {
    assert.deepEqual(parseAll(hex('89 05 48656c6c6f')), [
      { fin: true, rsv: 0, opcode: 9, payload: text('Hello') },
    ]);
    assert.deepEqual(parseAll(hex('8a 85 37fa213d 7f9f4d5158'), true), [
      { fin: true, rsv: 0, opcode: 10, payload: text('Hello') },
    ]);
  });

  it('256 bytes binary message in a single unmasked frame', () => {
    const payload = Buffer.alloc(256, 0xab);
    assert.deepEqual(parseAll(Buffer.concat([hex('82 7e 0100'), payload])), [
      { fin: true, rsv: 0, opcode: 2, payload: toHex(payload) },
    ]);
  });

  it('64 KiB binary message in a single unmasked frame', () => {
    const payload = Buffer.alloc(65536, 0xcd);
    assert.deepEqual(parseAll(Buffer.concat([hex('82 7f 0000000000010000'), payload])), [
      { fin: true, rsv: 0, opcode: 2, payload: toHex(payload) },
    ]);
  });
});

describe('RFC 6455 5.2 base framing', () => {
  it('partial input is "not yet": 81 gives nothing, then 05 48656c6c6f gives the text frame', () => {
    const p = parser();
    p.push(hex('81'));
    assert.equal(p.next(), undefined);
    p.push(hex('05 48656c6c6f'));
    assert.deepEqual(drain(p), [{ fin: true, rsv: 0, opcode: 1, payload: text('Hello') }]);
    assert.equal(p.next(), undefined);
    assert.equal(p.bufferedBytes, 0);
  });

  it('bufferedBytes counts bytes waiting for a frame to complete', () => {
    const p = parser();
    p.push(hex('82 7e 0100 0102'));
    assert.equal(p.next(), undefined);
    p.push(Buffer.alloc(0));
    assert.equal(p.next(), undefined);
    // The 4-byte header was consumed; the 2 payload bytes wait for the other 254.
    assert.equal(p.bufferedBytes, 2);
  });

  it('push from an offset parses from there; release hands back the bytes after the last frame', () => {
    const p = parser();
    const chunk = hex('ffff 81 01 61  81 02 6263  82');
    p.push(chunk, 2);
    assert.equal(p.bufferedBytes, 8);
    assert.deepEqual(p.next(), { fin: true, rsv: 0, opcode: 1, payload: hex('61') });
    assert.equal(p.release(), 5, 'the second frame and the start of a third');
    assert.equal(p.bufferedBytes, 0);
    assert.equal(p.next(), undefined);
    p.push(chunk, chunk.length - 5);
    assert.deepEqual(drain(p), [{ fin: true, rsv: 0, opcode: 1, payload: '6263' }]);
    assert.equal(p.bufferedBytes, 1);
    assert.throws(() => p.push(chunk, 1), RangeError, 'an offset only into an empty parser');
  });

  it('a stream of frames gives the same frames at every split point and byte by byte', () => {
    const stream = hex(
      '81 05 48656c6c6f  01 03 48656c  89 00  80 02 6c6f  82 7e 007e' +
        '00'.repeat(126) +
        '8a 7d' +
        '11'.repeat(125) +
        '82 00',
    );
    const whole = parseAll(stream);
    assert.equal(whole.length, 7);
    for (let i = 0; i <= stream.length; i++) {
      const p = parser();
      p.push(Buffer.from(stream.subarray(0, i)));
      const got = drain(p);
      p.push(Buffer.from(stream.subarray(i)));
      got.push(...drain(p));
      assert.deepEqual(got, whole, `split at ${i}`);
    }
    const p = parser();
    const got = [];
    for (const b of bytewise(Buffer.from(stream))) {
      p.push(b);
      got.push(...drain(p));
    }
    assert.deepEqual(got, whole);
  });

  it('a masked stream split at every point unmasks each payload from key index 0', () => {
    // Two masked frames with different keys; the second's key must restart at index 0.
    const stream = hex('81 85 37fa213d 7f9f4d5158  82 83 01020304 000000');
    for (let i = 0; i <= stream.length; i++) {
      const p = parser(true);
      const copy = Buffer.from(stream);
      p.push(copy.subarray(0, i));
      const got = drain(p);
      p.push(copy.subarray(i));
      got.push(...drain(p));
      assert.deepEqual(
        got,
        [
          { fin: true, rsv: 0, opcode: 1, payload: text('Hello') },
          { fin: true, rsv: 0, opcode: 2, payload: '010203' },
        ],
        `split at ${i}`,
      );
    }
  });

  it('a masked payload gathered from three chunks is unmasked right at every alignment of each piece', () => {
    // The header is read in place at an offset into the first chunk and the payload gathered
    // from three; the word-at-a-time unmask must agree with the naive mask whatever the
    // chunks' byte offsets and where each piece starts relative to the key.
    const payload = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 7 + 3) & 0xff));
    const key = [0x37, 0xfa, 0x21, 0x3d];
    const frame = maskedFrame(0x82, payload, key);
    for (let shift = 0; shift < 4; shift++) {
      for (let cut1 = 120; cut1 < 128; cut1++) {
        for (const cut2 of [260, 261, 262, 263]) {
          const backing = Buffer.alloc(frame.length + shift);
          frame.copy(backing, shift);
          const copy = backing.subarray(shift);
          const p = parser(true);
          p.push(copy.subarray(0, cut1));
          p.push(copy.subarray(cut1, cut2));
          p.push(copy.subarray(cut2));
          const got = drain(p);
          assert.equal(got.length, 1, `shift ${shift} cuts ${cut1} ${cut2}`);
          assert.equal(got[0]!.payload, toHex(payload), `shift ${shift} cuts ${cut1} ${cut2}`);
          assert.equal(p.bufferedBytes, 0);
        }
      }
    }
  });

  it('16-bit and 64-bit lengths at their boundaries', () => {
    const got = parseAll(
      Buffer.concat([
        hex('82 7d'),
        Buffer.alloc(125),
        hex('82 7e 007e'),
        Buffer.alloc(126),
        hex('82 7e ffff'),
        Buffer.alloc(65535),
        hex('82 7f 0000000000010000'),
        Buffer.alloc(65536),
      ]),
    );
    assert.deepEqual(
      got.map((f) => f.payload.length / 2),
      [125, 126, 65535, 65536],
    );
  });

  // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length"
  for (const input of ['82 7e 007d', '82 7e 0000', '82 7f 0000000000000000', '82 7f 000000000000ffff']) {
    it(`a non-minimal length is refused with 1002 DUPLEX_NON_MINIMAL_LENGTH: ${input}`, () => {
      fails(hex(input), 1002, 'DUPLEX_NON_MINIMAL_LENGTH');
    });
  }

  // RFC 6455 5.2: "the most significant bit MUST be 0"
  it('a 64-bit length with its most significant bit set is refused with 1002', () => {
    fails(hex('82 7f 8000000000000000'), 1002, 'DUPLEX_LENGTH_MSB');
    fails(hex('82 7f ffffffffffffffff'), 1002, 'DUPLEX_LENGTH_MSB');
  });

  it('a length over maxMessagePayload is refused with 1009 from the header, before the payload', () => {
    const err = fails(hex('82 7f 001fffffffffffff'), 1009, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.size, 2 ** 53 - 1);
    assert.equal(err.limit, 16 * 1024 * 1024);
    const err2 = fails(
      hex('82 0b'),
      1009,
      'DUPLEX_PAYLOAD_TOO_BIG',
      parser(false, { maxMessagePayload: 10 }),
    );
    assert.ok(err2 instanceof PayloadTooBigError);
    assert.equal(err2.size, 11);
    assert.equal(err2.limit, 10);
  });

  it('a frame of exactly maxMessagePayload is accepted', () => {
    const p = parser(false, { maxMessagePayload: 10 });
    p.push(hex('82 0a 00010203040506070809'));
    assert.equal(drain(p).length, 1);
  });

  // RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not
  // masked." ... "A client MUST close a connection if it detects a masked frame."
  it('an unmasked frame is refused with 1002 when masking is expected', () => {
    fails(hex('81 05 48656c6c6f'), 1002, 'DUPLEX_UNMASKED_FRAME', parser(true));
  });

  it('a masked frame is refused with 1002 when masking is not expected', () => {
    fails(hex('81 85 37fa213d 7f9f4d5158'), 1002, 'DUPLEX_MASKED_FRAME', parser(false));
  });

  it('the mask bit is checked from the first two bytes', () => {
    fails(hex('81 85'), 1002, 'DUPLEX_MASKED_FRAME', parser(false));
  });

  // RFC 6455 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines meanings
  // for non-zero values"
  for (const first of ['c1', 'a1', '91', 'f1']) {
    it(`reserved bits without an extension are refused with 1002: ${first}`, () => {
      fails(hex(`${first} 00`), 1002, 'DUPLEX_RESERVED_BITS');
    });
  }

  it('a reserved bit that an extension claims is passed through', () => {
    const p = parser(false, { allowedRsv: 0x40 });
    p.push(hex('c1 01 61'));
    assert.deepEqual(drain(p), [{ fin: true, rsv: 0x40, opcode: 1, payload: '61' }]);
    fails(hex('a1 01 61'), 1002, 'DUPLEX_RESERVED_BITS', parser(false, { allowedRsv: 0x40 }));
  });

  it('reserved bits on a control frame are refused even when an extension claims them', () => {
    fails(hex('c9 00'), 1002, 'DUPLEX_RESERVED_BITS', parser(false, { allowedRsv: 0x40 }));
  });

  // RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
  // WebSocket Connection_."
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`reserved opcode 0x${op.toString(16)} is refused with 1002`, () => {
      fails(Buffer.from([0x80 | op, 0x00]), 1002, 'DUPLEX_RESERVED_OPCODE');
    });
  }
});

describe('RFC 6455 5.5 control frames', () => {
  // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and
  // MUST NOT be fragmented."
  for (const op of ['88', '89', '8a']) {
    it(`a control frame (${op}) announcing 126 bytes is refused with 1002 from its header`, () => {
      fails(hex(`${op} 7e 007e`), 1002, 'DUPLEX_CONTROL_TOO_BIG');
    });
  }

  it('a control frame announcing a 64-bit length is refused with 1002, not 1009', () => {
    fails(hex('89 7f 0000000000010000'), 1002, 'DUPLEX_CONTROL_TOO_BIG');
  });

  for (const op of ['08', '09', '0a']) {
    it(`a fragmented control frame (${op}) is refused with 1002`, () => {
      fails(hex(`${op} 00`), 1002, 'DUPLEX_FRAGMENTED_CONTROL');
    });
  }

  it('a control frame of 125 bytes is accepted', () => {
    const got = parseAll(Buffer.concat([hex('89 7d'), Buffer.alloc(125, 0x70)]));
    assert.equal(got[0]!.payload.length, 250);
  });
});
