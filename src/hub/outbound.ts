/**
 * outbound holds what a hub connection could not write yet: the entries of its bounded queue,
 * and the rules of the slow-consumer policies that decide what to drop.
 */
import type { PreparedMessage } from '../index.js';
import type { BrokerPublication } from './broker.js';

/** OutEntry is one queued message: a reply (never dropped) or a publication (droppable per policy). */
export interface OutEntry {
  /** A reply's JSON text, or a publication's prepared frames (a header and, for binary, the payload). */
  frames: string | readonly PreparedMessage[];
  /** What the entry costs: its wire bytes plus ENTRY_OVERHEAD. */
  bytes: number;
  /** Set for publications: their channel and, under `conflate`, their conflation slot. */
  channel?: string;
  slot?: string;
  pub?: BrokerPublication;
  /** A newer publication that replaced queued ones of its slot: it goes out marked `conflated`. */
  conflated?: boolean;
}

/**
 * ENTRY_OVERHEAD is what one queued message costs in memory beyond its wire bytes: the
 * OutEntry and its slot in the queue, and for a publication the objects only the queue may
 * still hold (the BrokerPublication, its PreparedMessage and Buffer, the frames array, the
 * conflation slot). Measured by test/hub/queue-cost.test.ts (heap + external after a full GC,
 * 20,000 queued publications of a 16-byte payload to a subscriber that never reads, history
 * off): see docs/hub.md, "Limits"; rounded up. Shared objects are counted for each connection
 * that queues them, so many slow subscribers of one channel are over-counted, never under.
 */
export const ENTRY_OVERHEAD = 1024;

/** framesBytes is the wire size of prepared frames. */
export function framesBytes(frames: readonly PreparedMessage[]): number {
  let n = 0;
  for (const f of frames) n += f.data.length + 14;
  return n;
}

/** entryCost is what a queued message of prepared frames counts against the queue's limit. */
export function entryCost(frames: readonly PreparedMessage[]): number {
  return framesBytes(frames) + ENTRY_OVERHEAD;
}

/**
 * OutQueue is a connection's queue. It counts what its entries cost (`bytes`: wire bytes plus
 * ENTRY_OVERHEAD each) so that the hub can bound memory per connection and report the total.
 */
export class OutQueue {
  readonly entries: OutEntry[] = [];
  bytes = 0;

  push(entry: OutEntry): void {
    this.entries.push(entry);
    this.bytes += entry.bytes;
  }

  shift(): OutEntry | undefined {
    const entry = this.entries.shift();
    if (entry) this.bytes -= entry.bytes;
    return entry;
  }

  /** replaceSlot removes the queued publication of `slot` (conflate); true when there was one. */
  replaceSlot(slot: string): boolean {
    const i = this.entries.findIndex((e) => e.slot === slot);
    if (i === -1) return false;
    this.bytes -= this.entries[i]!.bytes;
    this.entries.splice(i, 1);
    return true;
  }

  /** dropOldest removes the oldest publication; false when only replies are left. */
  dropOldest(): boolean {
    const i = this.entries.findIndex((e) => e.pub !== undefined);
    if (i === -1) return false;
    this.bytes -= this.entries[i]!.bytes;
    this.entries.splice(i, 1);
    return true;
  }

  /** dropChannel removes the queued publications of one channel (they will be recovered from history). */
  dropChannel(channel: string): number {
    let dropped = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.channel !== channel) continue;
      this.bytes -= e.bytes;
      this.entries.splice(i, 1);
      dropped++;
    }
    return dropped;
  }
}
