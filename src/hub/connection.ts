/**
 * HubConnection is one client of the hub: its identity, subscriptions, rate bucket, queue and
 * calls. It is its socket's listener through `handleEvent` (no closures per connection), and
 * holds nothing it does not need while idle: the subscriptions Map, the queue and the calls Map
 * are created on first use. Timers are the hub's one shared tick.
 */
import type { IncomingMessage } from 'node:http';
import type { PreparedMessage, WebSocket } from '../index.js';
import { bufferedCost } from '../node/websocket.js';
import { HubCloseCode, HubErrorCode } from '../wire/codes.js';
import type {
  CallRequest,
  ClientMessage,
  ConnectRequest,
  HistoryRequest,
  JsonValue,
  PublishRequest,
  RefreshRequest,
  ServerMessage,
} from '../wire/messages.js';
import type { BrokerPublication } from './broker.js';
import { Calls } from './calls.js';
import { Ahead, LIVE, type LocalChannel, PENDING, Recovery, type SubState } from './channel.js';
import { HubError } from './errors.js';
import type { HubInternals } from './hub.js';
import type { ClientInfo, Identity } from './options.js';
import { ENTRY_OVERHEAD, entryCost, type OutEntry, OutQueue } from './outbound.js';
import { subscribe } from './subscribe.js';
import { BadRequest, ProtocolViolation, parseClientMessage } from './validate.js';

enum State {
  AwaitingConnect = 0,
  Authenticating = 1,
  Open = 2,
  Closed = 3,
}

/** Requests waiting in one connection's serial chain; more are refused as rate limited. */
const MAX_CHAINED = 256;

/** DISCARD stands for a binary frame announced by a refused publish: it is read and ignored. */
const DISCARD = 'discard';

const RESOLVED = Promise.resolve();

export class HubConnection implements ClientInfo {
  readonly id: string;
  readonly ws: WebSocket;
  readonly #hub: HubInternals;
  user = '';
  info: JsonValue | undefined;
  #state = State.AwaitingConnect;
  /** Connect deadline, then the token's expiry (0: none), on the hub's clock. */
  deadline: number;
  #request: IncomingMessage | undefined;
  /** The channels this connection is subscribed to (their states live in each LocalChannel). */
  channels: string[] | undefined;
  #tokens: number;
  #tokensAt: number;
  #strikes = 0;
  awaitingPong = false;
  queue: OutQueue | undefined;
  #binaryFor: PublishRequest | typeof DISCARD | undefined;
  #calls: Calls | undefined;
  #chain: Promise<void> | undefined;
  #chained = 0;

  constructor(hub: HubInternals, ws: WebSocket, request: IncomingMessage, id: string) {
    this.#hub = hub;
    this.ws = ws;
    this.id = id;
    this.#request = request;
    const now = hub.options.clock();
    this.deadline = now + hub.options.limits.connectTimeoutMs;
    this.#tokens = hub.options.limits.messageBurst;
    this.#tokensAt = now;
    ws.addEventListener('message', this);
    ws.addEventListener('close', this);
  }

  get open(): boolean {
    return this.#state === State.Open;
  }

  /** isClosed tells whether the socket closed (async steps check it after each wait). */
  isClosed(): boolean {
    return this.#state === State.Closed;
  }

  get connecting(): boolean {
    return this.#state < State.Open;
  }

  /** handleEvent is the socket listener of this connection. */
  handleEvent(event: { type: string; data?: unknown; code?: number; reason?: string }): void {
    if (event.type === 'message') this.#onMessage(event.data as string | Buffer);
    else if (event.type === 'drain') this.flush();
    else if (event.type === 'close') this.#onClose(event.code ?? 1006, event.reason ?? '');
  }

  // ---- sending -------------------------------------------------------------------------------

  /** send writes one reply or push, behind anything queued. */
  send(message: ServerMessage): void {
    this.#sendText(JSON.stringify(message));
  }

  #sendText(text: string): void {
    if (this.#state === State.Closed) return;
    this.#hub.counters.messagesOut++;
    this.#hub.counters.bytesOut += Buffer.byteLength(text);
    if (this.queue) {
      this.#queueReply({ frames: text, bytes: text.length + 14 + ENTRY_OVERHEAD });
      return;
    }
    this.ws.send(text);
  }

  #sendBinary(data: Uint8Array): void {
    if (this.#state === State.Closed) return;
    this.#hub.counters.bytesOut += data.byteLength;
    const frames = [this.#hub.prepare(data)];
    if (this.queue) {
      this.#queueReply({ frames, bytes: entryCost(frames) });
      return;
    }
    this.ws.sendPrepared(frames[0]!);
  }

  /** sendPrepared writes frames prepared once for many connections (ping, join, leave). */
  sendPrepared(frame: PreparedMessage): void {
    if (this.#state === State.Closed) return;
    this.#hub.counters.messagesOut++;
    this.#hub.counters.bytesOut += frame.data.length;
    if (this.queue) {
      const frames = [frame];
      this.#queueReply({ frames, bytes: entryCost(frames) });
      return;
    }
    this.ws.sendPrepared(frame);
  }

  /**
   * #queueReply queues a message that is never dropped (a reply, a presence event) behind the
   * queued publications. Replies are bounded too: a client that keeps asking without reading
   * is closed as a slow consumer once the queue holds twice the slow-consumer mark.
   */
  #queueReply(entry: OutEntry): void {
    if (this.ws.readyState !== 1) return; // closing: nothing more goes out
    const queue = this.queue!;
    queue.push(entry);
    this.#hub.counters.queuedBytes += entry.bytes;
    if (queue.bytes > 2 * this.#hub.options.limits.slowConsumerBytes) this.slow();
  }

  /**
   * deliver hands one publication of a subscribed channel to this connection: held while the
   * subscription recovers, written at once while the connection keeps up, else queued or
   * dropped as the channel's slow-consumer policy says.
   */
  deliver(
    channel: LocalChannel,
    sub: SubState,
    pub: BrokerPublication,
    frames: readonly PreparedMessage[],
  ): void {
    if (sub === PENDING || this.#state === State.Closed) return;
    if (sub instanceof Ahead) {
      if (pub.epoch === sub.until.epoch && pub.offset <= sub.until.offset) return;
      channel.subscribers.set(this, LIVE);
    }
    const limits = this.#hub.options.limits;
    if (sub instanceof Recovery) {
      sub.held.push({ pub, frames });
      sub.bytes += entryCost(frames);
      if (sub.bytes > limits.slowConsumerBytes) this.slow();
      return;
    }
    this.#hub.counters.messagesOut++;
    for (const frame of frames) this.#hub.counters.bytesOut += frame.data.length;
    // The socket's buffer counts what it costs (bytes + 192 per queued buffer), not its bytes:
    // tiny publications would otherwise pile up far past the limit before a policy applies.
    if (!this.queue && bufferedCost(this.ws) < limits.slowConsumerBytes) {
      for (const frame of frames) this.ws.sendPrepared(frame);
      return;
    }
    const policy = channel.policy.slowConsumer;
    if (this.ws.readyState !== 1) return;
    if (policy === 'close') {
      this.slow();
      return;
    }
    const queue = this.#ensureQueue();
    const counters = this.#hub.counters;
    const bytes = entryCost(frames);
    const before = queue.bytes;
    let conflated = false;
    let slot: string | undefined;
    if (policy === 'conflate') {
      slot = `${channel.name}\n${pub.conflationKey ?? ''}`;
      conflated = queue.replaceSlot(slot);
      if (conflated) counters.dropped++;
    }
    queue.push({ frames, bytes, channel: channel.name, slot, pub, conflated });
    while (queue.bytes > limits.slowConsumerBytes) {
      if (!queue.dropOldest()) {
        counters.queuedBytes += queue.bytes - before;
        this.slow();
        return;
      }
      counters.dropped++;
    }
    counters.queuedBytes += queue.bytes - before;
  }

  /** #ensureQueue creates the queue, and listens for `drain` while there is one (idle connections do not). */
  #ensureQueue(): OutQueue {
    if (!this.queue) {
      this.queue = new OutQueue();
      this.ws.addEventListener('drain', this);
    }
    return this.queue;
  }

  /** flush writes queued messages while the socket's buffer is below the slow-consumer mark. */
  flush(): void {
    const queue = this.queue;
    if (!queue || this.#state === State.Closed) return;
    const limit = this.#hub.options.limits.slowConsumerBytes;
    const before = queue.bytes;
    while (queue.entries.length > 0 && bufferedCost(this.ws) < limit) {
      const entry = queue.shift()!;
      if (typeof entry.frames === 'string') this.ws.send(entry.frames);
      else if (entry.conflated && entry.pub && entry.channel !== undefined) {
        for (const frame of this.#hub.pubFrames(entry.channel, entry.pub, true)) this.ws.sendPrepared(frame);
      } else for (const frame of entry.frames) this.ws.sendPrepared(frame);
    }
    this.#hub.counters.queuedBytes -= before - queue.bytes;
    if (queue.entries.length === 0) {
      this.queue = undefined;
      this.ws.removeEventListener('drain', this);
    }
  }

  /** slow closes a connection that does not read fast enough (4004). */
  slow(): void {
    if (this.#state === State.Closed || this.ws.readyState !== 1) return;
    this.#hub.counters.slowClosed++;
    this.close(HubCloseCode.SlowConsumer, 'slow consumer');
  }

  /** close closes the socket with a hub close code; the cleanup runs on its close event. */
  close(code: number, reason: string): void {
    if (this.#state === State.Closed) return;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }

  #error(id: number | undefined, code: HubErrorCode, message: string, retryable?: boolean): void {
    const reply: ServerMessage = { type: 'error', code, message, retryable: retryable === true };
    if (id !== undefined) reply.id = id;
    this.send(reply);
  }

  #fail(id: number | undefined, error: unknown): void {
    if (error instanceof HubError) {
      this.#error(id, error.code, error.message, error.retryable);
      return;
    }
    if (error instanceof BadRequest) {
      this.#error(id, HubErrorCode.BadRequest, error.message);
      return;
    }
    this.#hub.report(error);
    this.#error(id, HubErrorCode.Internal, 'internal error');
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** #rateOk takes one token from the bucket; false when the connection is over its rate. */
  #rateOk(): boolean {
    const limits = this.#hub.options.limits;
    const now = this.#hub.options.clock();
    const elapsed = now - this.#tokensAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(
        limits.messageBurst,
        this.#tokens + (elapsed * limits.messagesPerSecond) / 1000,
      );
      this.#tokensAt = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#strikes = 0;
      return true;
    }
    this.#hub.counters.rateLimited++;
    if (++this.#strikes >= limits.rateLimitCloseAfter)
      this.close(HubCloseCode.RateLimited, 'rate limit exceeded');
    return false;
  }

  #onMessage(data: string | Buffer): void {
    if (this.#state === State.Closed) return;
    this.#hub.counters.messagesIn++;
    this.#hub.counters.bytesIn += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.awaitingPong = false;
    const limits = this.#hub.options.limits;
    if (typeof data !== 'string') {
      const request = this.#binaryFor;
      this.#binaryFor = undefined;
      if (request === undefined) {
        this.close(HubCloseCode.PolicyViolation, 'unannounced binary frame');
        return;
      }
      if (request === DISCARD) return;
      if (data.length > limits.maxMessageBytes) {
        this.#error(request.id, HubErrorCode.TooLarge, `binary payload over ${limits.maxMessageBytes} bytes`);
        return;
      }
      this.#chainRequest(request, data);
      return;
    }
    if (this.#binaryFor !== undefined) {
      this.close(HubCloseCode.PolicyViolation, 'a binary frame was announced');
      return;
    }
    let message: ClientMessage;
    try {
      message = parseClientMessage(data);
    } catch (error) {
      if (error instanceof ProtocolViolation) this.close(HubCloseCode.PolicyViolation, error.message);
      else this.#fail((error as BadRequest).id, error);
      return;
    }
    const id = 'id' in message ? message.id : undefined;
    const announcesBinary = message.type === 'publish' && message.binary === true;
    if (!this.#rateOk()) {
      if (announcesBinary) this.#binaryFor = DISCARD;
      if (id !== undefined) this.#error(id, HubErrorCode.RateLimited, 'over the message rate', true);
      return;
    }
    if (Buffer.byteLength(data) > limits.maxMessageBytes) {
      if (announcesBinary) this.#binaryFor = DISCARD;
      this.#error(id, HubErrorCode.TooLarge, `message over ${limits.maxMessageBytes} bytes`);
      return;
    }
    if (this.#state === State.AwaitingConnect && message.type !== 'connect') {
      if (announcesBinary) this.#binaryFor = DISCARD;
      if (message.type !== 'pong') this.#error(id, HubErrorCode.NotConnected, 'send connect first');
      return;
    }
    switch (message.type) {
      case 'pong':
        return;
      case 'cancel':
      case 'call':
      case 'refresh':
        // These do not wait for earlier requests, except for a `connect` still running.
        if (this.#state === State.Authenticating) this.#chainRequest(message, undefined);
        else this.#direct(message);
        return;
      case 'publish':
        if (announcesBinary) this.#binaryFor = message;
        else this.#chainRequest(message, undefined);
        return;
      case 'connect':
        if (this.#state !== State.AwaitingConnect) {
          this.#error(message.id, HubErrorCode.BadRequest, 'already connected');
          return;
        }
        this.#state = State.Authenticating;
        this.#chainRequest(message, undefined);
        return;
      default:
        this.#chainRequest(message, undefined);
    }
  }

  /** #chainRequest runs requests that change state one after another, in the order they came. */
  #chainRequest(message: ClientMessage, binary: Buffer | undefined): void {
    const id = 'id' in message ? message.id : undefined;
    if (this.#chained >= MAX_CHAINED) {
      this.#error(id, HubErrorCode.RateLimited, 'too many requests in flight', true);
      return;
    }
    this.#chained++;
    this.#chain = (this.#chain ?? RESOLVED)
      .then(() => (this.#state === State.Closed ? undefined : this.#handle(message, binary)))
      .catch((error: unknown) => this.#fail(id, error))
      .finally(() => {
        if (--this.#chained === 0) this.#chain = undefined;
      });
  }

  #direct(message: ClientMessage): void {
    if (message.type === 'cancel') this.#cancel(message.id, 'the caller cancelled the call');
    else if (message.type === 'call') this.#call(message);
    else if (message.type === 'refresh')
      this.#refresh(message).catch((error) => this.#fail(message.id, error));
  }

  async #handle(message: ClientMessage, binary: Buffer | undefined): Promise<void> {
    if (message.type === 'connect') return this.#connect(message);
    if (message.type === 'cancel' || message.type === 'call' || message.type === 'refresh') {
      this.#direct(message);
      return;
    }
    if (this.#state !== State.Open) {
      this.#error('id' in message ? message.id : undefined, HubErrorCode.NotConnected, 'not connected');
      return;
    }
    switch (message.type) {
      case 'subscribe':
        return subscribe(this, this.#hub, message);
      case 'unsubscribe': {
        if (!this.channels?.includes(message.channel)) {
          this.#error(message.id, HubErrorCode.NotSubscribed, `not subscribed to ${message.channel}`);
          return;
        }
        this.#hub.unsubscribe(this, message.channel);
        this.send({ type: 'unsubscribed', id: message.id, channel: message.channel });
        return;
      }
      case 'publish':
        return this.#publish(message, binary);
      case 'presence': {
        await this.authorize('presence', message.channel);
        const members = await this.#hub.presence(message.channel);
        this.send({ type: 'presence', id: message.id, channel: message.channel, members });
        return;
      }
      case 'history':
        return this.#history(message);
      default:
        return;
    }
  }

  /** authorize asks the hub's `authorize` hook; it throws a DUPLEX_HUB_FORBIDDEN HubError when refused. */
  async authorize(action: 'subscribe' | 'publish' | 'presence' | 'history', channel: string): Promise<void> {
    let allowed = false;
    try {
      allowed = (await this.#hub.options.authorize(this, action, channel)) === true;
    } catch (error) {
      this.#hub.report(error);
    }
    if (!allowed) throw new HubError(HubErrorCode.Forbidden, `${action} on ${channel} is not allowed`);
  }

  async #identify(token: string | undefined): Promise<Identity | undefined> {
    const authenticate = this.#hub.options.authenticate;
    if (!authenticate) return { user: '' };
    try {
      const identity = await authenticate({ token, request: this.#request, client: this });
      if (identity && typeof identity === 'object' && typeof identity.user === 'string') return identity;
    } catch (error) {
      this.#hub.report(error);
    }
    return undefined;
  }

  async #connect(message: ConnectRequest): Promise<void> {
    const identity = await this.#identify(message.token);
    this.#request = undefined;
    if (this.#state === State.Closed) return;
    if (!identity) {
      this.close(HubCloseCode.Unauthorized, 'unauthorized');
      return;
    }
    this.user = identity.user;
    this.info = identity.info;
    this.deadline = identity.expiresAt ?? 0;
    this.#state = State.Open;
    const options = this.#hub.options;
    const reply: ServerMessage = {
      type: 'connected',
      id: message.id,
      client: this.id,
      user: this.user,
      pingIntervalMs: options.limits.pingIntervalMs,
      limits: {
        maxMessageBytes: options.limits.maxMessageBytes,
        maxSubscriptions: options.limits.maxSubscriptions,
      },
    };
    if (identity.expiresAt !== undefined) reply.expiresIn = Math.max(0, identity.expiresAt - options.clock());
    this.send(reply);
    this.#hub.connected(this);
  }

  async #refresh(message: RefreshRequest): Promise<void> {
    if (this.#state !== State.Open) {
      this.#error(message.id, HubErrorCode.NotConnected, 'not connected');
      return;
    }
    const identity = await this.#identify(message.token);
    if (this.#state !== State.Open) return;
    if (!identity || identity.user !== this.user) {
      this.#error(message.id, HubErrorCode.Unauthorized, 'the token was refused');
      return;
    }
    this.info = identity.info ?? this.info;
    this.deadline = identity.expiresAt ?? 0;
    const reply: ServerMessage = { type: 'refreshed', id: message.id };
    if (identity.expiresAt !== undefined) {
      reply.expiresIn = Math.max(0, identity.expiresAt - this.#hub.options.clock());
    }
    this.send(reply);
  }

  async #publish(message: PublishRequest, binary: Buffer | undefined): Promise<void> {
    await this.authorize('publish', message.channel);
    const position = await this.#hub.store(
      message.channel,
      {
        data: binary === undefined ? message.data : undefined,
        // A copy: the received Buffer may share memory with the socket's read buffer.
        binary: binary === undefined ? undefined : Buffer.from(binary),
        from: this.user === '' ? undefined : this.user,
        idempotencyKey: message.idempotencyKey,
        conflationKey: message.conflationKey,
      },
      this,
    );
    this.send({ type: 'published', id: message.id, channel: message.channel, ...position });
  }

  async #history(message: HistoryRequest): Promise<void> {
    await this.authorize('history', message.channel);
    const max = this.#hub.options.limits.maxHistoryLimit;
    const result = await this.#hub.history(message.channel, {
      since: message.since,
      limit: Math.min(message.limit ?? max, max),
      reverse: message.reverse,
    });
    const binaries: Uint8Array[] = [];
    const publications = result.publications.map((pub) => {
      const wire = this.#hub.wirePublication(pub);
      if (pub.binary !== undefined) binaries.push(pub.binary);
      return wire;
    });
    this.send({
      type: 'history',
      id: message.id,
      channel: message.channel,
      position: result.position,
      publications,
    });
    for (const data of binaries) this.#sendBinary(data);
  }

  // ---- RPC -----------------------------------------------------------------------------------

  #call(message: CallRequest): void {
    if (this.#state !== State.Open) {
      this.#error(message.id, HubErrorCode.NotConnected, 'not connected');
      return;
    }
    const handler = this.#hub.methods.get(message.method);
    if (!handler) {
      this.#error(message.id, HubErrorCode.MethodNotFound, `no method ${message.method}`);
      return;
    }
    this.#calls ??= new Calls(this);
    this.#calls.start(message, handler, this.#hub.options.limits);
  }

  #cancel(id: number, why: string): void {
    this.#calls?.cancel(id, why);
  }

  /** replyError sends an `error` reply (CallOwner). */
  replyError(id: number, code: HubErrorCode, message: string, retryable?: boolean): void {
    this.#error(id, code, message, retryable);
  }

  /** replyFailure sends the `error` reply of an exception: its public code, or DUPLEX_HUB_INTERNAL (CallOwner). */
  replyFailure(id: number, error: unknown): void {
    this.#fail(id, error);
  }

  /** replyText sends a serialized reply (CallOwner). */
  replyText(text: string): void {
    this.#sendText(text);
  }

  /** callsIdle drops the call table once no call is in flight (CallOwner). */
  callsIdle(): void {
    this.#calls = undefined;
  }

  // ---- closing -------------------------------------------------------------------------------

  #onClose(code: number, reason: string): void {
    if (this.#state === State.Closed) return;
    const wasOpen = this.#state === State.Open;
    this.#state = State.Closed;
    this.ws.removeEventListener('message', this);
    this.ws.removeEventListener('drain', this);
    this.ws.removeEventListener('close', this);
    if (this.queue) {
      this.#hub.counters.queuedBytes -= this.queue.bytes;
      this.queue = undefined;
    }
    this.#calls?.cancelAll('the caller disconnected');
    this.#hub.disconnected(this, wasOpen, code, reason);
  }
}
