import type { Utf8Validator } from './utf8.js';

/** MessageBufferInit is what a MessageBuffer starts from: the message's first frame and the limit. */
export interface MessageBufferInit {
  /** limit is the largest message accepted, in bytes (the connection's maxPayload). */
  limit: number;
  /** binary tells whether the message is binary (its first frame's opcode). */
  binary: boolean;
  /** rsv is the RSV bits of the first frame. */
  rsv: number;
  /** utf8 is the validator of text checked as it arrives, undefined otherwise. */
  utf8: Utf8Validator | undefined;
}

/**
 * MessageBuffer holds a fragmented message while it is reassembled: its kind, its bytes and,
 * for text that is validated as it arrives, the UTF-8 check so far. It exists from the first
 * fragment to the last only, so a connection between messages holds none of it (a message
 * in one frame never needs one). The first fragment is kept as it came (no copy); from the
 * second on, fragments are copied into one buffer that grows by doubling up to the message
 * limit, so a message retains its bytes and nothing per fragment.
 */
export class MessageBuffer {
  /** Fragments appended so far. */
  fragments = 0;
  private first: Buffer | undefined;
  private acc: Buffer | undefined;
  private used = 0;

  /** The largest message accepted, in bytes. */
  private readonly limit: number;
  /** binary tells whether the message is binary (its first frame's opcode). */
  readonly binary: boolean;
  /** rsv is the RSV bits of its first frame, which mark it for the extensions that encoded it. */
  readonly rsv: number;
  /** utf8 is the validator of text checked fragment by fragment, undefined otherwise. */
  readonly utf8: Utf8Validator | undefined;

  constructor({ limit, binary, rsv, utf8 }: MessageBufferInit) {
    this.limit = limit;
    this.binary = binary;
    this.rsv = rsv;
    this.utf8 = utf8;
  }

  /** length is the number of payload bytes appended so far. */
  get length(): number {
    return this.used;
  }

  append(part: Buffer): void {
    this.fragments++;
    if (this.first === undefined && this.acc === undefined) {
      this.first = part;
      this.used = part.length;
      return;
    }
    const need = this.used + part.length;
    if (this.acc === undefined || this.acc.length < need) {
      const cap = Math.min(Math.max(need * 2, 1024), Math.max(this.limit, need));
      const grown = Buffer.allocUnsafe(cap);
      if (this.acc !== undefined) this.acc.copy(grown, 0, 0, this.used);
      else if (this.first !== undefined) this.first.copy(grown, 0);
      this.acc = grown;
      this.first = undefined;
    }
    part.copy(this.acc, this.used);
    this.used = need;
  }

  /** take returns the whole message and empties the buffer. */
  take(): Buffer {
    const out = this.acc !== undefined ? this.acc.subarray(0, this.used) : (this.first ?? Buffer.alloc(0));
    this.first = undefined;
    this.acc = undefined;
    this.used = 0;
    return out;
  }
}
