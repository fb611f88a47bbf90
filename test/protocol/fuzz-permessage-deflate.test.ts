/**
 * Fuzzing permessage-deflate (RFC 7692 7.2): random bytes, truncated and corrupted DEFLATE
 * streams, with and without context takeover. decodeMessage returns at most maxPayload bytes
 * or throws DUPLEX_DEFLATE_INVALID_DATA (1007) or DUPLEX_PAYLOAD_TOO_BIG (1009), nothing else;
 * intact messages come back exactly; the inflate limit holds at its boundary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeflateParams, PayloadTooBigError, PerMessageDeflate, ProtocolError } from 'duplexjs/protocol';
import fc from 'fast-check';
import { bytesOf, params, protocolErrors } from '../helpers/fuzz.js';

const DOCUMENTED = protocolErrors();
const RSV1 = 0x40;

const deflateParams: fc.Arbitrary<DeflateParams> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.integer({ min: 9, max: 15 }),
  clientMaxWindowBits: fc.integer({ min: 9, max: 15 }),
});

/** decode runs decodeMessage and checks that it returns within the limit or throws a documented error. */
function decode(ext: PerMessageDeflate, payload: Buffer, maxPayload: number): Buffer | ProtocolError {
  try {
    const out = ext.decodeMessage(payload, RSV1, maxPayload);
    assert.ok(out.length <= maxPayload, `inflated ${out.length} bytes over the limit ${maxPayload}`);
    return out;
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      throw new assert.AssertionError({ message: `decodeMessage threw ${(e as Error)?.stack ?? e}` });
    }
    assert.ok(['DUPLEX_DEFLATE_INVALID_DATA', 'DUPLEX_PAYLOAD_TOO_BIG'].includes(e.code), e.code);
    assert.equal(e.closeCode, DOCUMENTED.get(e.code));
    return e;
  }
}

/** Plaintexts that compress well, badly, or not at all. */
const plaintext = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer()).map(([n, seed]) => bytesOf(n, seed)),
  fc
    .tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 255 }))
    .map(([n, b]) => Buffer.alloc(n, b)),
  fc.string({ maxLength: 400 }).map((s) => Buffer.from(s.repeat(3))),
);

/** A corruption of one encoded message: truncate it, flip bits, or append bytes. */
const corruption = fc.oneof(
  fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length > 0) c[at % c.length]! ^= x;
    return c;
  }),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => (b: Buffer) => Buffer.concat([b, tail])),
);

describe('fuzz: permessage-deflate decoding (RFC 7692 7.2.2)', () => {
  it('random bytes inflate within the limit or fail with 1007/1009', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('server', 'client') as fc.Arbitrary<'server' | 'client'>,
        deflateParams,
        fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 100_000 }),
        (role, p, payloads, maxPayload) => {
          const ext = new PerMessageDeflate({ role, params: p });
          for (const payload of payloads) {
            if (decode(ext, Buffer.from(payload), maxPayload) instanceof ProtocolError) break;
          }
        },
      ),
      params(500),
    );
  });

  it('intact messages round-trip with context takeover; a corrupted one fails with a documented code or inflates within the limit', () => {
    fc.assert(
      fc.property(
        deflateParams,
        fc.array(plaintext, { minLength: 1, maxLength: 5 }),
        fc.option(fc.tuple(fc.nat(), corruption)),
        fc.integer({ min: 0, max: 30_000 }),
        (p, messages, corrupt, extraLimit) => {
          const sender = new PerMessageDeflate({ role: 'client', params: p, options: { threshold: 0 } });
          const receiver = new PerMessageDeflate({ role: 'server', params: p });
          const corruptAt = corrupt === null ? -1 : corrupt[0] % messages.length;
          for (const [i, plain] of messages.entries()) {
            const encoded = sender.encodeMessage(plain, true);
            if (encoded.rsv === 0) continue;
            if (i === corruptAt) {
              decode(receiver, corrupt![1](encoded.payload), plain.length + extraLimit);
              // The connection fails (or goes on with whatever it got); nothing after it is compared.
              return;
            }
            const got = decode(receiver, encoded.payload, 16 * 1024 * 1024);
            assert.ok(Buffer.isBuffer(got), `message ${i} failed: ${(got as Error).message}`);
            assert.ok(got.equals(plain), `message ${i} came back different`);
          }
        },
      ),
      params(300),
    );
  });

  it('the inflate limit holds at its boundary: n bytes pass a limit of n and fail a limit of n - 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300_000 }),
        fc.integer({ min: 0, max: 255 }),
        deflateParams,
        (n, byte, p) => {
          const sender = new PerMessageDeflate({
            role: 'client',
            params: { ...p, clientNoContextTakeover: true },
            // Compress even where it does not pay (tiny or random payloads): this tests the inflate limit.
            options: { threshold: 0, skipIncompressible: false },
          });
          const { payload } = sender.encodeMessage(Buffer.alloc(n, byte), true);
          const fits = decode(new PerMessageDeflate({ role: 'server', params: p }), payload, n);
          assert.ok(Buffer.isBuffer(fits) && fits.length === n);
          const over = decode(new PerMessageDeflate({ role: 'server', params: p }), payload, n - 1);
          assert.ok(over instanceof PayloadTooBigError, 'over the limit');
          assert.equal(over.limit, n - 1);
        },
      ),
      params(100),
    );
  });
});
