import type { ClientMessage } from '../wire/messages.js';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import type { Clock } from './clock.js';
import type { ReplyHandler } from './exchange.js';
import { SubscriptionCore, type SubscriptionHost } from './subscription-core.js';

/** SubscriptionsLink is what the registry needs of its client. */
export interface SubscriptionsLink {
  readonly clock: Clock;
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  /** open: the hub answered `connected` on the current connection. */
  open(): boolean;
  /** sendRequest sends a request on the open connection; its reply goes to `handler`. */
  sendRequest(message: ClientMessage & { id: number }, handler: ReplyHandler): void;
}

/**
 * Subscriptions is a HubClient's registry of subscriptions, one per channel: it (re)subscribes
 * them on every connection, resyncs one after a gap, retries refused ones after a backoff
 * delay, and finds the subscription of an incoming channel message.
 */
export class Subscriptions implements SubscriptionHost {
  readonly #link: SubscriptionsLink;
  readonly #byChannel = new Map<string, SubscriptionCore>();
  readonly #retryTimers = new Set<unknown>();

  constructor(link: SubscriptionsLink) {
    this.#link = link;
  }

  get(channel: string): SubscriptionCore | undefined {
    return this.#byChannel.get(channel);
  }

  has(channel: string): boolean {
    return this.#byChannel.has(channel);
  }

  /** add registers a new subscription and sends it when the connection is open. */
  add(channel: string, validate: ((data: unknown) => unknown) | undefined): SubscriptionCore {
    const core = new SubscriptionCore(channel, validate, this);
    this.#byChannel.set(channel, core);
    if (this.#link.open()) this.#send(core);
    return core;
  }

  /** connected subscribes every subscription on the new connection (with `since` where known). */
  connected(): void {
    for (const core of this.#byChannel.values()) this.#send(core);
  }

  /** disconnected: nothing counts until each is confirmed again; pending retries are moot. */
  disconnected(): void {
    for (const timer of this.#retryTimers) this.#link.clock.clearTimeout(timer);
    this.#retryTimers.clear();
    for (const core of this.#byChannel.values()) core.disconnected();
  }

  /** endAll ends every subscription (the client closed). */
  endAll(): void {
    this.disconnected();
    for (const core of this.#byChannel.values()) core.end();
    this.#byChannel.clear();
  }

  /** unsubscribe ends one subscription and tells the hub when connected. */
  unsubscribe(core: SubscriptionCore): void {
    if (core.state === 'unsubscribed') return;
    core.end();
    this.forget(core);
    if (this.#link.open()) this.#sendUnsubscribe(core.channel);
  }

  /**
   * resubscribe recovers a gap on the open connection: `subscribe` with `since` on the live
   * subscription is a resync (docs/protocol.md, Subscribe); the hub replays from `since`.
   */
  resubscribe(core: SubscriptionCore): void {
    if (this.#current(core)) this.#send(core);
  }

  /**
   * retry sends a refused subscribe again after a backoff delay, as `unsubscribe` then
   * `subscribe` (a NOT_SUBSCRIBED answer is fine): after ALREADY_SUBSCRIBED, from a hub that
   * does not resync, that clears the old subscription first.
   */
  retry(core: SubscriptionCore): void {
    const { clock, backoff, random } = this.#link;
    const timer = clock.setTimeout(
      () => {
        this.#retryTimers.delete(timer);
        if (!this.#current(core)) return;
        this.#sendUnsubscribe(core.channel);
        this.#send(core);
      },
      backoffDelay(core.refusals - 1, backoff, random),
    );
    this.#retryTimers.add(timer);
  }

  forget(core: SubscriptionCore): void {
    if (this.#byChannel.get(core.channel) === core) this.#byChannel.delete(core.channel);
  }

  #current(core: SubscriptionCore): boolean {
    return this.#link.open() && this.#byChannel.get(core.channel) === core;
  }

  #send(core: SubscriptionCore): void {
    this.#link.sendRequest(core.subscribeMessage(), (reply) => {
      if (reply.type === 'subscribed') core.handleSubscribed(reply);
      else if (reply.type === 'error') core.handleSubscribeError(reply);
    });
  }

  #sendUnsubscribe(channel: string): void {
    // The reply (or NOT_SUBSCRIBED) changes nothing.
    this.#link.sendRequest({ type: 'unsubscribe', id: 0, channel }, () => {});
  }
}
