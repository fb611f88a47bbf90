const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * unmask XORs `data` in place with the 4-byte masking key of RFC 6455 5.3, starting at key
 * index 0. Masking and unmasking are the same operation. Long buffers are processed a
 * 32-bit word at a time over their aligned middle.
 */
export function unmask(data: Uint8Array, key: Uint8Array): void {
  const n = data.length;
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  if (n < 32) {
    for (let i = 0; i < n; i++) data[i]! ^= key[i & 3]!;
    return;
  }
  const head = (4 - (data.byteOffset & 3)) & 3;
  let i = 0;
  for (; i < head; i++) data[i]! ^= key[i & 3]!;
  const words = (n - head) >>> 2;
  // The key byte that lands on the first aligned position is key[head & 3].
  const r = [k0, k1, k2, k3];
  const b0 = r[head & 3]!;
  const b1 = r[(head + 1) & 3]!;
  const b2 = r[(head + 2) & 3]!;
  const b3 = r[(head + 3) & 3]!;
  const word = littleEndian
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const view = new Uint32Array(data.buffer, data.byteOffset + head, words);
  for (let w = 0; w < words; w++) view[w]! ^= word;
  for (i = head + words * 4; i < n; i++) data[i]! ^= key[i & 3]!;
}

/** mask copies `source` into `target` at `offset` and masks the copy with `key`; `source` is left untouched. */
export function mask(source: Uint8Array, key: Uint8Array, target: Buffer, offset: number): void {
  target.set(source, offset);
  unmask(target.subarray(offset, offset + source.length), key);
}
