/**
 * UTF-8 validation (RFC 3629 4, as RFC 6455 5.6 and 8.1 require of text) against the
 * reference validator of the platform: TextDecoder('utf-8', { fatal: true }).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidUtf8, Utf8Validator } from 'duplexjs/protocol';
import fc from 'fast-check';
import { hex } from './helpers.js';

const reference = new TextDecoder('utf-8', { fatal: true });
function referenceValid(bytes: Uint8Array): boolean {
  try {
    reference.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** incremental validates `bytes` cut at `cuts` with one Utf8Validator. */
function incremental(bytes: Uint8Array, cuts: number[], v = new Utf8Validator()): boolean {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!v.push(bytes.subarray(start, cut))) {
      v.reset();
      return false;
    }
    start = cut;
  }
  return v.end();
}

const VALID: Array<[string, string]> = [
  ['empty', ''],
  ['ASCII', '48656c6c6f'],
  ['U+0000', '00'],
  ['U+007F', '7f'],
  ['U+0080', 'c2 80'],
  ['U+07FF', 'df bf'],
  ['U+0800', 'e0 a0 80'],
  ['U+0FFF', 'e0 bf bf'],
  ['U+1000', 'e1 80 80'],
  ['U+CFFF', 'ec bf bf'],
  ['U+D000', 'ed 80 80'],
  ['U+D7FF (last before surrogates)', 'ed 9f bf'],
  ['U+E000 (first after surrogates)', 'ee 80 80'],
  ['U+FFFD', 'ef bf bd'],
  ['U+FFFE (a noncharacter is still valid UTF-8)', 'ef bf be'],
  ['U+FFFF', 'ef bf bf'],
  ['U+10000', 'f0 90 80 80'],
  ['U+3FFFF', 'f0 bf bf bf'],
  ['U+40000', 'f1 80 80 80'],
  ['U+FFFFF', 'f3 bf bf bf'],
  ['U+100000', 'f4 80 80 80'],
  ['U+10FFFF (last code point)', 'f4 8f bf bf'],
  ['κόσμε', 'ce ba e1 bd b9 cf 83 ce bc ce b5'],
  ['BOM', 'ef bb bf 61'],
];

const INVALID: Array<[string, string]> = [
  ['lone continuation 80', '80'],
  ['lone continuation bf', 'bf'],
  ['two continuations', '80 bf'],
  ['c0 80: overlong U+0000', 'c0 80'],
  ['c1 bf: overlong U+007F', 'c1 bf'],
  ['e0 80 80: overlong U+0000', 'e0 80 80'],
  ['e0 9f bf: overlong U+07FF', 'e0 9f bf'],
  ['f0 80 80 80: overlong U+0000', 'f0 80 80 80'],
  ['f0 8f bf bf: overlong U+FFFF', 'f0 8f bf bf'],
  ['f8 88 80 80 80: 5-byte form', 'f8 88 80 80 80'],
  ['fc 84 80 80 80 80: 6-byte form', 'fc 84 80 80 80 80'],
  ['ed a0 80: U+D800', 'ed a0 80'],
  ['ed ad bf: U+DB7F', 'ed ad bf'],
  ['ed b0 80: U+DC00', 'ed b0 80'],
  ['ed bf bf: U+DFFF', 'ed bf bf'],
  ['surrogate pair in CESU-8', 'ed a0 80 ed b0 80'],
  ['f4 90 80 80: U+110000', 'f4 90 80 80'],
  ['f7 bf bf bf: U+1FFFFF', 'f7 bf bf bf'],
  ['f5 80 80 80', 'f5 80 80 80'],
  ['fe', 'fe'],
  ['ff', 'ff'],
  ['truncated 2-byte', 'c2'],
  ['truncated 3-byte (1 of 3)', 'e1'],
  ['truncated 3-byte (2 of 3)', 'e1 80'],
  ['truncated 4-byte (3 of 4)', 'f0 90 80'],
  ['truncated then ASCII', 'e1 80 61'],
  ['lead after lead', 'c2 c2 80'],
  ['ASCII, then truncated at the end', '61 62 63 f0 9f 98'],
  ['κόσμε then U+D800 then "edited"', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'],
];

describe('RFC 6455 5.6 UTF-8 text', () => {
  for (const [name, bytes] of VALID) {
    it(`valid: ${name}`, () => {
      const b = hex(bytes);
      assert.equal(referenceValid(b), true, 'the reference agrees');
      assert.equal(isValidUtf8(b), true);
      for (let i = 0; i <= b.length; i++) assert.equal(incremental(b, [i]), true, `split at ${i}`);
      assert.equal(
        incremental(
          b,
          Array.from({ length: b.length }, (_, i) => i),
        ),
        true,
        'byte by byte',
      );
    });
  }

  for (const [name, bytes] of INVALID) {
    it(`invalid: ${name}`, () => {
      const b = hex(bytes);
      assert.equal(referenceValid(b), false, 'the reference agrees');
      assert.equal(isValidUtf8(b), false);
      for (let i = 0; i <= b.length; i++) assert.equal(incremental(b, [i]), false, `split at ${i}`);
      assert.equal(
        incremental(
          b,
          Array.from({ length: b.length }, (_, i) => i),
        ),
        false,
        'byte by byte',
      );
    });

    it(`invalid inside longer text: ${name}`, () => {
      const b = Buffer.concat([Buffer.from('a'.repeat(40)), hex(bytes), Buffer.from('z'.repeat(40))]);
      // A truncated sequence followed by ASCII is invalid too.
      assert.equal(referenceValid(b), false, 'the reference agrees');
      assert.equal(isValidUtf8(b), false);
      for (let i = 0; i <= b.length; i++) assert.equal(incremental(b, [i]), false, `split at ${i}`);
    });
  }

  it('push fails as soon as an invalid prefix is seen, before end()', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba')), true);
    assert.equal(v.push(hex('ed')), true, 'ed may still start U+D000..U+D7FF');
    assert.equal(v.push(hex('a0')), false, 'ed a0 can only be a surrogate');
  });

  it('push fails at once on f4 90 split across pieces', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('61 f4')), true);
    assert.equal(v.push(hex('90')), false);
  });

  it('end() reports an incomplete sequence, then the validator is ready for the next text', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('e2 82')), true);
    assert.equal(v.end(), false);
    assert.equal(v.push(hex('61')), true);
    assert.equal(v.end(), true);
  });

  it('reset() forgets a sequence in progress', () => {
    const v = new Utf8Validator();
    v.push(hex('f0 9f'));
    v.reset();
    assert.equal(v.push(hex('61')), true);
    assert.equal(v.end(), true);
  });

  it('empty pushes change nothing', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(new Uint8Array(0)), true);
    assert.equal(v.push(hex('f0 9f')), true);
    assert.equal(v.push(new Uint8Array(0)), true);
    assert.equal(v.push(hex('98 80')), true);
    assert.equal(v.end(), true);
  });

  it('every code point from U+0000 to U+10FFFF encoded by Buffer is valid; every surrogate encoded by hand is not', () => {
    const v = new Utf8Validator();
    for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x800 ? 1 : 61) {
      if (cp >= 0xd800 && cp <= 0xdfff) {
        const s = Buffer.from([0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]);
        assert.equal(isValidUtf8(s), false, cp.toString(16));
        continue;
      }
      const b = Buffer.from(String.fromCodePoint(cp));
      if (!isValidUtf8(b)) assert.fail(`U+${cp.toString(16)}`);
      if (!v.push(b)) assert.fail(`incremental U+${cp.toString(16)}`);
    }
    assert.equal(v.end(), true);
  });
});

describe('RFC 6455 5.6 UTF-8 text: properties against TextDecoder', () => {
  /** bytes that are mostly near-UTF-8: valid text, with some bytes replaced, removed or inserted. */
  const nearUtf8 = fc
    .tuple(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'del', 'ins')), {
        maxLength: 3,
      }),
    )
    .map(([s, edits]) => {
      const bytes = [...Buffer.from(s)];
      for (const [at, byte, op] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (op === 'set' && bytes.length > 0) bytes[i] = byte;
        else if (op === 'del') bytes.splice(i, 1);
        else bytes.splice(i, 0, byte);
      }
      return Uint8Array.from(bytes);
    });

  const anyBytes = fc.uint8Array({ maxLength: 64 });
  const validText = fc.string({ unit: 'binary', maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s)));
  const inputs = fc.oneof(anyBytes, validText, nearUtf8);

  it('isValidUtf8 agrees with the reference', () => {
    fc.assert(
      fc.property(inputs, (b) => isValidUtf8(b) === referenceValid(b)),
      { numRuns: 2000 },
    );
  });

  it('incremental validation split at every byte position gives the whole-buffer verdict', () => {
    fc.assert(
      fc.property(inputs, (b) => {
        const expected = referenceValid(b);
        for (let i = 0; i <= b.length; i++) {
          if (incremental(b, [i]) !== expected) return false;
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });

  it('incremental validation over arbitrary cuts gives the whole-buffer verdict', () => {
    fc.assert(
      fc.property(inputs, fc.array(fc.nat(), { maxLength: 10 }), (b, raw) => {
        const cuts = [...new Set(raw.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
        return incremental(b, cuts) === referenceValid(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('one validator reused across many texts keeps agreeing (end() resets)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(inputs, fc.nat()), { maxLength: 8 }), (texts) => {
        const v = new Utf8Validator();
        return texts.every(([b, cut]) => incremental(b, [cut % (b.length + 1)], v) === referenceValid(b));
      }),
      { numRuns: 500 },
    );
  });

  it('byte-by-byte validation of long valid text stays valid', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), (s) => {
        const b = Buffer.from(s);
        const v = new Utf8Validator();
        for (let i = 0; i < b.length; i++) if (!v.push(b.subarray(i, i + 1))) return false;
        return v.end();
      }),
      { numRuns: 300 },
    );
  });
});
