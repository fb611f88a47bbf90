import { PayloadTooBigError, ProtocolError } from './errors.js';
import { type Frame, isControlOpcode, MAX_CONTROL_PAYLOAD } from './frame.js';
import { unmask } from './mask.js';

/** FrameParserOptions configures a FrameParser. */
export interface FrameParserOptions {
  /**
   * Whether incoming frames must be masked: true on a server (RFC 6455 5.1: "a client MUST
   * mask all frames that it sends to the server"), false on a client ("A server MUST NOT
   * mask any frames that it sends to the client").
   */
  expectMasked: boolean;
  /** RSV bits that negotiated extensions claim (0x40, 0x20, 0x10); any other RSV bit is a protocol error. @default 0 */
  allowedRsv?: number;
  /** Largest message payload; a data frame's announced length is checked against what is left of it, before any payload is buffered. @default 16 MiB */
  maxMessagePayload?: number;
}

/**
 * FrameParser turns bytes, cut at any place, into frames. Partial input is "not yet", never
 * an error. `push` hands it bytes (it takes ownership: payloads are unmasked in place) and
 * `next` returns the next complete frame, undefined when more bytes are needed, or throws a
 * ProtocolError that carries the close code to fail the connection with.
 */
export class FrameParser {
  /** Largest message payload; the owner may change it between frames. */
  maxMessagePayload: number;
  /** Payload bytes the message in progress already holds; the owner sets it between frames. */
  messageBytes = 0;
  allowedRsv: number;
  private readonly expectMasked: boolean;
  /** Received bytes not yet consumed: chunks[0] from `offset` on, then the other chunks whole. */
  private chunks: Buffer[] = [];
  /** How much of chunks[0] is consumed: frames are read in place, the chunk is never re-sliced. */
  private offset = 0;
  private buffered = 0;
  // The header of the frame whose payload is awaited (`length` is -1 between frames): plain
  // fields rather than a header object per frame.
  private length = -1;
  private fin = false;
  private rsv = 0;
  private opcode = 0;
  private masked = false;
  /** The masking key of the awaited frame; created at the first masked frame, then reused. */
  private key: Uint8Array | undefined;
  /**
   * A chunk pushed as borrowed (valid only until `settle`): payloads taken from it are
   * copies, and `settle` copies what of it is still buffered.
   */
  private borrowed: Buffer | undefined;

  constructor(options: FrameParserOptions) {
    this.expectMasked = options.expectMasked;
    this.allowedRsv = options.allowedRsv ?? 0;
    this.maxMessagePayload = options.maxMessagePayload ?? 16 * 1024 * 1024;
  }

  /**
   * push queues bytes for parsing: `chunk` from index `from` on. A `from` past 0 is only for
   * a parser with nothing buffered (the rest of a chunk handed back by `release`). A
   * `borrowed` chunk stays the caller's (a read buffer it reuses): the parser never hands out
   * a view of it, and the caller calls `settle` before the bytes change.
   */
  push(chunk: Buffer, from = 0, borrowed = false): void {
    const n = chunk.length - from;
    if (n <= 0) return;
    if (from !== 0) {
      if (this.buffered !== 0) throw new RangeError('push from an offset needs an empty parser');
      this.offset = from;
    }
    if (borrowed) {
      if (this.borrowed !== undefined) this.settle();
      this.borrowed = chunk;
    }
    this.chunks.push(chunk);
    this.buffered += n;
  }

  /**
   * settle ends the loan of a borrowed chunk: what of it is still buffered (an incomplete
   * frame) is copied, so the caller may reuse its buffer.
   */
  settle(): void {
    const borrowed = this.borrowed;
    if (borrowed === undefined) return;
    this.borrowed = undefined;
    const chunks = this.chunks;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i] !== borrowed) continue;
      if (i === 0) {
        chunks[0] = Buffer.from(borrowed.subarray(this.offset));
        this.offset = 0;
      } else chunks[i] = Buffer.from(borrowed);
    }
  }

  /**
   * release drops the bytes buffered after the last complete frame and returns how many
   * there were, for the owner to hand back to its caller (Connection#receive stops at a
   * message and gives the rest of the chunk back). Only between frames: after `next`
   * returned a frame.
   */
  release(): number {
    const n = this.buffered;
    this.borrowed = undefined;
    if (n === 0) return 0;
    while (this.chunks.length > 0) this.chunks.pop();
    this.offset = 0;
    this.buffered = 0;
    return n;
  }

  /** bufferedBytes is how many received bytes wait for a frame to complete. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** next returns the next complete frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (this.length < 0 && !this.readHeader()) return undefined;
    const length = this.length;
    if (this.buffered < length) return undefined;
    const payload = this.masked && length > 0 ? this.takeUnmasked(length, this.key!) : this.take(length);
    this.length = -1;
    return { fin: this.fin, rsv: this.rsv, opcode: this.opcode, payload };
  }

  /** readHeader reads the next frame header into the parser's fields; false until it is whole. */
  private readHeader(): boolean {
    const buffered = this.buffered;
    if (buffered < 2) return false;
    const first = this.chunks[0]!;
    let head = first;
    let at = this.offset;
    // The common case reads the header where it lies; one that straddles chunks is gathered first.
    if (first.length - at < 14 && first.length - at !== buffered) {
      head = this.peek(Math.min(14, buffered));
      at = 0;
    }
    const avail = head.length - at;
    const b0 = head[at]!;
    const b1 = head[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = isControlOpcode(opcode);

    // Everything decidable from the first two bytes fails fast, before the rest arrives.
    if ((rsv & ~this.allowedRsv) !== 0 || (rsv !== 0 && control)) {
      // RFC 6455 5.2: "If a nonzero value is received and none of the negotiated extensions
      // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
      // WebSocket Connection_."
      throw new ProtocolError({
        code: 'DUPLEX_RESERVED_BITS',
        message: `reserved bits 0x${rsv.toString(16)} set without an extension`,
      });
    }
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
      // RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
      throw new ProtocolError({
        code: 'DUPLEX_RESERVED_OPCODE',
        message: `reserved opcode 0x${opcode.toString(16)}`,
      });
    }
    if (control) {
      // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less
      // and MUST NOT be fragmented."
      if (!fin)
        throw new ProtocolError({
          code: 'DUPLEX_FRAGMENTED_CONTROL',
          message: 'control frame is fragmented',
        });
      if (len7 > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError({
          code: 'DUPLEX_CONTROL_TOO_BIG',
          message: 'control frame payload is longer than 125 bytes',
        });
      }
    }
    if (masked !== this.expectMasked) {
      throw new ProtocolError({
        code: this.expectMasked ? 'DUPLEX_UNMASKED_FRAME' : 'DUPLEX_MASKED_FRAME',
        message: this.expectMasked ? 'client frame is not masked' : 'server frame is masked',
      });
    }

    const lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const size = 2 + lengthBytes + (masked ? 4 : 0);
    if (avail < size) return false;
    let length = len7;
    if (len7 === 126) {
      length = (head[at + 2]! << 8) | head[at + 3]!;
      // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
      // Duplex refuses a length that is not in its shortest form (docs/design/protocol-choices.md).
      if (length < 126)
        throw new ProtocolError({
          code: 'DUPLEX_NON_MINIMAL_LENGTH',
          message: 'length not in its shortest form',
        });
    } else if (len7 === 127) {
      const hi = head.readUInt32BE(at + 2);
      // RFC 6455 5.2: "the most significant bit MUST be 0".
      if (hi >= 0x80000000)
        throw new ProtocolError({ code: 'DUPLEX_LENGTH_MSB', message: '64-bit length has its top bit set' });
      length = hi * 0x1_0000_0000 + head.readUInt32BE(at + 6);
      if (length < 0x10000)
        throw new ProtocolError({
          code: 'DUPLEX_NON_MINIMAL_LENGTH',
          message: 'length not in its shortest form',
        });
    }
    if (!control && this.messageBytes + length > this.maxMessagePayload) {
      throw new PayloadTooBigError({ size: this.messageBytes + length, limit: this.maxMessagePayload });
    }
    if (masked) {
      const k = at + 2 + lengthBytes;
      this.key ??= new Uint8Array(4);
      const key = this.key;
      key[0] = head[k]!;
      key[1] = head[k + 1]!;
      key[2] = head[k + 2]!;
      key[3] = head[k + 3]!;
    }
    this.fin = fin;
    this.rsv = rsv;
    this.opcode = opcode;
    this.masked = masked;
    this.length = length;
    this.skip(size);
    return true;
  }

  /** peek copies the first n unconsumed bytes without consuming them. */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    let from = this.offset;
    for (const c of this.chunks) {
      const k = Math.min(c.length - from, n - off);
      c.copy(out, off, from, from + k);
      off += k;
      from = 0;
      if (off === n) break;
    }
    return out;
  }

  /** skip consumes n bytes (n <= buffered). */
  private skip(n: number): void {
    this.buffered -= n;
    let at = this.offset + n;
    let first = this.chunks[0]!;
    while (at >= first.length) {
      at -= first.length;
      this.chunks.shift();
      if (this.chunks.length === 0) break;
      first = this.chunks[0]!;
    }
    this.offset = at;
  }

  /**
   * take consumes n bytes: a view when they sit in one chunk (a copy when that chunk is
   * borrowed), one copy when they span several.
   */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    const at = this.offset;
    if (first.length - at >= n) {
      const out = first === this.borrowed ? copyOut(first, at, n) : first.subarray(at, at + n);
      this.skip(n);
      return out;
    }
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /**
   * takeUnmasked consumes n masked bytes and returns them unmasked: in place when they sit in
   * one chunk, else gathered into one copy and unmasked there. (Unmasking each chunk's piece as
   * it is copied measured no faster: the native copy runs at several times the unmask rate.)
   */
  private takeUnmasked(n: number, key: Uint8Array): Buffer {
    const first = this.chunks[0]!;
    const at = this.offset;
    if (first === this.borrowed && n < 128 && first.length - at >= n) {
      // A small payload in a borrowed chunk: copied and unmasked in one pass.
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = first[at + i]! ^ key[i & 3]!;
      this.skip(n);
      return out;
    }
    const out = this.take(n);
    unmask(out, key);
    return out;
  }
}

/** copyOut copies n bytes of `from` at `at` into a new Buffer (a loop for a few bytes, which beats Buffer#copy's view). */
function copyOut(from: Buffer, at: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = from[at + i]!;
  else from.copy(out, 0, at, at + n);
  return out;
}
