// The payloads every interop pair exchanges. Exact bytes, so that any corruption fails a test.

/** Two-, three- and four-byte UTF-8 sequences (é, €, 𝄞 outside the BMP). */
export const UTF8_TEXT = 'héllo wörld €𝄞';

/** Every byte value once, so that no byte is special-cased by accident. */
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export const MIB = 1024 * 1024;

/** bigText is exactly `bytes` bytes of UTF-8 mixing 1-, 2-, 3- and 4-byte characters. */
export function bigText(bytes: number): string {
  const unit = 'a€é𝄞z'; // 1 + 3 + 2 + 4 + 1 = 11 bytes
  const whole = unit.repeat(Math.floor(bytes / 11));
  return whole + 'x'.repeat(bytes - Buffer.byteLength(whole));
}

/** bigBinary is `bytes` bytes of a pattern that is not periodic in 256 or in any power of two. */
export function bigBinary(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = 0x2545f491;
  for (let i = 0; i < bytes; i++) {
    // xorshift32: cheap, deterministic, and every byte position differs.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The subprotocols a client offers, and the one a server must pick. */
export const OFFERED_PROTOCOLS = ['a.v1', 'b.v2'];
export const CHOSEN_PROTOCOL = 'b.v2';
