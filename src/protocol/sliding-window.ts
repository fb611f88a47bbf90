/**
 * SlidingWindow keeps the last `capacity` bytes of a stream of messages: the LZ77 history
 * that context takeover (RFC 7692 7.1.1) carries from one message to the next. It is one
 * buffer, allocated on first use and updated in place, so a connection holds at most
 * `capacity` bytes per direction and allocates nothing per message.
 */
export class SlidingWindow {
  readonly capacity: number;
  private buffer: Buffer | undefined;
  private length = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** bytes is the current history, oldest first (a view, valid until the next push); undefined while empty. */
  get bytes(): Buffer | undefined {
    return this.length === 0 ? undefined : this.buffer!.subarray(0, this.length);
  }

  /** push appends `data` (copying it), keeping only the last `capacity` bytes. */
  push(data: Uint8Array): void {
    if (data.length === 0 || this.capacity === 0) return;
    this.buffer ??= Buffer.allocUnsafeSlow(this.capacity);
    if (data.length >= this.capacity) {
      this.buffer.set(data.subarray(data.length - this.capacity));
      this.length = this.capacity;
      return;
    }
    const keep = Math.min(this.length, this.capacity - data.length);
    this.buffer.copyWithin(0, this.length - keep, this.length);
    this.buffer.set(data, keep);
    this.length = keep + data.length;
  }
}
