import { HubErrorCode } from '../wire/codes.js';
import type { HistoryReply, StreamPosition, WirePresenceMember } from '../wire/messages.js';
import type { Listener } from './emitter.js';
import { HubClientError } from './errors.js';
import type { RequestOptions } from './requests.js';
import {
  type SubscriptionCore,
  type SubscriptionEvents,
  type SubscriptionState,
  validated,
} from './subscription-core.js';

/** HistoryOptions select a slice of a channel's history. */
export interface HistoryOptions extends RequestOptions {
  /** At most this many publications (the hub caps it too). */
  limit?: number;
  /** Only publications after this position (none when its epoch is not the current one). */
  since?: StreamPosition;
  /** Newest first. @default false (oldest first) */
  reverse?: boolean;
}

/** HistoryPublication is one message of a history page. */
export interface HistoryPublication<T> {
  data: T;
  offset: number;
  epoch: string;
  from?: string;
}

/** HistoryPage is what `history()` resolves with. */
export interface HistoryPage<T> {
  /** The channel's position when the hub read the history. */
  position: StreamPosition;
  publications: HistoryPublication<T>[];
}

/**
 * historyPage reads a `history` reply: binary publications take the binary frames that followed
 * it, in order; publications the validator rejects are left out and reported to `invalid`.
 */
export function historyPage(
  reply: HistoryReply,
  binaries: Uint8Array[],
  validate: ((data: unknown) => unknown) | undefined,
  invalid: (error: HubClientError) => void,
): HistoryPage<unknown> {
  let next = 0;
  const publications: HistoryPublication<unknown>[] = [];
  for (const p of reply.publications) {
    const checked = validated(validate, p.binary === true ? binaries[next++] : p.data);
    if (!checked.ok) {
      const message = `history message ${p.offset} on ${reply.channel} failed validation`;
      invalid(new HubClientError(HubErrorCode.ValidationFailed, message, { cause: checked.cause }));
      continue;
    }
    const publication: HistoryPublication<unknown> = { data: checked.data, offset: p.offset, epoch: p.epoch };
    if (p.from !== undefined) publication.from = p.from;
    publications.push(publication);
  }
  return { position: reply.position, publications };
}

/** SubscriptionOwner is what a Subscription asks of its HubClient. */
export interface SubscriptionOwner {
  presence(channel: string, options?: RequestOptions): Promise<WirePresenceMember[]>;
  history(
    channel: string,
    options: HistoryOptions | undefined,
    core: SubscriptionCore,
  ): Promise<HistoryPage<unknown>>;
  unsubscribe(core: SubscriptionCore): void;
}

/**
 * Subscription is one channel subscription of a HubClient (`client.subscribe(channel)`); it is
 * not constructed by applications. It lives until `unsubscribe()`, `client.close()`, or the hub
 * ending it, and is resubscribed by itself across reconnects.
 */
export class Subscription<T = unknown> {
  readonly #core: SubscriptionCore;
  readonly #owner: SubscriptionOwner;

  constructor(core: SubscriptionCore, owner: SubscriptionOwner) {
    this.#core = core;
    this.#owner = owner;
  }

  /** channel is the channel's name. */
  get channel(): string {
    return this.#core.channel;
  }

  /** state is 'subscribing' until confirmed (again after each drop), 'subscribed', or 'unsubscribed' for good. */
  get state(): SubscriptionState {
    return this.#core.state;
  }

  /** position is the last message delivered, or where the first confirmation placed the subscription. */
  get position(): StreamPosition | undefined {
    const position = this.#core.position;
    return position === undefined ? undefined : { ...position };
  }

  /** on adds a listener and returns the function that removes it. */
  on<K extends keyof SubscriptionEvents<T>>(
    event: K,
    listener: Listener<SubscriptionEvents<T>[K]>,
  ): () => void {
    return this.#core.events.on(event, listener as Listener<SubscriptionEvents<unknown>[K]>);
  }

  /** presence resolves with the users in the channel. */
  presence(options?: RequestOptions): Promise<WirePresenceMember[]> {
    return this.#owner.presence(this.#core.channel, options);
  }

  /**
   * history resolves with stored messages, oldest first unless `reverse`. The channel's
   * validator applies: publications it rejects are left out and reported as `error` events.
   */
  history(options?: HistoryOptions): Promise<HistoryPage<T>> {
    return this.#owner.history(this.#core.channel, options, this.#core) as Promise<HistoryPage<T>>;
  }

  /** unsubscribe ends the subscription; it is idempotent. */
  unsubscribe(): void {
    this.#owner.unsubscribe(this.#core);
  }
}
