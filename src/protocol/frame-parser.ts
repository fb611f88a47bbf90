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

interface Header {
  fin: boolean;
  rsv: number;
  opcode: number;
  length: number;
  key: Buffer | undefined;
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
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: Header | undefined;

  constructor(options: FrameParserOptions) {
    this.expectMasked = options.expectMasked;
    this.allowedRsv = options.allowedRsv ?? 0;
    this.maxMessagePayload = options.maxMessagePayload ?? 16 * 1024 * 1024;
  }

  /** push queues bytes for parsing. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** bufferedBytes is how many received bytes wait for a frame to complete. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** next returns the next complete frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (this.header === undefined) {
      this.header = this.readHeader();
      if (this.header === undefined) return undefined;
    }
    const h = this.header;
    if (this.buffered < h.length) return undefined;
    const payload = this.take(h.length);
    if (h.key !== undefined && h.length > 0) unmask(payload, h.key);
    this.header = undefined;
    return { fin: h.fin, rsv: h.rsv, opcode: h.opcode, payload };
  }

  private readHeader(): Header | undefined {
    if (this.buffered < 2) return undefined;
    const first = this.chunks[0]!;
    const head =
      first.length >= 14 || first.length === this.buffered ? first : this.peek(Math.min(14, this.buffered));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;

    // Everything decidable from the first two bytes fails fast, before the rest arrives.
    if ((rsv & ~this.allowedRsv) !== 0 || (rsv !== 0 && isControlOpcode(opcode))) {
      // RFC 6455 5.2: "If a nonzero value is received and none of the negotiated extensions
      // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
      // WebSocket Connection_."
      throw new ProtocolError(
        'DUPLEX_RESERVED_BITS',
        `reserved bits 0x${rsv.toString(16)} set without an extension`,
      );
    }
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
      // RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
      throw new ProtocolError('DUPLEX_RESERVED_OPCODE', `reserved opcode 0x${opcode.toString(16)}`);
    }
    if (isControlOpcode(opcode)) {
      // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less
      // and MUST NOT be fragmented."
      if (!fin) throw new ProtocolError('DUPLEX_FRAGMENTED_CONTROL', 'control frame is fragmented');
      if (len7 > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError('DUPLEX_CONTROL_TOO_BIG', 'control frame payload is longer than 125 bytes');
      }
    }
    if (masked !== this.expectMasked) {
      throw new ProtocolError(
        this.expectMasked ? 'DUPLEX_UNMASKED_FRAME' : 'DUPLEX_MASKED_FRAME',
        this.expectMasked ? 'client frame is not masked' : 'server frame is masked',
      );
    }

    const lengthBytes = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const size = 2 + lengthBytes + (masked ? 4 : 0);
    if (head.length < size) return undefined;
    let length = len7;
    if (len7 === 126) {
      length = head.readUInt16BE(2);
      // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
      // Duplex refuses a length that is not in its shortest form (docs/design/protocol-choices.md).
      if (length < 126)
        throw new ProtocolError('DUPLEX_NON_MINIMAL_LENGTH', 'length not in its shortest form');
    } else if (len7 === 127) {
      const hi = head.readUInt32BE(2);
      // RFC 6455 5.2: "the most significant bit MUST be 0".
      if (hi >= 0x80000000) throw new ProtocolError('DUPLEX_LENGTH_MSB', '64-bit length has its top bit set');
      length = hi * 0x1_0000_0000 + head.readUInt32BE(6);
      if (length < 0x10000)
        throw new ProtocolError('DUPLEX_NON_MINIMAL_LENGTH', 'length not in its shortest form');
    }
    if (!isControlOpcode(opcode) && this.messageBytes + length > this.maxMessagePayload) {
      throw new PayloadTooBigError({ size: this.messageBytes + length, limit: this.maxMessagePayload });
    }
    const key = masked ? Buffer.from(head.subarray(2 + lengthBytes, size)) : undefined;
    this.skip(size);
    return { fin, rsv, opcode, length, key };
  }

  /** peek copies the first n buffered bytes without consuming them. */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }

  /** take consumes n bytes: a view when they sit in one chunk, one copy when they span several. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.skip(n);
      return out;
    }
    const out = this.peek(n);
    this.skip(n);
    return out;
  }
}
