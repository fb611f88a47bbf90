/**
 * One flush per event-loop turn, shared by every wire: frames written during a turn leave
 * together (one writev per connection), at the end of the read callback that caused them or
 * on one process.nextTick for all wires.
 */

/** Flushable is a wire as the per-turn flush sees it. */
export interface Flushable {
  flush(): void;
}

let turn: Flushable[] = [];
let flushScheduled = false;
/** readDepth > 0 while a handle's read callback runs: its writes are flushed when it returns. */
let readDepth = 0;

function flushTurn(): void {
  flushScheduled = false;
  const list = turn;
  turn = [];
  for (const wire of list) wire.flush();
}

/**
 * scheduleFlush puts a wire on this turn's flush list. Within a read callback (deliver) the
 * flush runs as the callback returns (so an echo costs no extra tick); elsewhere it is one
 * process.nextTick for all wires.
 */
export function scheduleFlush(wire: Flushable): void {
  turn.push(wire);
  if (!flushScheduled && readDepth === 0) {
    flushScheduled = true;
    process.nextTick(flushTurn);
  }
}

/** Reader is a wire as its read callback sees it. */
export interface Reader {
  received(chunk: Buffer, borrowed?: boolean): void;
}

/**
 * deliver hands one chunk to a wire (`borrowed`: only for the call, see WireListener#wireData)
 * and flushes what was written meanwhile as the outermost read returns.
 */
export function deliver(wire: Reader, chunk: Buffer, borrowed = false): void {
  readDepth++;
  try {
    wire.received(chunk, borrowed);
  } finally {
    if (--readDepth === 0 && turn.length > 0) flushTurn();
  }
}
