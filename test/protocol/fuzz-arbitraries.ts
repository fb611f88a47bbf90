/**
 * Arbitraries of the protocol fuzz suites: byte streams that are mostly frames (so the fuzzer
 * reaches deep into the state machine) with every header field sometimes wrong, plus plain
 * random bytes. Frames are built by the independent encoder of test/helpers/raw-client.ts.
 */
import { deflateRawSync, constants as zlib } from 'node:zlib';
import fc from 'fast-check';
import { bytesOf, cutAt } from '../helpers/fuzz.js';
import { encodeFrame } from '../helpers/raw-client.js';

/** FrameSpec is one generated frame; `lie` is a length written in the header instead of the real one. */
export interface FuzzFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Buffer;
  payload: Buffer;
  lengthBits: 7 | 16 | 64 | undefined;
  lie: bigint | undefined;
}

const closeBody = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(1000, 1001, 1002, 1007, 1011, 3000, 4999) },
      { weight: 2, arbitrary: fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) },
    ),
    fc.oneof(
      fc.string({ maxLength: 20 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    ),
  )
  .map(([code, reason]) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code);
    return Buffer.concat([b, reason]);
  });

/** A deflated message as permessage-deflate puts it on the wire (sync flush, tail removed). */
const deflated = fc
  .tuple(fc.integer({ min: 0, max: 3000 }), fc.integer(), fc.boolean())
  .map(([n, seed, repetitive]) => {
    const plain = repetitive ? Buffer.alloc(n, seed & 0xff) : bytesOf(n, seed);
    const out = deflateRawSync(plain, { finishFlush: zlib.Z_SYNC_FLUSH });
    return out.subarray(0, out.length - 4);
  });

const payload = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: closeBody },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 124, 125, 126, 127, 300, 65535, 65536, 70000), fc.integer())
      .map(([n, seed]) => bytesOf(n, seed)),
  },
  { weight: 1, arbitrary: deflated },
);

/** fuzzFrame generates one frame, mostly well formed, each field sometimes wrong. `masked`: what the receiver expects. */
export function fuzzFrame(masked: boolean, allowRsv1 = false): fc.Arbitrary<FuzzFrame> {
  return fc.record({
    fin: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    rsv: fc.oneof(
      { weight: allowRsv1 ? 6 : 12, arbitrary: fc.constant(0) },
      { weight: allowRsv1 ? 6 : 1, arbitrary: fc.constant(0x40) },
      { weight: 1, arbitrary: fc.constantFrom(0x10, 0x20, 0x30, 0x50, 0x70) },
    ),
    opcode: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
    ),
    masked: fc.oneof(
      { weight: 20, arbitrary: fc.constant(masked) },
      { weight: 1, arbitrary: fc.constant(!masked) },
    ),
    key: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Buffer.from(b)),
    payload,
    lengthBits: fc.oneof(
      { weight: 20, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(16 as const, 64 as const) },
    ),
    lie: fc.oneof(
      { weight: 30, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          fc.constantFrom(2n ** 63n, 2n ** 63n - 1n, 2n ** 53n, 2n ** 32n, 0xffffn, 126n, 125n),
        ),
      },
    ),
  });
}

/** encode writes a FuzzFrame as bytes. */
export function encode(f: FuzzFrame): Buffer {
  const declared = f.lie;
  // A declared length has to fit the length form chosen for it.
  const bits =
    declared === undefined
      ? f.lengthBits === 16 && f.payload.length > 0xffff
        ? 64
        : f.lengthBits
      : declared > 0xffffn
        ? 64
        : declared > 125n
          ? (f.lengthBits ?? 16)
          : f.lengthBits;
  return encodeFrame({
    opcode: f.opcode,
    payload: f.payload,
    fin: f.fin,
    rsv: f.rsv,
    mask: f.masked ? f.key : false,
    ...(bits === undefined ? {} : { lengthBits: bits }),
    ...(declared === undefined ? {} : { declaredLength: declared }),
  });
}

/** summarizeFrame renders a frame briefly for counterexamples. */
export function describeFuzzFrame(f: FuzzFrame): string {
  return `{op ${f.opcode} fin ${f.fin} rsv ${f.rsv} mask ${f.masked} len ${f.payload.length}${f.lengthBits ? ` bits ${f.lengthBits}` : ''}${f.lie === undefined ? '' : ` lie ${f.lie}`} ${f.payload.subarray(0, 12).toString('hex')}}`;
}

/** FuzzStream is a byte stream to feed a receiver: frames, then maybe random bytes. */
export interface FuzzStream {
  frames: FuzzFrame[];
  tail: Buffer;
  bytes: Buffer;
}

/** fuzzStream generates a stream of frames (or, one time in five, random bytes only). */
export function fuzzStream(masked: boolean, allowRsv1 = false): fc.Arbitrary<FuzzStream> {
  const framesThenTail = fc
    .tuple(
      fc.array(fuzzFrame(masked, allowRsv1), { maxLength: 12 }),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(Buffer.alloc(0)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)) },
      ),
    )
    .map(([frames, tail]) => ({ frames, tail, bytes: Buffer.concat([...frames.map(encode), tail]) }));
  const random = fc
    .uint8Array({ maxLength: 300 })
    .map((b) => ({ frames: [] as FuzzFrame[], tail: Buffer.from(b), bytes: Buffer.from(b) }));
  return fc.oneof({ weight: 4, arbitrary: framesThenTail }, { weight: 1, arbitrary: random }).map((s) =>
    Object.defineProperty(s, fc.toStringMethod, {
      value: () =>
        `[${s.frames.map(describeFuzzFrame).join(' ')}] tail ${s.tail.toString('hex')} (${s.bytes.length} bytes)`,
      enumerable: false,
    }),
  );
}

/** cuts are raw cut positions for `cutAt`; sometimes none, sometimes byte by byte. */
export const cuts: fc.Arbitrary<number[] | 'bytewise'> = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.nat(), { maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constant('bytewise' as const) },
);

/** chunked cuts `bytes` as `how` says (bytewise only up to 4 KiB), copying each piece. */
export function chunked(bytes: Buffer, how: number[] | 'bytewise'): Buffer[] {
  if (how !== 'bytewise' || bytes.length > 4096) return cutAt(bytes, how === 'bytewise' ? [] : how);
  return Array.from({ length: bytes.length }, (_, i) => Buffer.from(bytes.subarray(i, i + 1)));
}
