import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerLength, Opcode, serializeFrame } from 'duplexjs/protocol';
import { assertBytes, hex, naiveMask, toHex } from './helpers.js';

const KEY = Buffer.from([1, 2, 3, 4]);

/** head returns the first n bytes of the serialized frame as hex. */
function head(frames: Buffer[], n: number): string {
  return toHex(Buffer.concat(frames).subarray(0, n));
}

describe('RFC 6455 5.2 base framing (serializer)', () => {
  it('Opcode names the opcodes of RFC 6455 5.2', () => {
    assert.deepEqual(Opcode, { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 });
  });

  it('a single-frame unmasked text message (RFC 6455 5.7)', () => {
    assertBytes(serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.from('Hello') }), '81 05 48656c6c6f');
  });

  it('a fragmented text message (RFC 6455 5.7)', () => {
    assertBytes(
      [
        ...serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.from('Hel'), fin: false }),
        ...serializeFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.from('lo') }),
      ],
      '01 03 48656c  80 02 6c6f',
    );
  });

  it('the masked "Hello" of RFC 6455 5.7', () => {
    assertBytes(
      serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.from('Hello'), maskKey: hex('37fa213d') }),
      '81 85 37fa213d 7f9f4d5158',
    );
  });

  // RFC 6455 5.2: "Payload length: 7 bits, 7+16 bits, or 7+64 bits" ... "the minimal number of
  // bytes MUST be used to encode the length"
  for (const [length, header] of [
    [0, '82 00'],
    [1, '82 01'],
    [125, '82 7d'],
    [126, '82 7e 007e'],
    [127, '82 7e 007f'],
    [65535, '82 7e ffff'],
    [65536, '82 7f 0000000000010000'],
    [65537, '82 7f 0000000000010001'],
  ] as const) {
    it(`header for a ${length}-byte payload: ${header}`, () => {
      const payload = Buffer.alloc(length, 0x5a);
      const out = Buffer.concat(serializeFrame({ opcode: Opcode.BINARY, payload }));
      const h = hex(header);
      assertBytes(out.subarray(0, h.length), header);
      assert.equal(out.length, h.length + length);
      assert.ok(out.subarray(h.length).equals(payload));
      assert.equal(headerLength(length, false), h.length);
      assert.equal(headerLength(length, true), h.length + 4);
    });
  }

  it('a 64-bit length above 2^32 is written in full', () => {
    // headerLength only: no 4 GiB payload is built.
    assert.equal(headerLength(2 ** 32 + 1, false), 10);
  });

  it('fin, rsv and opcode share the first byte', () => {
    assert.equal(
      head(serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.alloc(0), fin: false }), 1),
      '01',
    );
    assert.equal(head(serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.alloc(0), rsv: 0x40 }), 1), 'c1');
    assert.equal(
      head(serializeFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(0), fin: false }), 1),
      '00',
    );
    assertBytes(serializeFrame({ opcode: Opcode.PING, payload: Buffer.alloc(0) }), '89 00');
    assertBytes(serializeFrame({ opcode: Opcode.CLOSE, payload: hex('03e8') }), '88 02 03e8');
  });
});

describe('RFC 6455 5.3 client-to-server masking (serializer)', () => {
  // RFC 6455 5.3: "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet
  // i of the original data ("original-octet-i") with octet at index i modulo 4 of the masking key"
  it('masks with the given key and sets the mask bit, exact bytes', () => {
    assertBytes(
      serializeFrame({ opcode: Opcode.TEXT, payload: Buffer.from('Hello'), maskKey: KEY }),
      '81 85 01020304 49676f686e',
    );
    assertBytes(
      serializeFrame({ opcode: Opcode.PONG, payload: Buffer.alloc(0), maskKey: KEY }),
      '8a 80 01020304',
    );
  });

  for (const length of [0, 125, 126, 65535, 65536]) {
    it(`a masked ${length}-byte frame: header, key, masked payload`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 7) & 0xff;
      const out = Buffer.concat(serializeFrame({ opcode: Opcode.BINARY, payload, maskKey: KEY }));
      const h = length < 126 ? 2 : length < 65536 ? 4 : 10;
      assert.equal(out[1]! & 0x80, 0x80, 'mask bit');
      assert.equal(toHex(out.subarray(h, h + 4)), '01020304');
      assert.ok(out.subarray(h + 4).equals(naiveMask(payload, KEY)));
      assert.equal(out.length, h + 4 + length);
    });
  }

  it('masking leaves the caller\u2019s payload untouched', () => {
    const payload = Buffer.from('Hello, world, and some more bytes to pass 32');
    const copy = Buffer.from(payload);
    serializeFrame({ opcode: Opcode.TEXT, payload, maskKey: KEY });
    assert.ok(payload.equals(copy));
  });

  it('takes a Uint8Array payload', () => {
    assertBytes(serializeFrame({ opcode: Opcode.BINARY, payload: new Uint8Array([1, 2]) }), '82 02 0102');
    const big = new Uint8Array(2000).fill(7);
    const out = Buffer.concat(serializeFrame({ opcode: Opcode.BINARY, payload: big.subarray(500) }));
    assertBytes(out.subarray(0, 4), '82 7e 05dc');
    assert.equal(out.length, 4 + 1500);
  });
});
