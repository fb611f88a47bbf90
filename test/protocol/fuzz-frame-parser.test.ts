/**
 * Fuzzing FrameParser (RFC 6455 5.2): any bytes, cut anywhere, give the same frames or the
 * same documented error; a returned frame obeys 5.2 and 5.5; and the parser never allocates
 * more than the bytes it was given, whatever length a header declares.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Frame, FrameParser, type FrameParserOptions, ProtocolError } from 'duplexjs/protocol';
import fc from 'fast-check';
import { cutAt, params, protocolErrors } from '../helpers/fuzz.js';
import { encodeFrame } from '../helpers/raw-client.js';
import { chunked, cuts, type FuzzStream, fuzzStream } from './fuzz-arbitraries.js';

const DOCUMENTED = protocolErrors();

/**
 * Allocation tracking: while `budget` is set, every Buffer allocation larger than it is
 * recorded. The parser is given the bytes received so far as its budget.
 */
let budget: number | undefined;
const overAllocations: Array<{ size: number; budget: number }> = [];
const originals = {
  alloc: Buffer.alloc,
  allocUnsafe: Buffer.allocUnsafe,
  allocUnsafeSlow: Buffer.allocUnsafeSlow,
};

function watch<F extends (size: number, ...rest: never[]) => Buffer>(original: F): F {
  return function (this: unknown, size: number, ...rest: never[]) {
    if (budget !== undefined && size > budget) overAllocations.push({ size, budget });
    return original.call(this, size, ...rest);
  } as F;
}

before(() => {
  Buffer.alloc = watch(originals.alloc);
  Buffer.allocUnsafe = watch(originals.allocUnsafe);
  Buffer.allocUnsafeSlow = watch(originals.allocUnsafeSlow);
});
after(() => {
  Object.assign(Buffer, originals);
});

interface Outcome {
  frames: string[];
  /** `code closeCode` of the error that ended parsing, if any. */
  error: string | undefined;
  buffered: number;
}

function describeFrame(f: Frame): string {
  return `${f.fin ? 'F' : '-'} rsv=${f.rsv} op=${f.opcode} ${f.payload.toString('hex')}`;
}

/** checkFrame asserts what RFC 6455 5.2 and 5.5 say every accepted frame is. */
function checkFrame(f: Frame, opts: FrameParserOptions): void {
  assert.ok([0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(f.opcode), `opcode ${f.opcode} accepted`);
  assert.equal(f.rsv & ~(opts.allowedRsv ?? 0), 0, 'only allowed RSV bits');
  if (f.opcode >= 0x8) {
    assert.ok(f.fin, 'control frames are not fragmented');
    assert.ok(f.payload.length <= 125, 'control payload <= 125');
    assert.equal(f.rsv, 0, 'no RSV on control frames');
  } else {
    assert.ok(
      f.payload.length <= (opts.maxMessagePayload ?? 16 * 1024 * 1024),
      'data frame within the limit',
    );
  }
}

/** checkError asserts that a thrown error is a documented ProtocolError with its documented close code. */
function checkError(e: unknown): ProtocolError {
  if (!(e instanceof ProtocolError))
    throw new assert.AssertionError({ message: `threw a non-ProtocolError: ${e}` });
  assert.ok(DOCUMENTED.has(e.code), `undocumented code ${e.code}`);
  assert.equal(e.closeCode, DOCUMENTED.get(e.code), `close code of ${e.code}`);
  return e;
}

/** parse feeds the chunks in order and collects frames until the first error. */
function parse(chunks: Buffer[], opts: FrameParserOptions): Outcome {
  const parser = new FrameParser(opts);
  const frames: string[] = [];
  let pushed = 0;
  try {
    for (const chunk of chunks) {
      pushed += chunk.length;
      budget = pushed;
      parser.push(chunk);
      for (let f = parser.next(); f !== undefined; f = parser.next()) {
        checkFrame(f, opts);
        frames.push(describeFrame(f));
      }
    }
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    const error = checkError(e);
    return { frames, error: `${error.code} ${error.closeCode}`, buffered: -1 };
  } finally {
    budget = undefined;
  }
  return { frames, error: undefined, buffered: parser.bufferedBytes };
}

const options = fc.record({
  allowedRsv: fc.constantFrom(0, 0x40),
  maxMessagePayload: fc.oneof(
    { weight: 3, arbitrary: fc.constant(16 * 1024 * 1024) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
  ),
});

/** expectedPrefix is how the frames up to the first lying header must come out. */
function expectedPrefix(stream: FuzzStream): string[] {
  const out: string[] = [];
  for (const f of stream.frames) {
    if (f.lie !== undefined) break;
    out.push(`${f.fin ? 'F' : '-'} rsv=${f.rsv} op=${f.opcode} ${f.payload.toString('hex')}`);
  }
  return out;
}

for (const expectMasked of [true, false]) {
  const side = expectMasked ? 'server' : 'client';
  describe(`fuzz: FrameParser on the ${side} side (RFC 6455 5.2)`, () => {
    it('any bytes in any chunking: the same frames or the same documented error, never anything else', () => {
      fc.assert(
        fc.property(fuzzStream(expectMasked, true), cuts, options, (stream, how, opts) => {
          overAllocations.length = 0;
          const o = { ...opts, expectMasked };
          const whole = parse([Buffer.from(stream.bytes)], o);
          const pieces = parse(chunked(stream.bytes, how), o);
          assert.deepEqual(pieces, whole, 'chunking changed the result');
          assert.deepEqual(overAllocations, [], 'allocated more than the bytes received');
          // Frames before the first lying header come out exactly as they were sent.
          const want = expectedPrefix(stream);
          const n = Math.min(whole.frames.length, want.length);
          assert.deepEqual(whole.frames.slice(0, n), want.slice(0, n));
          if (whole.error === undefined && stream.tail.length === 0 && want.length === stream.frames.length) {
            assert.equal(whole.frames.length, stream.frames.length, 'every frame parsed');
            assert.equal(whole.buffered, 0);
          }
        }),
        params(400),
      );
    });

    it('a huge declared length over a tiny maxPayload fails with 1009 at the header, before any payload', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1024 }),
          fc.bigInt({ min: 1n, max: 2n ** 63n - 1n - 1024n }),
          fc.constantFrom(0x1, 0x2, 0x0),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (maxPayload, extra, opcode, key, raw) => {
            const declared = BigInt(maxPayload) + extra;
            const bits = declared > 0xffffn ? 64 : declared > 125n ? 16 : 7;
            const head = encodeFrame({
              opcode,
              fin: false,
              mask: expectMasked ? Buffer.from(key) : false,
              lengthBits: bits,
              declaredLength: declared,
            });
            overAllocations.length = 0;
            const got = parse(cutAt(head, raw), { expectMasked, maxMessagePayload: maxPayload });
            assert.deepEqual(got, { frames: [], error: 'DUPLEX_PAYLOAD_TOO_BIG 1009', buffered: -1 });
            assert.deepEqual(overAllocations, [], 'allocated from the declared length');
          },
        ),
        params(300),
      );
    });

    it('a declared length within the limit is not allocated before its bytes arrive', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 126, max: 16 * 1024 * 1024 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }),
          (declared, key, sizes) => {
            const bits = declared > 0xffff ? 64 : 16;
            const head = encodeFrame({
              opcode: 0x2,
              mask: expectMasked ? Buffer.from(key) : false,
              lengthBits: bits,
              declaredLength: declared,
            });
            // Never the whole payload: the frame stays incomplete.
            const chunks = [head];
            let left = declared - 1;
            for (const n of sizes) {
              const k = Math.min(n, left);
              if (k > 0) chunks.push(Buffer.alloc(k, 0x55));
              left -= k;
            }
            overAllocations.length = 0;
            const got = parse(chunks, { expectMasked });
            assert.equal(got.error, undefined);
            assert.deepEqual(overAllocations, [], 'allocated more than the bytes received');
          },
        ),
        params(200),
      );
    });
  });
}
