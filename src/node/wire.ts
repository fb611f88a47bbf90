import { DuplexError } from '../protocol/index.js';

/**
 * A Wire is the byte pipe under one WebSocket connection: it reads chunks, writes frames
 * batched per event-loop turn, half-closes and tears down. There are two kinds, chosen by
 * `openWire` (open-wire.ts):
 *
 * - `HandleWire` (handle-wire.ts) drives a plain TCP connection's libuv handle directly,
 *   once the HTTP upgrade is done. It skips node:net's `Socket` (a Readable and a Writable,
 *   their state objects and listener arrays per connection), which is most of what a
 *   WebSocket connection costs in memory and a good part of what a small message costs in time.
 *   A server-side TLS connection's `TLSWrap` handle is driven the same way (tls-wire.ts), its
 *   TLSSocket kept only as the owner Node's TLS callbacks report to.
 * - `StreamWire` (stream-wire.ts) works on any `Duplex`: sockets handed to `handleUpgrade` by
 *   other code, client sockets, and every socket when the handle path is unavailable.
 *
 * Both batch their writes with the per-turn flush (flush-turn.ts) and answer `write` with
 * the same rule: false once `buffered` reaches HIGH_WATER_MARK, then one `wireDrain` when it
 * falls below again. docs/design/handle-io.md has the reasons and the rules.
 */
export interface WireListener {
  /**
   * Bytes from the peer. `borrowed`: `chunk` is a read buffer the wire reuses once the call
   * returns (a handle wire's shared read buffer), so nothing may keep it or a view of it.
   */
  wireData(chunk: Buffer, borrowed?: boolean): void;
  /** The peer half-closed (FIN). */
  wireEnd(): void;
  /** A read or write failed; the wire is destroyed right after. */
  wireError(error: Error): void;
  /** The connection is gone; called exactly once, asynchronously. */
  wireClose(): void;
  /** The buffered bytes fell below HIGH_WATER_MARK after a write had returned false. */
  wireDrain(): void;
}

export interface Wire {
  /** Bytes written and not yet handed to the kernel. */
  readonly buffered: number;
  /**
   * cost is the memory the writes not yet handed to the kernel hold: their bytes plus
   * WRITE_OVERHEAD for every buffer queued. Limits on a send queue compare this, not
   * `buffered`: a queue of tiny frames (pongs, one-byte messages) costs far more than its bytes.
   */
  readonly cost: number;
  /** False once the wire was ended or destroyed: writes are dropped. */
  readonly writable: boolean;
  /**
   * write queues frames for the end of this event-loop turn; false when `buffered` is at or
   * above HIGH_WATER_MARK. `callback` is called once: without an argument when these frames
   * (and all before them) were handed to the kernel, with an Error when the wire was
   * destroyed or failed first.
   */
  write(frames: readonly Buffer[], callback?: WriteCallback): boolean;
  /** flush hands queued frames to the kernel now (the end-of-turn flush calls it). */
  flush(): void;
  /** end half-closes after the queued frames left. */
  end(): void;
  /** destroy closes the connection at once. */
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** WriteCallback learns the fate of one write: undefined once it reached the kernel, else the Error. */
export type WriteCallback = (error?: Error) => void;

/**
 * HIGH_WATER_MARK is where a wire's write() starts returning false, on both paths (node:net's
 * default). The stream path applies it itself rather than trusting the Duplex's own mark,
 * which a socket handed over by other code may have set to anything.
 */
export const HIGH_WATER_MARK = 16 * 1024;

/**
 * WRITE_OVERHEAD is what one queued buffer costs in memory beyond its bytes: the Buffer
 * object and its slot in the queue (HandleWire), or node:stream's entry for it (StreamWire).
 * Measured on Node 20 with 200,000 queued 6-byte frames to a peer that does not read
 * (heap + external after a full GC): about 120 bytes per frame on the handle path, 170 on
 * the stream path (DUPLEX_STREAM_IO=1); rounded up.
 */
export const WRITE_OVERHEAD = 192;

/** closedError is what a write callback gets when its data can no longer be sent. */
export function closedError(): Error {
  return new DuplexError('DUPLEX_NOT_SENT', 'the connection closed before the data was sent');
}
