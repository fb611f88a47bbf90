/**
 * redisBroker is the Broker for several processes on one Redis: history and positions in Redis
 * Streams (one stream per channel, its epoch and offset in a hash beside it), publish as one Lua
 * script that assigns the offset, stores and fans out, fan-out through (sharded, on Redis 7+)
 * pub/sub with one Redis subscription per channel per process, and presence in Redis with
 * expiry refreshed by each live process. Design and fault behaviour: docs/redis.md and
 * docs/design/redis-broker.md.
 *
 * Two connections per process: one for requests (no offline queue, so a request while Redis is
 * unreachable fails at once with the retryable DUPLEX_HUB_BROKER_UNAVAILABLE, never a silent
 * success), one for subscriptions (resubscribed by the broker after a reconnect, then `up` is
 * reported, and the hub reads what it missed from the streams).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type {
  Broker,
  BrokerListener,
  BrokerPublication,
  BrokerState,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  PublishInput,
  PublishResult,
} from '../hub/broker.js';
import { brokerUnavailable } from '../hub/errors.js';
import type { JsonValue, StreamPosition } from '../wire/messages.js';
import {
  HISTORY_SCRIPT,
  KEEPALIVE_SCRIPT,
  PRESENCE_ADD_SCRIPT,
  PRESENCE_LIST_SCRIPT,
  PRESENCE_REMOVE_SCRIPT,
  PUBLISH_SCRIPT,
} from './scripts.js';

/** RedisBrokerOptions configure `redisBroker()`. Every default is stated here. */
export interface RedisBrokerOptions {
  /** The Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS). @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** Prefix of every key and pub/sub channel, so several hubs can share one Redis. @default 'duplex:' */
  prefix?: string;
  /** The time source in ms, for history age, idempotency windows and presence expiry. @default Date.now */
  clock?: () => number;
  /** How long an idempotency key is remembered per channel. @default 120_000 (2 minutes) */
  idempotencyWindowMs?: number;
  /**
   * How long the keys of a channel nobody uses are kept in Redis (real time, PEXPIRE); a process
   * subscribed to the channel renews them. After that its next message starts a new epoch. @default 3_600_000
   */
  channelTtlMs?: number;
  /** Makes the epoch of a new channel log. @default 8 random hex digits */
  epoch?: () => string;
  /** A request with no answer after this long fails (retryably): Redis hangs or the network is gone. @default 2_000 */
  commandTimeoutMs?: number;
  /** Longest wait between reconnect attempts (they start at 50 ms and grow). @default 1_000 */
  reconnectMaxDelayMs?: number;
  /** How often this process expires presence entries and renews the keys of its subscribed channels. @default 1_000 */
  sweepIntervalMs?: number;
  /** Use sharded pub/sub (SPUBLISH/SSUBSCRIBE): 'auto' when the server is Redis 7 or newer. @default 'auto' */
  sharded?: boolean | 'auto';
  /** Further ioredis options for both connections (host, TLS, password ...); the broker's own settings win. */
  redis?: RedisOptions;
}

/** RedisBroker is a Broker plus what operators and tests look at. */
export interface RedisBroker extends Broker {
  /** state is 'up' while both connections are ready and every subscription is active. */
  readonly state: BrokerState;
  /** ready resolves once Redis was reached the first time; rejects (retryably) after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
}

interface Keys {
  m: string;
  s: string;
  iz: string;
  ih: string;
  pz: string;
  ph: string;
  pc: string;
  pu: string;
  pubsub: string;
}

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  publish: script(PUBLISH_SCRIPT),
  history: script(HISTORY_SCRIPT),
  presenceAdd: script(PRESENCE_ADD_SCRIPT),
  presenceRemove: script(PRESENCE_REMOVE_SCRIPT),
  presenceList: script(PRESENCE_LIST_SCRIPT),
  keepAlive: script(KEEPALIVE_SCRIPT),
};

/** The stored and fanned-out form of a message (offset and epoch travel beside it). */
interface Payload {
  d?: JsonValue;
  b?: string;
  f?: string;
  k?: string;
}

function encode(input: PublishInput): string {
  const p: Payload = {};
  if (input.binary !== undefined) p.b = Buffer.from(input.binary).toString('base64');
  else p.d = input.data ?? null;
  if (input.from !== undefined) p.f = input.from;
  if (input.conflationKey !== undefined) p.k = input.conflationKey;
  return JSON.stringify(p);
}

function decode(offset: number, epoch: string, text: string): BrokerPublication {
  const p = JSON.parse(text) as Payload;
  const pub: BrokerPublication = { offset, epoch };
  if (p.b !== undefined) pub.binary = new Uint8Array(Buffer.from(p.b, 'base64'));
  else pub.data = p.d ?? null;
  if (p.f !== undefined) pub.from = p.f;
  if (p.k !== undefined) pub.conflationKey = p.k;
  return pub;
}

/** decodeEntries turns XRANGE replies ([id, [t, time, p, payload]]) into publications. */
function decodeEntries(epoch: string, entries: unknown): BrokerPublication[] {
  const out: BrokerPublication[] = [];
  for (const [id, fields] of entries as Array<[string, string[]]>) {
    out.push(decode(Number.parseInt(id, 10), epoch, fields[3] ?? '{}'));
  }
  return out;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

class RedisBrokerInstance implements RedisBroker {
  readonly #prefix: string;
  readonly #clock: () => number;
  readonly #window: number;
  readonly #channelTtl: number;
  readonly #newEpoch: () => string;
  readonly #sweepMs: number;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  #listener: BrokerListener | undefined;
  /** Channels this process subscribed to, by name; and by pub/sub channel name, for incoming messages. */
  readonly #channels = new Map<string, Keys>();
  readonly #byPubsub = new Map<string, string>();
  #cmdReady = false;
  #subReady = false;
  #state: BrokerState = 'down';
  #closed = false;
  #sharded: boolean | undefined;
  readonly #shardedOption: boolean | 'auto';
  /** Resolves once both connections were ready the first time (requests before that wait for it). */
  readonly #firstUp: Promise<void>;
  #resolveFirstUp: () => void = () => {};
  #everUp = false;
  readonly #sweep: NodeJS.Timeout;
  readonly #commandTimeout: number;

  constructor(options: RedisBrokerOptions) {
    this.#prefix = options.prefix ?? 'duplex:';
    this.#clock = options.clock ?? Date.now;
    this.#window = options.idempotencyWindowMs ?? 120_000;
    this.#channelTtl = options.channelTtlMs ?? 3_600_000;
    this.#newEpoch = options.epoch ?? (() => randomBytes(4).toString('hex'));
    this.#sweepMs = options.sweepIntervalMs ?? 1_000;
    this.#shardedOption = options.sharded ?? 'auto';
    this.#commandTimeout = options.commandTimeoutMs ?? 2_000;
    const maxDelay = options.reconnectMaxDelayMs ?? 1_000;
    this.#firstUp = new Promise((resolve) => {
      this.#resolveFirstUp = resolve;
    });
    const common: RedisOptions = {
      ...options.redis,
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      commandTimeout: this.#commandTimeout,
      connectTimeout: Math.max(this.#commandTimeout, 1_000),
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    };
    const url = options.url ?? 'redis://127.0.0.1:6379';
    this.#cmd = new Redis(url, { ...common, connectionName: 'duplex-broker' });
    this.#sub = new Redis(url, { ...common, connectionName: 'duplex-broker-sub' });
    // Errors are reported through the state and the rejected requests; an 'error' event with no
    // listener would crash the process.
    this.#cmd.on('error', () => {});
    this.#sub.on('error', () => {});
    this.#cmd.on('ready', () => {
      this.#onCmdReady().catch(() => {});
    });
    this.#cmd.on('close', () => {
      this.#cmdReady = false;
      this.#update();
    });
    this.#sub.on('ready', () => {
      this.#onSubReady().catch(() => {});
    });
    this.#sub.on('close', () => {
      this.#subReady = false;
      this.#update();
    });
    this.#sub.on('smessage', (channel: string, message: string) => this.#onMessage(channel, message));
    this.#sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    this.#sweep = setInterval(() => this.#keepAlive(), this.#sweepMs);
    this.#sweep.unref();
  }

  get state(): BrokerState {
    return this.#state;
  }

  attach(listener: BrokerListener): void {
    this.#listener = listener;
  }

  async #onCmdReady(): Promise<void> {
    if (this.#sharded === undefined) {
      if (this.#shardedOption === 'auto') {
        const info = await this.#cmd.info('server');
        const major = Number.parseInt(/redis_version:(\d+)/.exec(info)?.[1] ?? '0', 10);
        this.#sharded = major >= 7;
      } else {
        this.#sharded = this.#shardedOption;
      }
    }
    this.#cmdReady = true;
    this.#update();
  }

  async #onSubReady(): Promise<void> {
    // Resubscribe every channel before reporting `up`: the hub then reads what it missed from
    // the streams, and everything published after that read arrives live.
    await this.#firstCmd();
    const names = [...this.#byPubsub.keys()];
    for (let i = 0; i < names.length; i += 500) {
      const chunk = names.slice(i, i + 500);
      if (this.#sharded) await this.#sub.ssubscribe(...chunk);
      else await this.#sub.subscribe(...chunk);
    }
    if (this.#sub.status !== 'ready') return;
    this.#subReady = true;
    this.#update();
  }

  /** firstCmd waits until the request connection told whether the server has sharded pub/sub. */
  async #firstCmd(): Promise<void> {
    for (let i = 0; this.#sharded === undefined && i < 1_000 && !this.#closed; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.#sharded === undefined) throw brokerUnavailable();
  }

  #update(): void {
    if (this.#closed) return;
    const up = this.#cmdReady && this.#subReady;
    if (up && !this.#everUp) {
      this.#everUp = true;
      this.#resolveFirstUp();
    }
    const state: BrokerState = up ? 'up' : 'down';
    if (state === this.#state) return;
    this.#state = state;
    this.#listener?.onBrokerState(state);
  }

  #onMessage(pubsub: string, message: string): void {
    const channel = this.#byPubsub.get(pubsub);
    const listener = this.#listener;
    if (channel === undefined || !listener) return;
    try {
      const kind = message.charCodeAt(0);
      if (kind === 0x70 /* p */) {
        const a = message.indexOf('\n');
        const b = message.indexOf('\n', a + 1);
        const epoch = message.slice(1, a);
        const offset = Number.parseInt(message.slice(a + 1, b), 10);
        listener.onPublication(channel, decode(offset, epoch, message.slice(b + 1)));
      } else if (kind === 0x6a /* j */) {
        listener.onJoin(channel, JSON.parse(message.slice(1)));
      } else if (kind === 0x6c /* l */) {
        listener.onLeave(channel, JSON.parse(message.slice(1)));
      }
    } catch {
      // A message this broker did not write (another tool on the same prefix): ignored.
    }
  }

  #keys(channel: string): Keys {
    const known = this.#channels.get(channel);
    if (known) return known;
    const base = `${this.#prefix}{${channel}}`;
    return {
      m: `${base}:m`,
      s: `${base}:s`,
      iz: `${base}:iz`,
      ih: `${base}:ih`,
      pz: `${base}:pz`,
      ph: `${base}:ph`,
      pc: `${base}:pc`,
      pu: `${base}:pu`,
      pubsub: base,
    };
  }

  get #publishCommand(): string {
    return this.#sharded === false ? 'PUBLISH' : 'SPUBLISH';
  }

  async ready(timeoutMs = this.#commandTimeout * 2): Promise<void> {
    if (this.#closed) throw brokerUnavailable('the broker is closed');
    if (this.#everUp) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(brokerUnavailable('the broker did not connect in time')), timeoutMs);
    });
    try {
      await Promise.race([this.#firstUp, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** #ready fails fast when closed or down; before the first connection it waits for it (bounded). */
  async #ready(): Promise<void> {
    if (this.#closed) throw brokerUnavailable('the broker is closed');
    if (!this.#everUp) await this.ready();
    if (!this.#cmdReady) throw brokerUnavailable();
  }

  async #eval(which: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    await this.#ready();
    try {
      try {
        return await this.#cmd.evalsha(which.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return await this.#cmd.eval(which.source, keys.length, ...keys, ...args);
      }
    } catch (error) {
      throw brokerUnavailable(undefined, error);
    }
  }

  #keyTtl(extra = 0): number {
    return Math.max(this.#channelTtl, this.#window, extra);
  }

  async publish(channel: string, input: PublishInput, history: HistoryPolicy): Promise<PublishResult> {
    const k = this.#keys(channel);
    const reply = (await this.#eval(
      SCRIPTS.publish,
      [k.m, k.s, k.iz, k.ih],
      [
        this.#clock(),
        Math.max(0, Math.floor(history.size)),
        Math.max(0, Math.floor(history.ttlMs)),
        this.#newEpoch(),
        encode(input),
        input.idempotencyKey ?? '',
        this.#window,
        this.#keyTtl(history.ttlMs),
        k.pubsub,
        this.#publishCommand,
      ],
    )) as [string, number, number];
    return { epoch: reply[0], offset: Number(reply[1]), duplicate: reply[2] === 1 };
  }

  async subscribe(channel: string): Promise<void> {
    if (this.#closed) throw brokerUnavailable('the broker is closed');
    await this.#ready();
    if (!this.#subReady) throw brokerUnavailable();
    const k = this.#keys(channel);
    this.#channels.set(channel, k);
    this.#byPubsub.set(k.pubsub, channel);
    try {
      if (this.#sharded) await this.#sub.ssubscribe(k.pubsub);
      else await this.#sub.subscribe(k.pubsub);
    } catch (error) {
      this.#channels.delete(channel);
      this.#byPubsub.delete(k.pubsub);
      throw brokerUnavailable(undefined, error);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const k = this.#channels.get(channel);
    if (!k) return;
    this.#channels.delete(channel);
    this.#byPubsub.delete(k.pubsub);
    if (this.#closed || !this.#subReady) return;
    try {
      if (this.#sharded) await this.#sub.sunsubscribe(k.pubsub);
      else await this.#sub.unsubscribe(k.pubsub);
    } catch {
      // The connection dropped: it comes back without this channel.
    }
  }

  async position(channel: string): Promise<StreamPosition> {
    const r = await this.history(channel, { limit: 0 });
    return r.position;
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const k = this.#keys(channel);
    const since = query.since;
    const limit = query.limit === undefined ? -1 : Math.max(0, Math.floor(query.limit));
    const reply = (await this.#eval(
      SCRIPTS.history,
      [k.m, k.s],
      [
        this.#clock(),
        this.#newEpoch(),
        since ? since.epoch || '\u0000' : '',
        since ? since.offset : 0,
        limit,
        this.#keyTtl(),
      ],
    )) as [string, number, number, unknown];
    const epoch = reply[0];
    const position = { offset: Number(reply[1]), epoch };
    const first = Number(reply[2]);
    let publications = decodeEntries(epoch, reply[3]);
    let complete = true;
    if (since) {
      if (since.epoch !== epoch || since.offset > position.offset) {
        return { position, publications: [], complete: false };
      }
      complete = since.offset >= position.offset || (first !== -1 && first <= since.offset + 1);
      if (query.reverse) publications.reverse();
    } else if (!query.reverse) {
      publications = publications.reverse();
    }
    return { position, publications, complete };
  }

  #presenceKeys(k: Keys): string[] {
    return [k.pz, k.ph, k.pc, k.pu];
  }

  async presenceAdd(channel: string, entry: PresenceEntry, ttlMs: number): Promise<void> {
    const k = this.#keys(channel);
    const member: { user: string; info?: JsonValue } = { user: entry.user };
    if (entry.info !== undefined) member.info = entry.info;
    const now = this.#clock();
    await this.#eval(SCRIPTS.presenceAdd, this.#presenceKeys(k), [
      now,
      k.pubsub,
      this.#publishCommand,
      entry.client,
      entry.user,
      JSON.stringify(member),
      now + ttlMs,
      this.#keyTtl(ttlMs * 2),
    ]);
  }

  async presenceRemove(channel: string, client: string): Promise<void> {
    const k = this.#keys(channel);
    await this.#eval(SCRIPTS.presenceRemove, this.#presenceKeys(k), [
      this.#clock(),
      k.pubsub,
      this.#publishCommand,
      client,
    ]);
  }

  async presenceList(channel: string): Promise<PresenceEntry[]> {
    const k = this.#keys(channel);
    const flat = (await this.#eval(SCRIPTS.presenceList, this.#presenceKeys(k), [
      this.#clock(),
      k.pubsub,
      this.#publishCommand,
    ])) as string[];
    const out: PresenceEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = JSON.parse(flat[i + 1]!) as { user: string; info?: JsonValue };
      const entry: PresenceEntry = { client: flat[i]!, user: member.user };
      if (member.info !== undefined) entry.info = member.info;
      out.push(entry);
    }
    return out;
  }

  /** keepAlive expires presence entries of dead processes and renews the keys of the channels this process serves. */
  #keepAlive(): void {
    if (this.#closed || !this.#cmdReady || this.#channels.size === 0) return;
    const now = this.#clock();
    const pipeline = this.#cmd.pipeline();
    for (const k of this.#channels.values()) {
      pipeline.evalsha(
        SCRIPTS.keepAlive.sha,
        8,
        k.m,
        k.s,
        k.iz,
        k.ih,
        k.pz,
        k.ph,
        k.pc,
        k.pu,
        now,
        k.pubsub,
        this.#publishCommand,
        this.#keyTtl(),
      );
    }
    pipeline.exec().then(
      (results) => {
        if (results?.some(([error]) => isNoScript(error))) {
          this.#cmd.script('LOAD', SCRIPTS.keepAlive.source).catch(() => {});
        }
      },
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#channels.clear();
    this.#byPubsub.clear();
    this.#listener = undefined;
    await Promise.all([this.#cmd.quit().catch(() => {}), this.#sub.quit().catch(() => {})]);
    this.#cmd.disconnect();
    this.#sub.disconnect();
  }
}

/**
 * redisBroker creates a Broker on one Redis server (a URL string or options). Several processes,
 * each with its own redisBroker on the same Redis (and prefix), act as one hub.
 */
export function redisBroker(options: string | RedisBrokerOptions = {}): RedisBroker {
  return new RedisBrokerInstance(typeof options === 'string' ? { url: options } : options);
}
