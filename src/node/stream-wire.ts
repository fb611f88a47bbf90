import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { scheduleFlush } from './flush-turn.js';
import {
  closedError,
  HIGH_WATER_MARK,
  type Wire,
  type WireListener,
  WRITE_OVERHEAD,
  type WriteCallback,
} from './wire.js';

/**
 * The stream path: a Wire over any node:stream Duplex (client sockets, TLS sockets the TLS
 * handle path did not take, sockets handed to `handleUpgrade` by other code, every socket
 * when the handle path is off).
 */

const wireOf = Symbol('duplex.wire');

interface WiredSocket extends Duplex {
  [wireOf]?: StreamWire;
}

function streamData(this: WiredSocket, chunk: Buffer): void {
  this[wireOf]?.listener.wireData(chunk);
}
function streamEnd(this: WiredSocket): void {
  this[wireOf]?.listener.wireEnd();
}
function streamError(this: WiredSocket, error: Error): void {
  this[wireOf]?.listener.wireError(error);
  // A TLS error after the handshake (a bad record, an alert, a renegotiation over the limit)
  // is emitted by a TLSSocket without destroying it: the wire is destroyed right after, as
  // WireListener.wireError promises.
  this.destroy();
}
function streamClose(this: WiredSocket): void {
  this[wireOf]?.listener.wireClose();
}

/** EMPTY closes a flushed batch: its write callback says the batch reached the kernel. */
const EMPTY = Buffer.alloc(0);

/**
 * StreamWire writes through a Duplex, corked until the end of the turn (one writev per
 * turn). Its backpressure is HIGH_WATER_MARK on `writableLength`, not the Duplex's own mark
 * and `drain` event: a write that leaves the wire at or above the mark returns false and
 * asks to hear when its last frame has left; that callback reports the drain once the
 * buffered bytes are below the mark (the callback of the last write that returned false always
 * finds them there, since every write after it found them below).
 */
export class StreamWire implements Wire {
  readonly #socket: WiredSocket;
  readonly listener: WireListener;
  #corked = false;
  #needDrain = false;
  /** Buffers written in this turn's batch, and in earlier batches not yet handed to the kernel. */
  #batchChunks = 0;
  #pendingChunks = 0;
  readonly #afterFullWrite = (): void => {
    if (!this.#needDrain || this.buffered >= HIGH_WATER_MARK || this.#socket.destroyed) return;
    this.#needDrain = false;
    this.listener.wireDrain();
  };

  constructor(socket: Duplex, listener: WireListener) {
    this.#socket = socket;
    this.listener = listener;
  }

  start(head: Buffer | undefined): void {
    const socket = this.#socket;
    if (this.#socket instanceof Socket) this.#socket.setNoDelay(true).setTimeout(0);
    if (head && head.length > 0) socket.unshift(head);
    socket[wireOf] = this;
    socket.on('data', streamData);
    socket.on('end', streamEnd);
    socket.on('error', streamError);
    socket.on('close', streamClose);
    socket.resume();
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  get cost(): number {
    return this.#socket.writableLength + (this.#pendingChunks + this.#batchChunks) * WRITE_OVERHEAD;
  }

  get writable(): boolean {
    return !this.#socket.destroyed && !this.#socket.writableEnded;
  }

  write(frames: readonly Buffer[], callback?: WriteCallback): boolean {
    const socket = this.#socket;
    if (!this.writable) {
      if (callback) process.nextTick(callback, closedError());
      return false;
    }
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      scheduleFlush(this);
    }
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) socket.write(frames[i]!);
    const full = this.buffered + (last >= 0 ? frames[last]!.length : 0) >= HIGH_WATER_MARK;
    if (full) this.#needDrain = true;
    if (last >= 0 || callback) {
      const frame = last >= 0 ? frames[last]! : Buffer.alloc(0);
      if (callback || full) {
        socket.write(frame, (error?: Error | null) => {
          if (full) this.#afterFullWrite();
          callback?.(error ?? undefined);
        });
      } else socket.write(frame);
    }
    this.#batchChunks += frames.length;
    return !full;
  }

  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    const chunks = this.#batchChunks;
    if (chunks > 0 && this.writable) {
      // One empty write closes the batch: its callback runs once every buffer before it
      // reached the kernel (or the socket failed), which is when they stop costing memory.
      this.#batchChunks = 0;
      this.#pendingChunks += chunks;
      this.#socket.write(EMPTY, () => {
        this.#pendingChunks -= chunks;
      });
    }
    this.#socket.uncork();
  }

  end(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }
}
