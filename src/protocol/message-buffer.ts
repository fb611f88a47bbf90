/**
 * MessageBuffer reassembles the fragments of one message. The first fragment is kept as
 * it came (no copy: most messages have one); from the second on, fragments are copied into
 * one buffer that grows by doubling up to the message limit, so a message retains its bytes
 * and nothing per fragment.
 */
export class MessageBuffer {
  private first: Buffer | undefined;
  private acc: Buffer | undefined;
  private used = 0;

  constructor(private readonly limit: number) {}

  /** length is the number of payload bytes appended so far. */
  get length(): number {
    return this.used;
  }

  append(part: Buffer): void {
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
