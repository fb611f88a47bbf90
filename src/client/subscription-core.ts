import { HubErrorCode } from '../wire/codes.js';
import type {
  ErrorReply,
  JoinMessage,
  JsonValue,
  LeaveMessage,
  StreamPosition,
  SubscribedReply,
  SubscribeRequest,
  UnsubscribedReply,
  WirePublication,
} from '../wire/messages.js';
import { Emitter } from './emitter.js';
import { HubClientError } from './errors.js';

/** MessageMeta is where a message sits in its channel's stream, and who published it. */
export interface MessageMeta {
  offset: number;
  epoch: string;
  /** The publishing user's id (absent for server publishes and anonymous users). */
  from?: string;
}

/** SubscribedInfo comes with every `subscribed` event. */
export interface SubscribedInfo {
  /**
   * True when every message missed since the last one delivered follows (a resubscription the
   * hub could recover). False on the first subscription, and when messages were lost: the
   * history no longer reached back or the epoch changed. Then `position` is where delivery
   * restarts.
   */
  recovered: boolean;
  /** False for the first subscription, true for every resubscription (reconnect or gap). */
  resubscribed: boolean;
  /** The last position delivered (or, with `recovered: false`, the channel's current position). */
  position: StreamPosition;
}

/** Member is a user in a channel's presence events. */
export interface Member {
  user: string;
  info?: JsonValue;
}

/** UnsubscribedInfo tells why the hub ended a subscription by itself. */
export interface UnsubscribedInfo {
  code?: HubErrorCode;
  reason?: string;
}

/** SubscriptionEvents types the events of a Subscription. */
export type SubscriptionEvents<T> = {
  message: [data: T, meta: MessageMeta];
  subscribed: [info: SubscribedInfo];
  join: [member: Member];
  leave: [member: Member];
  /** A subscribe refused, a message the validator rejected (DUPLEX_HUB_VALIDATION_FAILED). */
  error: [error: HubClientError];
  /** The subscription ended by the hub (e.g. authorization revoked) or by a refused subscribe. */
  unsubscribed: [info: UnsubscribedInfo];
};

/** SubscriptionState is where a subscription stands. */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/** SubscriptionHost is what a subscription asks of its client. */
export interface SubscriptionHost {
  /** resubscribe sends `subscribe` with `since` on the open connection (a resync after a gap). */
  resubscribe(core: SubscriptionCore): void;
  /** retry sends `unsubscribe` and `subscribe` again later, after a retryable refusal. */
  retry(core: SubscriptionCore): void;
  /** forget drops the subscription from the client (it ended). */
  forget(core: SubscriptionCore): void;
}

/**
 * validated applies a channel's validator: a validator that throws or returns false rejects
 * the data; one that returns true or undefined keeps it as is; any other return value replaces
 * it (so a schema's `parse` that transforms works).
 */
export function validated(
  validate: ((data: unknown) => unknown) | undefined,
  data: unknown,
): { ok: true; data: unknown } | { ok: false; cause: unknown } {
  if (validate === undefined) return { ok: true, data };
  try {
    const result = validate(data);
    if (result === false) return { ok: false, cause: undefined };
    return { ok: true, data: result === true || result === undefined ? data : result };
  } catch (cause) {
    return { ok: false, cause };
  }
}

/**
 * SubscriptionCore keeps one subscription's exactness: it delivers `pub` messages only once the
 * current (re)subscription was confirmed, only with the next offset of the same epoch, drops
 * offsets already delivered, and on a gap or an epoch change asks for a resubscription with
 * `since` instead of delivering out of order. Its position survives reconnects: it is the last
 * message delivered, or the channel's position at the first confirmation when none was.
 */
export class SubscriptionCore {
  readonly events = new Emitter<SubscriptionEvents<unknown>>();
  state: SubscriptionState = 'subscribing';
  /** Last message delivered, or the position of the first confirmation; undefined before it. */
  position: StreamPosition | undefined;
  /** How many retryable refusals in a row (for the retry backoff). */
  refusals = 0;
  /** The subscribe in flight on the current connection. */
  #pending: SubscribeRequest | undefined;
  /** The `since` that subscribe carried. */
  #since: StreamPosition | undefined;
  /** True once the current connection confirmed the subscription: pubs count from then on. */
  #live = false;

  constructor(
    readonly channel: string,
    readonly validate: ((data: unknown) => unknown) | undefined,
    readonly host: SubscriptionHost,
  ) {}

  /**
   * subscribeMessage is the `subscribe` to send now, with `since` once a position is known.
   * Its `id` is read when the reply comes: the sender sets it.
   */
  subscribeMessage(): SubscribeRequest {
    this.#since = this.position === undefined ? undefined : { ...this.position };
    this.#live = false;
    const message: SubscribeRequest = { type: 'subscribe', id: 0, channel: this.channel };
    if (this.#since !== undefined) message.since = this.#since;
    this.#pending = message;
    return message;
  }

  /** disconnected: the connection is gone; nothing counts until the next confirmation. */
  disconnected(): void {
    this.#pending = undefined;
    this.#live = false;
    if (this.state === 'subscribed') this.state = 'subscribing';
  }

  handleSubscribed(reply: SubscribedReply): void {
    if (reply.id !== this.#pending?.id || this.state === 'unsubscribed') return;
    this.#pending = undefined;
    this.#live = true;
    this.refusals = 0;
    this.state = 'subscribed';
    const since = this.#since;
    const now = reply.position;
    // docs/protocol.md: "If the history still holds every message after `since` in the same
    // epoch: `subscribed` with "recovered":true, then each missed message as `pub` in order".
    const recovered =
      since !== undefined &&
      reply.recovered === true &&
      now.epoch === since.epoch &&
      now.offset >= since.offset;
    this.position = recovered ? since : { offset: now.offset, epoch: now.epoch };
    this.events.emit('subscribed', {
      recovered,
      resubscribed: since !== undefined,
      position: { ...this.position },
    });
  }

  handleSubscribeError(reply: ErrorReply): void {
    if (reply.id !== this.#pending?.id || this.state === 'unsubscribed') return;
    this.#pending = undefined;
    const error = new HubClientError(reply.code, reply.message, retryableOption(reply));
    this.events.emit('error', error);
    // ALREADY_SUBSCRIBED can only mean the hub still holds an older subscription of this
    // client (a resubscription raced it): the retry unsubscribes first.
    if (error.retryable || reply.code === HubErrorCode.AlreadySubscribed) {
      this.refusals++;
      this.host.retry(this);
      return;
    }
    this.end();
    this.host.forget(this);
    this.events.emit('unsubscribed', { code: reply.code, reason: reply.message });
  }

  /** handlePub takes a `pub` (binary payload already attached as `data`). */
  handlePub(message: WirePublication, data: unknown): void {
    const last = this.position;
    if (!this.#live || last === undefined) return; // replayed after the confirmation
    const { offset, epoch } = message;
    if (typeof offset !== 'number' || typeof epoch !== 'string') return;
    if (epoch === last.epoch) {
      if (offset <= last.offset) return; // seen already
      // A `conflated` pub (a channel with the conflate slow-consumer policy) replaced older
      // queued ones on purpose: its jump is taken, not recovered.
      if (offset !== last.offset + 1 && (message as { conflated?: unknown }).conflated !== true) {
        this.#gap();
        return;
      }
    } else if (!(last.offset === 0 && offset === 1)) {
      // A new epoch, except the first message of a channel that had none: the old epoch's
      // messages after `last` may be lost, so the hub must say so with `recovered: false`.
      this.#gap();
      return;
    }
    this.position = { offset, epoch };
    const checked = validated(this.validate, data);
    if (!checked.ok) {
      this.events.emit(
        'error',
        new HubClientError(
          HubErrorCode.ValidationFailed,
          `message ${offset} on ${this.channel} failed validation`,
          { cause: checked.cause },
        ),
      );
      return;
    }
    const meta: MessageMeta = { offset, epoch };
    if (message.from !== undefined) meta.from = message.from;
    this.events.emit('message', checked.data, meta);
  }

  handlePresence(message: JoinMessage | LeaveMessage): void {
    if (this.state === 'unsubscribed') return;
    const member: Member = { user: message.member.user };
    if (message.member.info !== undefined) member.info = message.member.info;
    this.events.emit(message.type, member);
  }

  /** handleEnded: the hub ended the subscription by itself (`unsubscribed` without an id). */
  handleEnded(message: UnsubscribedReply): void {
    if (this.state === 'unsubscribed') return;
    this.end();
    this.host.forget(this);
    const info: UnsubscribedInfo = {};
    if (message.code !== undefined) info.code = message.code;
    if (message.reason !== undefined) info.reason = message.reason;
    this.events.emit('unsubscribed', info);
  }

  /** end marks the subscription over; later messages are ignored. */
  end(): void {
    this.state = 'unsubscribed';
    this.#live = false;
    this.#pending = undefined;
  }

  #gap(): void {
    this.#live = false;
    this.host.resubscribe(this);
  }
}

/** retryableOption carries the hub's `retryable` when it sent one. */
export function retryableOption(reply: ErrorReply): { retryable?: boolean } {
  return typeof reply.retryable === 'boolean' ? { retryable: reply.retryable } : {};
}
