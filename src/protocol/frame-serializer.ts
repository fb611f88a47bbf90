import { mask } from './mask.js';

/** SerializeOptions describes one frame to put on the wire. */
export interface SerializeOptions {
  opcode: number;
  payload: Uint8Array;
  /** @default true */
  fin?: boolean;
  /** RSV bits as they sit in the first header byte (0x40 RSV1 ...). @default 0 */
  rsv?: number;
  /** The 4-byte masking key: a client passes a fresh one per frame (RFC 6455 5.3); a server passes none. */
  maskKey?: Uint8Array | undefined;
}

/** Payloads up to this size are copied behind their header so that a frame is one buffer (one write). */
const COALESCE_LIMIT = 1024;

/** headerLength is the size of a frame header for a payload length, with or without a masking key. */
export function headerLength(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

function writeHeader(target: Buffer, opts: SerializeOptions, length: number): number {
  target[0] = ((opts.fin ?? true) ? 0x80 : 0) | (opts.rsv ?? 0) | opts.opcode;
  const maskBit = opts.maskKey ? 0x80 : 0;
  let off: number;
  if (length < 126) {
    target[1] = maskBit | length;
    off = 2;
  } else if (length < 0x10000) {
    target[1] = maskBit | 126;
    target.writeUInt16BE(length, 2);
    off = 4;
  } else {
    target[1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    target.writeUInt32BE(length >>> 0, 6);
    off = 10;
  }
  if (opts.maskKey) {
    target.set(opts.maskKey, off);
    off += 4;
  }
  return off;
}

/**
 * serializeFrame returns the bytes of one frame as one or two buffers (header, payload) to
 * be written in order. A server frame larger than 1 KiB reuses the payload buffer as is, so
 * the same prepared frame can go to many sockets; a masked (client) frame is always one new
 * buffer, since masking must not touch the caller's payload.
 */
export function serializeFrame(opts: SerializeOptions): Buffer[] {
  const payload = opts.payload;
  const length = payload.length;
  const masked = opts.maskKey !== undefined;
  const hlen = headerLength(length, masked);
  if (masked || length <= COALESCE_LIMIT) {
    const out = Buffer.allocUnsafe(hlen + length);
    const off = writeHeader(out, opts, length);
    if (masked) mask(payload, opts.maskKey!, out, off);
    else if (length <= 64) for (let i = 0; i < length; i++) out[off + i] = payload[i]!;
    else out.set(payload, off);
    return [out];
  }
  const header = Buffer.allocUnsafe(hlen);
  writeHeader(header, opts, length);
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length);
  return [header, body];
}
