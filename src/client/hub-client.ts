import { HubCloseCode, HubErrorCode } from '../wire/codes.js';
import {
  type CallRequest,
  type ClientMessage,
  type ConnectedReply,
  type ConnectRequest,
  type HistoryRequest,
  type JsonValue,
  type PublishRequest,
  type ServerMessage,
  SUBPROTOCOL,
  type WirePresenceMember,
} from '../wire/messages.js';
import { backoffDelay, hintDelay, retryAfterHint } from './backoff.js';
import { Emitter, type Listener } from './emitter.js';
import { HubClientError } from './errors.js';
import { Exchange } from './exchange.js';
import { FrameReader, randomKeyPrefix, toBytes } from './frame-reader.js';
import { type HubClientOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { RequestOptions } from './requests.js';
import type {
  ChannelData,
  ChannelName,
  HubSchema,
  MethodName,
  MethodParams,
  MethodResult,
} from './schema.js';
import {
  type HistoryOptions,
  type HistoryPage,
  historyPage,
  Subscription,
  type SubscriptionOwner,
} from './subscription.js';
import { retryableOption } from './subscription-core.js';
import { Subscriptions } from './subscriptions.js';
import type { CloseEventLike, MessageEventLike, WebSocketLike } from './transport.js';

/** HubClientState: 'connecting' until first open, 'open', 'reconnecting' after a drop, 'closed' for good. */
export type HubClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** HubClientEvents types the events of a HubClient. */
export type HubClientEvents = {
  state: [state: HubClientState];
  /** Errors that belong to no request: a failing token function, a refused refresh, a hub protocol fault, a final close. */
  error: [error: HubClientError];
};

/** PublishOptions tune one publish. */
export interface PublishOptions extends RequestOptions {
  /** Overrides the automatic key that makes a resent publish be stored once. */
  idempotencyKey?: string;
  /** On a `conflate` channel, queued messages with the same key replace each other for slow subscribers. */
  conflationKey?: string;
}

/** PublishResult is where the hub stored a published message. */
export interface PublishResult {
  offset: number;
  epoch: string;
}

/** SubscribeOptions tune one subscription. */
export interface SubscribeOptions<T> {
  /**
   * Checks each received message at run time: throw or return false to reject it (it is not
   * delivered; the subscription emits `error` with DUPLEX_HUB_VALIDATION_FAILED); return true or
   * nothing to keep it; any other value replaces it. A type guard and a schema's `parse` fit.
   */
  validate?: ((data: unknown) => data is T) | ((data: unknown) => T | boolean | undefined);
}

/** CallArgs: params are optional when the method's params admit undefined. */
export type CallArgs<P> = undefined extends P
  ? [params?: P, options?: RequestOptions]
  : [params: P, options?: RequestOptions];

/** HubSession is what the hub said about the current connection. */
export interface HubSession {
  client: string;
  user: string;
}

/** Close codes after which HubClient stops for good (docs/protocol.md, Close codes). */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([HubCloseCode.Unauthorized, HubCloseCode.Kicked]);

type TimerName = 'reconnect' | 'connect' | 'liveness' | 'refresh';

const unexpected = (reply: ServerMessage) =>
  new HubClientError(HubErrorCode.BadRequest, `unexpected reply of type ${reply.type}`);

/**
 * HubClient connects to a Duplex hub (docs/client.md): it keeps one WebSocket speaking
 * `duplex.v1` open, reconnecting with backoff, resubscribes with recovery so that each
 * subscription sees every message exactly once, in order, and makes publishes, calls, presence
 * and history promises. Type it with a schema: `new HubClient<MySchema>(url, options)`.
 */
export class HubClient<S = HubSchema> {
  readonly url: string;
  readonly #options: ResolvedOptions;
  readonly #events = new Emitter<HubClientEvents>();
  readonly #exchange: Exchange;
  readonly #subs: Subscriptions;
  readonly #owner: SubscriptionOwner;
  readonly #timers = new Map<TimerName, unknown>();
  readonly #keyPrefix = randomKeyPrefix();
  #keyCount = 0;
  #state: HubClientState = 'connecting';
  #everOpen = false;
  #ws: WebSocketLike | undefined;
  /** Changes with each connection attempt and each drop; late callbacks of an older one compare it. */
  #generation = 0;
  #attempt = 0;
  #pingIntervalMs = 0;
  #lastHeard = 0;
  #session: HubSession | undefined;
  #maxMessageBytes: number | undefined;
  readonly #reader = new FrameReader((message, binaries) => this.#dispatch(message, binaries));

  constructor(url: string, options: HubClientOptions = {}) {
    this.url = url;
    this.#options = resolveOptions(options);
    this.#exchange = new Exchange(
      {
        clock: this.#options.clock,
        open: () => this.#state === 'open',
        closed: () => this.#state === 'closed',
        send: (data) => this.#ws?.send(data),
        maxMessageBytes: () => this.#maxMessageBytes,
      },
      this.#options,
    );
    this.#subs = new Subscriptions({
      clock: this.#options.clock,
      backoff: this.#options.backoff,
      random: this.#options.random,
      open: () => this.#state === 'open',
      sendRequest: (message, handler) => this.#exchange.sendRequest(message, handler),
    });
    this.#owner = {
      presence: (channel, requestOptions) => this.presence(channel as ChannelName<S>, requestOptions),
      history: (channel, historyOptions, core) => this.#history(channel, historyOptions, core.validate),
      unsubscribe: (core) => this.#subs.unsubscribe(core),
    };
    // The first attempt starts in a microtask, so that listeners added right after the
    // constructor see the 'connecting' state event.
    queueMicrotask(() => {
      if (this.#state !== 'connecting') return;
      this.#events.emit('state', 'connecting');
      void this.#attemptConnection();
    });
  }

  /** state is where the connection stands; a `state` event announces each change. */
  get state(): HubClientState {
    return this.#state;
  }

  /** session is the hub's id for the current connection and the authenticated user, while open. */
  get session(): HubSession | undefined {
    return this.#state === 'open' ? this.#session : undefined;
  }

  /** on adds a listener and returns the function that removes it. */
  on<K extends keyof HubClientEvents>(event: K, listener: Listener<HubClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * subscribe starts a subscription (sent now when open, else on connect) that lasts until
   * `unsubscribe()`. Throws DUPLEX_HUB_ALREADY_SUBSCRIBED when the channel has one already and
   * DUPLEX_HUB_CLOSED after close().
   */
  subscribe<C extends ChannelName<S>, T extends ChannelData<S, C> = ChannelData<S, C>>(
    channel: C,
    options: SubscribeOptions<T> = {},
  ): Subscription<T> {
    if (this.#state === 'closed') throw new HubClientError(HubErrorCode.Closed, 'the client is closed');
    if (this.#subs.has(channel)) {
      throw new HubClientError(HubErrorCode.AlreadySubscribed, `already subscribed to ${channel}`);
    }
    return new Subscription<T>(this.#subs.add(channel, options.validate), this.#owner);
  }

  /**
   * publish sends a message to a channel (JSON data, or a Uint8Array/ArrayBuffer as a binary
   * message) and resolves with its position once the hub stored it. It carries an idempotency
   * key and is sent again after a reconnect until the hub answers, so it is stored once.
   */
  publish<C extends ChannelName<S>>(
    channel: C,
    data: ChannelData<S, C>,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const binary = toBytes(data);
    const message: PublishRequest = { type: 'publish', id: 0, channel };
    if (binary === undefined) message.data = data as JsonValue;
    else message.binary = true;
    this.#keyCount++;
    message.idempotencyKey = options.idempotencyKey ?? `${this.#keyPrefix}-${this.#keyCount.toString(36)}`;
    if (options.conflationKey !== undefined) message.conflationKey = options.conflationKey;
    return this.#exchange.request('publish', message, binary, options, (reply) => {
      if (reply.type !== 'published') throw unexpected(reply);
      return { offset: reply.offset, epoch: reply.epoch };
    });
  }

  /**
   * call runs an RPC method on the hub. A call in flight when the connection drops rejects
   * with DUPLEX_HUB_DISCONNECTED (it may have run; it is not resent). A timeout or an abort
   * rejects it and sends `cancel` to the hub.
   */
  call<M extends MethodName<S>>(
    method: M,
    ...args: CallArgs<MethodParams<S, M>>
  ): Promise<MethodResult<S, M>> {
    const [params, options] = args;
    const message: CallRequest = { type: 'call', id: 0, method };
    if (params !== undefined) message.params = params as JsonValue;
    return this.#exchange.request('call', message, undefined, options, (reply) => {
      if (reply.type !== 'result') throw unexpected(reply);
      return reply.result as MethodResult<S, M>;
    });
  }

  /** presence resolves with the users in a channel (no subscription needed, if the hub allows). */
  presence(channel: ChannelName<S>, options?: RequestOptions): Promise<WirePresenceMember[]> {
    return this.#exchange.request(
      'presence',
      { type: 'presence', id: 0, channel },
      undefined,
      options,
      (reply) => {
        if (reply.type !== 'presence') throw unexpected(reply);
        return reply.members;
      },
    );
  }

  /** history resolves with a channel's stored messages (see Subscription.history). */
  history<C extends ChannelName<S>>(
    channel: C,
    options?: HistoryOptions,
  ): Promise<HistoryPage<ChannelData<S, C>>> {
    return this.#history(channel, options, undefined) as Promise<HistoryPage<ChannelData<S, C>>>;
  }

  /**
   * close ends the client for good: the WebSocket is closed with 1000, every pending request
   * rejects with DUPLEX_HUB_CLOSED, subscriptions end, and the state becomes 'closed'.
   */
  close(): void {
    if (this.#state === 'closed') return;
    const ws = this.#ws;
    this.#detach();
    try {
      ws?.close(1000, 'client closed');
    } catch {
      // Already closing.
    }
    this.#shutdown(new HubClientError(HubErrorCode.Closed, 'client.close() was called'));
  }

  // ---------------------------------------------------------------------------------------
  // Connection

  async #attemptConnection(): Promise<void> {
    const generation = ++this.#generation;
    // The deadline covers the token function too: one that never settles must not stall the client.
    this.#setTimer('connect', this.#options.connectTimeoutMs, () => {
      if (this.#ws !== undefined) this.#drop('no connected reply within connectTimeoutMs');
      else this.#retryAttempt(new Error('the token function did not settle within connectTimeoutMs'));
    });
    let token: string | undefined;
    try {
      const source = this.#options.token;
      token = typeof source === 'function' ? await source() : source;
    } catch (cause) {
      if (generation === this.#generation && this.#state !== 'closed') this.#retryAttempt(cause);
      return;
    }
    if (generation !== this.#generation || this.#state === 'closed') return;
    let ws: WebSocketLike;
    try {
      ws = new this.#options.WebSocket(this.url, SUBPROTOCOL);
    } catch (cause) {
      // A bad URL: trying again cannot help.
      const error = new HubClientError(HubErrorCode.Closed, `cannot open a WebSocket to ${this.url}`, {
        cause,
      });
      this.#shutdown(error);
      this.#emitError(error);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws === ws) this.#sendConnect(ws, token);
    };
    ws.onmessage = (event: MessageEventLike) => {
      if (this.#ws === ws) this.#onFrame(event.data);
    };
    ws.onclose = (event: CloseEventLike) => {
      if (this.#ws === ws) this.#onGone(event.code, event.reason);
    };
    ws.onerror = () => {}; // a close event follows
  }

  /** retryAttempt gives up an attempt whose token could not be had, and schedules the next. */
  #retryAttempt(cause: unknown): void {
    this.#generation++;
    this.#clearTimer('connect');
    this.#emitError(
      new HubClientError(HubErrorCode.Unauthorized, 'the token function failed', { cause, retryable: true }),
    );
    this.#scheduleReconnect(undefined);
  }

  #sendConnect(ws: WebSocketLike, token: string | undefined): void {
    if (ws.protocol !== SUBPROTOCOL) {
      this.#emitError(
        new HubClientError(
          HubErrorCode.BadRequest,
          `the server did not select the ${SUBPROTOCOL} subprotocol`,
        ),
      );
      this.#drop('wrong subprotocol');
      return;
    }
    const message: ConnectRequest = { type: 'connect', id: 0 };
    if (token !== undefined) message.token = token;
    if (this.#options.name !== undefined) message.name = this.#options.name;
    if (this.#options.version !== undefined) message.version = this.#options.version;
    this.#exchange.sendRequest(message, (reply) => {
      if (reply.type === 'connected') this.#onConnected(reply);
      else if (reply.type === 'error') {
        this.#emitError(new HubClientError(reply.code, reply.message, retryableOption(reply)));
        this.#drop('connect refused');
      }
    });
  }

  #onConnected(reply: ConnectedReply): void {
    this.#clearTimer('connect');
    this.#attempt = 0;
    this.#everOpen = true;
    this.#session = { client: reply.client, user: reply.user };
    const limit = reply.limits?.maxMessageBytes;
    this.#maxMessageBytes = typeof limit === 'number' && limit > 0 ? limit : undefined;
    this.#pingIntervalMs = typeof reply.pingIntervalMs === 'number' ? reply.pingIntervalMs : 0;
    this.#lastHeard = this.#options.clock.now();
    this.#armLiveness();
    this.#scheduleRefresh(reply.expiresIn);
    this.#state = 'open';
    // Subscriptions first, then the queue in order, then the event (whose listeners may send more).
    this.#subs.connected();
    this.#exchange.flush();
    if (this.#state === 'open') this.#events.emit('state', 'open');
  }

  /** onGone: the WebSocket closed (code from its close event) or was dropped (code undefined). */
  #onGone(code: number | undefined, reason: string): void {
    this.#detach();
    if (code !== undefined && FINAL_CLOSE_CODES.has(code)) {
      const error = new HubClientError(
        HubErrorCode.Closed,
        `the hub closed the connection with ${code}${reason ? ` (${reason})` : ''}; not reconnecting`,
        { closeCode: code },
      );
      this.#shutdown(error);
      this.#emitError(error);
      return;
    }
    this.#exchange.disconnected(code);
    this.#setState(this.#everOpen ? 'reconnecting' : 'connecting');
    this.#scheduleReconnect(code === HubCloseCode.ServiceRestart ? retryAfterHint(reason) : undefined);
  }

  /** detach forgets the current WebSocket and everything tied to its connection. */
  #detach(): void {
    const ws = this.#ws;
    if (ws !== undefined) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
    }
    this.#ws = undefined;
    this.#generation++;
    this.#session = undefined;
    this.#reader.reset();
    for (const name of ['connect', 'liveness', 'refresh'] as const) this.#clearTimer(name);
    this.#subs.disconnected();
  }

  /** drop abandons the current connection (dead, misbehaving) and reconnects. */
  #drop(reason: string): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    this.#onGone(undefined, reason);
    try {
      ws.close(1000, reason.slice(0, 100));
    } catch {
      // Closing a socket that is already closing: nothing to do.
    }
  }

  #scheduleReconnect(hintMs: number | undefined): void {
    const { backoff, maxRetryAfterMs, random } = this.#options;
    const delay =
      hintMs === undefined
        ? backoffDelay(this.#attempt++, backoff, random)
        : hintDelay(hintMs, maxRetryAfterMs, random);
    this.#setTimer('reconnect', delay, () => void this.#attemptConnection());
  }

  /** shutdown ends the client: every request rejects with `error`, subscriptions end. */
  #shutdown(error: HubClientError): void {
    this.#detach();
    this.#clearTimer('reconnect');
    this.#generation++;
    this.#exchange.failAll(error);
    this.#subs.endAll();
    this.#setState('closed');
  }

  /** armLiveness: with the hub's ping interval, silence for twice that long means a dead connection. */
  #armLiveness(): void {
    if (!(this.#pingIntervalMs > 0)) return;
    const limit = 2 * this.#pingIntervalMs;
    const check = () => {
      const silent = this.#options.clock.now() - this.#lastHeard;
      if (silent >= limit) this.#drop(`nothing heard for ${silent} ms`);
      else this.#setTimer('liveness', limit - silent, check);
    };
    this.#setTimer('liveness', limit, check);
  }

  /** scheduleRefresh: docs/protocol.md: HubClient refreshes at 80 % of `expiresIn`. */
  #scheduleRefresh(expiresIn: number | undefined): void {
    this.#clearTimer('refresh');
    if (typeof expiresIn !== 'number' || !(expiresIn > 0) || typeof this.#options.token !== 'function')
      return;
    this.#setTimer('refresh', Math.floor(expiresIn * 0.8), () => void this.#refresh());
  }

  async #refresh(): Promise<void> {
    const generation = this.#generation;
    const source = this.#options.token;
    if (typeof source !== 'function') return;
    let token: string;
    try {
      token = await source();
    } catch (cause) {
      if (generation === this.#generation) {
        this.#emitError(
          new HubClientError(HubErrorCode.Unauthorized, 'the token function failed', { cause }),
        );
      }
      return;
    }
    if (generation !== this.#generation || this.#state !== 'open') return;
    this.#exchange.sendRequest({ type: 'refresh', id: 0, token }, (reply) => {
      if (reply.type === 'refreshed') this.#scheduleRefresh(reply.expiresIn);
      else if (reply.type === 'error') {
        this.#emitError(new HubClientError(reply.code, reply.message, retryableOption(reply)));
      }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Receiving

  #onFrame(data: unknown): void {
    this.#lastHeard = this.#options.clock.now();
    const violation = this.#reader.read(data);
    if (violation === undefined) return;
    this.#emitError(new HubClientError(HubErrorCode.BadRequest, `the hub broke the protocol: ${violation}`));
    this.#drop('protocol violation');
  }

  #dispatch(message: ServerMessage, binaries: Uint8Array[]): void {
    switch (message.type) {
      case 'ping':
        this.#sendMessage({ type: 'pong' });
        return;
      case 'pub': {
        this.#subs
          .get(message.channel)
          ?.handlePub(message, message.binary === true ? binaries[0] : message.data);
        return;
      }
      case 'join':
      case 'leave':
        this.#subs.get(message.channel)?.handlePresence(message);
        return;
      case 'unsubscribed':
        if (message.id === undefined) {
          this.#subs.get(message.channel)?.handleEnded(message);
          return;
        }
        break;
      case 'error':
        if (message.id === undefined) {
          this.#emitError(new HubClientError(message.code, message.message, retryableOption(message)));
          return;
        }
        break;
      case 'connected':
      case 'history':
      case 'refreshed':
      case 'subscribed':
      case 'published':
      case 'presence':
      case 'result':
        break;
      default: {
        // A type this client does not know (a newer hub): ignored.
        const unknown: never = message;
        void unknown;
        return;
      }
    }
    this.#exchange.take(message.id)?.(message, binaries);
  }

  // ---------------------------------------------------------------------------------------
  // Small things

  #history(
    channel: string,
    options: HistoryOptions | undefined,
    validate: ((data: unknown) => unknown) | undefined,
  ): Promise<HistoryPage<unknown>> {
    const message: HistoryRequest = { type: 'history', id: 0, channel };
    if (options?.limit !== undefined) message.limit = options.limit;
    if (options?.since !== undefined) message.since = options.since;
    if (options?.reverse !== undefined) message.reverse = options.reverse;
    return this.#exchange.request('history', message, undefined, options, (reply, binaries) => {
      if (reply.type !== 'history') throw unexpected(reply);
      return historyPage(reply, binaries, validate, (error) =>
        this.#subs.get(channel)?.events.emit('error', error),
      );
    });
  }

  #sendMessage(message: ClientMessage): void {
    this.#ws?.send(JSON.stringify(message));
  }

  #setState(state: HubClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.emit('state', state);
  }

  #emitError(error: HubClientError): void {
    this.#events.emit('error', error);
  }

  #setTimer(name: TimerName, ms: number, callback: () => void): void {
    this.#clearTimer(name);
    this.#timers.set(
      name,
      this.#options.clock.setTimeout(() => {
        this.#timers.delete(name);
        callback();
      }, ms),
    );
  }

  #clearTimer(name: TimerName): void {
    const timer = this.#timers.get(name);
    if (timer === undefined) return;
    this.#timers.delete(name);
    this.#options.clock.clearTimeout(timer);
  }
}
