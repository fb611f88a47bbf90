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
  bytes: number;
  /** Set for publications: their channel and, under `conflate`, their conflation slot. */
  channel?: string;
  slot?: string;
  pub?: BrokerPublication;
  /** A newer publication that replaced queued ones of its slot: it goes out marked `conflated`. */
  conflated?: boolean;
}

/** framesBytes is the wire size of prepared frames. */
export function framesBytes(frames: readonly PreparedMessage[]): number {
  let n = 0;
  for (const f of frames) n += f.data.length + 14;
  return n;
}

/**
 * OutQueue is a connection's queue. It counts its bytes so that the hub can bound memory per
 * connection and report the total.
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
