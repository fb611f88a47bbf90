import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mask, unmask } from 'duplexjs/protocol';
import fc from 'fast-check';
import { naiveMask, toHex } from './helpers.js';

/** pattern fills n bytes with a fixed, non-repeating-every-4 pattern. */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17 + 11) & 0xff;
  return b;
}

const KEYS = [
  Buffer.from([1, 2, 3, 4]),
  Buffer.from([0, 0, 0, 0]),
  Buffer.from([0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
];

describe('RFC 6455 5.3 client-to-server masking', () => {
  // RFC 6455 5.3: "j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j"
  it('unmask of the RFC 6455 5.7 example gives "Hello"', () => {
    const data = Buffer.from('7f9f4d5158', 'hex');
    unmask(data, Buffer.from('37fa213d', 'hex'));
    assert.equal(data.toString(), 'Hello');
  });

  it('unmask equals the naive loop for every length 0..70 at every alignment 0..7', () => {
    for (const key of KEYS) {
      for (let offset = 0; offset < 8; offset++) {
        for (let length = 0; length <= 70; length++) {
          const backing = pattern(offset + length + 8, length);
          const before = Buffer.from(backing);
          const view = backing.subarray(offset, offset + length);
          unmask(view, key);
          const where = `key ${toHex(key)} offset ${offset} length ${length}`;
          assert.equal(toHex(view), toHex(naiveMask(before.subarray(offset, offset + length), key)), where);
          // nothing outside the view is touched
          assert.equal(toHex(backing.subarray(0, offset)), toHex(before.subarray(0, offset)), where);
          assert.equal(
            toHex(backing.subarray(offset + length)),
            toHex(before.subarray(offset + length)),
            where,
          );
        }
      }
    }
  });

  it('unmask equals the naive loop on long buffers at every alignment', () => {
    for (const length of [1000, 4096, 65537]) {
      for (let offset = 0; offset < 4; offset++) {
        const backing = pattern(length + offset, offset);
        const before = Buffer.from(backing);
        unmask(backing.subarray(offset), KEYS[3]!);
        assert.ok(backing.subarray(offset).equals(naiveMask(before.subarray(offset), KEYS[3]!)));
        assert.ok(backing.subarray(0, offset).equals(before.subarray(0, offset)));
      }
    }
  });

  it('unmask works on a plain Uint8Array and with a Uint8Array key', () => {
    const data = new Uint8Array(pattern(40));
    const key = new Uint8Array([9, 8, 7, 6]);
    const expected = naiveMask(data, key);
    unmask(data, key);
    assert.equal(toHex(data), toHex(expected));
  });

  it('mask then unmask is the identity', () => {
    const source = pattern(100);
    const target = Buffer.alloc(110);
    mask(source, KEYS[0]!, target, 10);
    unmask(target.subarray(10), KEYS[0]!);
    assert.ok(target.subarray(10).equals(source));
  });

  it('mask writes the masked copy at the offset, leaves the source and the rest of the target untouched', () => {
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 70; length++) {
        const source = pattern(length, offset);
        const sourceCopy = Buffer.from(source);
        const target = Buffer.alloc(offset + length + 5, 0xee);
        mask(source, KEYS[0]!, target, offset);
        const where = `offset ${offset} length ${length}`;
        assert.ok(source.equals(sourceCopy), where);
        assert.equal(
          toHex(target.subarray(offset, offset + length)),
          toHex(naiveMask(source, KEYS[0]!)),
          where,
        );
        assert.ok(
          target.subarray(0, offset).every((b) => b === 0xee),
          where,
        );
        assert.ok(
          target.subarray(offset + length).every((b) => b === 0xee),
          where,
        );
      }
    }
  });

  it('property: mask and unmask equal the naive loop and round-trip, for any bytes, key and offset', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 15 }),
        (data, key, offset) => {
          const expected = naiveMask(data, key);
          const target = Buffer.alloc(offset + data.length);
          mask(data, key, target, offset);
          assert.equal(toHex(target.subarray(offset)), toHex(expected));
          unmask(target.subarray(offset), key);
          assert.equal(toHex(target.subarray(offset)), toHex(data));
        },
      ),
      { numRuns: 300 },
    );
  });
});
