/**
 * LocalChannel is one channel as seen by this process: its local subscribers, the one broker
 * subscription they share, and the position of the last publication handed to them. It turns
 * the broker's stream into a gap-free one: duplicates are dropped, and a jump in offsets (a
 * message the broker's fan-out lost) is filled from history before anything later goes out.
 */
import type { PreparedMessage } from '../index.js';
import type { StreamPosition } from '../wire/messages.js';
import type { BrokerPublication } from './broker.js';
import type { HubConnection } from './connection.js';
import type { ResolvedPolicy } from './options.js';

/** ChannelHost is what a LocalChannel needs from its hub. */
export interface ChannelHost {
  readonly broker: import('./broker.js').Broker;
  fanOut(channel: LocalChannel, publication: BrokerPublication): void;
  report(error: unknown): void;
}

/** PENDING marks a subscription being set up (waiting for the broker): nothing goes to it yet. */
export const PENDING = 0;
/** LIVE marks a subscription receiving live publications. */
export const LIVE = 1;

/** Recovery is a subscription replaying history: live publications wait in `held` until it is done. */
export class Recovery {
  readonly held: Array<{ pub: BrokerPublication; frames: readonly PreparedMessage[] }> = [];
  bytes = 0;
}

/**
 * Ahead is a live subscription whose client already has messages this process has not delivered
 * yet (it came from a process whose fan-out was further along): those are skipped, once.
 */
export class Ahead {
  readonly until: StreamPosition;
  constructor(until: StreamPosition) {
    this.until = until;
  }
}

/** SubState is the state of one connection's subscription, kept in its channel's `subscribers`. */
export type SubState = typeof PENDING | typeof LIVE | Recovery | Ahead;

/** Publications held while the channel starts or fills a gap; beyond this the oldest go (subscribers then recover). */
const MAX_PENDING = 10_000;

export class LocalChannel {
  readonly name: string;
  readonly policy: ResolvedPolicy;
  /** The local subscribers and the state of each subscription (one Map per channel, none per connection). */
  readonly subscribers = new Map<HubConnection, SubState>();
  readonly #host: ChannelHost;
  /** Resolves once the broker subscription is active and `last` is known. */
  readonly ready: Promise<void>;
  #state: 'starting' | 'live' | 'filling' | 'closed' = 'starting';
  /** The position of the last publication handed to the subscribers. */
  last: StreamPosition = { offset: 0, epoch: '' };
  #pending: BrokerPublication[] = [];

  constructor(host: ChannelHost, name: string, policy: ResolvedPolicy) {
    this.#host = host;
    this.name = name;
    this.policy = policy;
    this.ready = this.#start();
    this.ready.catch(() => {});
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  async #start(): Promise<void> {
    await this.#host.broker.subscribe(this.name);
    const position = await this.#host.broker.position(this.name);
    if (this.#state === 'closed') return;
    this.last = position;
    this.#state = 'live';
    this.#drain();
  }

  /** close stops delivery; the hub unsubscribes from the broker. */
  close(): void {
    this.#state = 'closed';
    this.#pending = [];
  }

  /** receive takes one publication from the broker. */
  receive(pub: BrokerPublication): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'live') {
      this.#hold(pub);
      return;
    }
    let last = this.last;
    if (pub.epoch !== last.epoch) {
      // A new epoch: its messages count from 1, and any before this one are a gap to fill.
      last = { offset: 0, epoch: pub.epoch };
      this.last = last;
    }
    if (pub.offset <= last.offset) return;
    if (pub.offset > last.offset + 1) {
      this.#hold(pub);
      this.#fill();
      return;
    }
    this.last = { offset: pub.offset, epoch: pub.epoch };
    this.#host.fanOut(this, pub);
  }

  /** catchUp reads what the broker stored since `last` (after a broker outage, say) and delivers it. */
  catchUp(): void {
    if (this.#state === 'live') this.#fill();
  }

  #hold(pub: BrokerPublication): void {
    this.#pending.push(pub);
    if (this.#pending.length > MAX_PENDING) this.#pending.shift();
  }

  #fill(): void {
    this.#state = 'filling';
    const since = this.last;
    this.#host.broker.history(this.name, { since }).then(
      (result) => {
        if (this.#state !== 'filling') return;
        for (const pub of result.publications) {
          if (pub.epoch === this.last.epoch && pub.offset > this.last.offset) {
            this.last = { offset: pub.offset, epoch: pub.epoch };
            this.#host.fanOut(this, pub);
          }
        }
        this.#afterFill(result.complete);
      },
      (error) => {
        if (this.#state !== 'filling') return;
        this.#host.report(error);
        this.#afterFill(false);
      },
    );
  }

  /**
   * afterFill delivers what was held. When the history could not fill the gap, the jump goes
   * out as is: each subscriber sees it and resubscribes with `since`, which tells it
   * `recovered: false`.
   */
  #afterFill(complete: boolean): void {
    this.#state = 'live';
    if (!complete) {
      const next = this.#pending.find((p) => p.epoch !== this.last.epoch || p.offset > this.last.offset);
      if (next) this.last = { offset: next.offset - 1, epoch: next.epoch };
    }
    this.#drain();
  }

  #drain(): void {
    const held = this.#pending;
    this.#pending = [];
    for (let i = 0; i < held.length; i++) {
      if (this.#state !== 'live') {
        this.#pending = held.slice(i).concat(this.#pending);
        return;
      }
      this.receive(held[i]!);
    }
  }
}
