/**
 * memoryBroker is the one-process Broker: channel positions, bounded histories, idempotency
 * keys and presence in plain Maps. Several instances may share one `MemoryBackend` to stand in
 * for several processes on one network broker (tests, and the cluster logic of the hub).
 */
import { randomBytes } from 'node:crypto';
import type { JsonValue, StreamPosition } from '../wire/messages.js';
import type {
  Broker,
  BrokerListener,
  BrokerPublication,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  PublishInput,
  PublishResult,
} from './broker.js';
import { brokerUnavailable } from './errors.js';

/** MemoryBrokerOptions configure `memoryBroker()`. Every default is stated here. */
export interface MemoryBrokerOptions {
  /** The time source in ms, for history age, idempotency windows and presence expiry. @default Date.now */
  clock?: () => number;
  /** How long an idempotency key is remembered per channel. @default 120_000 (2 minutes) */
  idempotencyWindowMs?: number;
  /**
   * How long the position of a channel that has no stored message and no subscriber is kept
   * after its last use; after that, its next message starts a new epoch. @default 3_600_000
   */
  channelTtlMs?: number;
  /** Makes the epoch of a new channel log. @default 8 random hex digits */
  epoch?: () => string;
  /** Share the data of another memoryBroker (`other.backend`): two hubs act as one, as two processes on one broker would. */
  backend?: MemoryBackend;
}

/** MemoryBroker is a Broker with the failure switches the conformance suite and chaos tests use. */
export interface MemoryBroker extends Broker {
  /** backend is the shared state; pass it to another `memoryBroker({ backend })`. */
  readonly backend: MemoryBackend;
  /** simulateOutage makes every request of every instance on this backend reject (retryably) while `down`. */
  simulateOutage(down: boolean): void;
  /** simulateDataLoss forgets every channel, history and presence entry, as a broker restarted empty. */
  simulateDataLoss(): void;
}

interface Stored {
  pub: BrokerPublication;
  time: number;
}

interface ChannelLog {
  epoch: string;
  offset: number;
  log: Stored[];
  ttlMs: number;
  /** idempotency key -> the position it was stored at; insertion order is time order. */
  keys: Map<string, { offset: number; time: number }>;
  touched: number;
}

interface PresenceSlot {
  entry: PresenceEntry;
  expires: number;
}

const SWEEP_EVERY = 256;

/** MemoryBackend is the state behind one or more memoryBroker instances. */
export class MemoryBackend {
  readonly clock: () => number;
  readonly idempotencyWindowMs: number;
  readonly channelTtlMs: number;
  readonly newEpoch: () => string;
  readonly channels = new Map<string, ChannelLog>();
  readonly presence = new Map<string, Map<string, PresenceSlot>>();
  readonly subscribers = new Map<string, Set<MemoryBrokerInstance>>();
  readonly instances = new Set<MemoryBrokerInstance>();
  down = false;
  #ops = 0;

  constructor(options: MemoryBrokerOptions) {
    this.clock = options.clock ?? Date.now;
    this.idempotencyWindowMs = options.idempotencyWindowMs ?? 120_000;
    this.channelTtlMs = options.channelTtlMs ?? 3_600_000;
    this.newEpoch = options.epoch ?? (() => randomBytes(4).toString('hex'));
  }

  /** log returns the channel's live log, dropping expired messages and a log that expired as a whole. */
  log(channel: string, create: boolean): ChannelLog | undefined {
    if (++this.#ops % SWEEP_EVERY === 0) this.sweep();
    const now = this.clock();
    let log = this.channels.get(channel);
    if (log) {
      trim(log, now);
      if (this.#expired(channel, log, now)) {
        this.channels.delete(channel);
        log = undefined;
      }
    }
    if (!log && create) {
      log = { epoch: this.newEpoch(), offset: 0, log: [], ttlMs: 0, keys: new Map(), touched: now };
      this.channels.set(channel, log);
    }
    if (log) log.touched = now;
    return log;
  }

  #expired(channel: string, log: ChannelLog, now: number): boolean {
    return (
      log.log.length === 0 &&
      now - log.touched > this.channelTtlMs &&
      (this.subscribers.get(channel)?.size ?? 0) === 0
    );
  }

  /** sweep drops expired channels and presence entries (every SWEEP_EVERY operations). */
  sweep(): void {
    const now = this.clock();
    for (const [channel, log] of this.channels) {
      trim(log, now);
      for (const [key, seen] of log.keys) {
        if (now - seen.time < this.idempotencyWindowMs) break;
        log.keys.delete(key);
      }
      if (this.#expired(channel, log, now)) this.channels.delete(channel);
    }
    for (const channel of [...this.presence.keys()]) this.expirePresence(channel, now);
  }

  /** expirePresence removes a channel's expired entries, announcing the users that left. */
  expirePresence(channel: string, now: number): Map<string, PresenceSlot> | undefined {
    const slots = this.presence.get(channel);
    if (!slots) return undefined;
    for (const [client, slot] of slots) {
      if (slot.expires > now) continue;
      slots.delete(client);
      if (!hasUser(slots, slot.entry.user)) this.emitPresence(channel, 'leave', slot.entry);
    }
    if (slots.size === 0) this.presence.delete(channel);
    return slots;
  }

  emitPresence(channel: string, kind: 'join' | 'leave', entry: PresenceEntry): void {
    const member: { user: string; info?: JsonValue } = { user: entry.user };
    if (entry.info !== undefined) member.info = entry.info;
    for (const instance of this.subscribers.get(channel) ?? []) {
      if (kind === 'join') instance.listener?.onJoin(channel, member);
      else instance.listener?.onLeave(channel, member);
    }
  }
}

function hasUser(slots: Map<string, PresenceSlot>, user: string): boolean {
  for (const slot of slots.values()) if (slot.entry.user === user) return true;
  return false;
}

function trim(log: ChannelLog, now: number): void {
  let drop = 0;
  while (drop < log.log.length && now - log.log[drop]!.time >= log.ttlMs) drop++;
  if (drop > 0) log.log.splice(0, drop);
}

function position(log: ChannelLog): StreamPosition {
  return { offset: log.offset, epoch: log.epoch };
}

class MemoryBrokerInstance implements MemoryBroker {
  readonly backend: MemoryBackend;
  listener: BrokerListener | undefined;
  readonly #channels = new Set<string>();
  #closed = false;

  constructor(backend: MemoryBackend) {
    this.backend = backend;
    backend.instances.add(this);
  }

  attach(listener: BrokerListener): void {
    this.listener = listener;
  }

  #check(): void {
    if (this.#closed) throw brokerUnavailable('the broker is closed');
    if (this.backend.down) throw brokerUnavailable();
  }

  async publish(channel: string, input: PublishInput, history: HistoryPolicy): Promise<PublishResult> {
    this.#check();
    const backend = this.backend;
    const log = backend.log(channel, true)!;
    const now = backend.clock();
    log.ttlMs = history.ttlMs;
    const key = input.idempotencyKey;
    if (key !== undefined) {
      for (const [k, seen] of log.keys) {
        if (now - seen.time < backend.idempotencyWindowMs) break;
        log.keys.delete(k);
      }
      const seen = log.keys.get(key);
      if (seen) return { offset: seen.offset, epoch: log.epoch, duplicate: true };
    }
    log.offset++;
    const pub: BrokerPublication = { offset: log.offset, epoch: log.epoch };
    if (input.binary !== undefined) pub.binary = input.binary;
    else pub.data = input.data ?? null;
    if (input.from !== undefined) pub.from = input.from;
    if (input.conflationKey !== undefined) pub.conflationKey = input.conflationKey;
    if (history.size > 0 && history.ttlMs > 0) {
      log.log.push({ pub, time: now });
      if (log.log.length > history.size) log.log.splice(0, log.log.length - history.size);
    }
    if (key !== undefined) log.keys.set(key, { offset: log.offset, time: now });
    for (const instance of backend.subscribers.get(channel) ?? []) {
      instance.listener?.onPublication(channel, pub);
    }
    return { offset: pub.offset, epoch: pub.epoch, duplicate: false };
  }

  async subscribe(channel: string): Promise<void> {
    this.#check();
    this.#channels.add(channel);
    let set = this.backend.subscribers.get(channel);
    if (!set) {
      set = new Set();
      this.backend.subscribers.set(channel, set);
    }
    set.add(this);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#channels.delete(channel);
    const set = this.backend.subscribers.get(channel);
    set?.delete(this);
    if (set?.size === 0) this.backend.subscribers.delete(channel);
  }

  async position(channel: string): Promise<StreamPosition> {
    this.#check();
    return position(this.backend.log(channel, true)!);
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    this.#check();
    const log = this.backend.log(channel, true)!;
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    let publications: BrokerPublication[];
    let complete = true;
    const since = query.since;
    if (since) {
      if (since.epoch !== log.epoch || since.offset > log.offset) {
        return { position: position(log), publications: [], complete: false };
      }
      const first = log.log[0];
      complete = since.offset >= log.offset || (first !== undefined && first.pub.offset <= since.offset + 1);
      const start = first === undefined ? 0 : Math.max(0, since.offset + 1 - first.pub.offset);
      publications = log.log.slice(start, start + Math.min(limit, log.log.length)).map((s) => s.pub);
    } else {
      const count = Math.min(limit, log.log.length);
      publications = log.log.slice(log.log.length - count).map((s) => s.pub);
    }
    if (query.reverse) publications.reverse();
    return { position: position(log), publications, complete };
  }

  async presenceAdd(channel: string, entry: PresenceEntry, ttlMs: number): Promise<void> {
    this.#check();
    const backend = this.backend;
    const now = backend.clock();
    let slots = backend.expirePresence(channel, now);
    if (!slots) {
      slots = new Map();
      backend.presence.set(channel, slots);
    }
    const existing = slots.get(entry.client);
    const joined = !existing && !hasUser(slots, entry.user);
    slots.set(entry.client, { entry: { ...entry }, expires: now + ttlMs });
    if (joined) backend.emitPresence(channel, 'join', entry);
  }

  async presenceRemove(channel: string, client: string): Promise<void> {
    this.#check();
    const backend = this.backend;
    const slots = backend.expirePresence(channel, backend.clock());
    const slot = slots?.get(client);
    if (!slots || !slot) return;
    slots.delete(client);
    if (slots.size === 0) backend.presence.delete(channel);
    if (!hasUser(slots, slot.entry.user)) backend.emitPresence(channel, 'leave', slot.entry);
  }

  async presenceList(channel: string): Promise<PresenceEntry[]> {
    this.#check();
    const slots = this.backend.expirePresence(channel, this.backend.clock());
    return slots ? [...slots.values()].map((s) => ({ ...s.entry })) : [];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of [...this.#channels]) await this.unsubscribe(channel);
    this.backend.instances.delete(this);
    this.listener = undefined;
  }

  simulateOutage(down: boolean): void {
    if (this.backend.down === down) return;
    this.backend.down = down;
    for (const instance of this.backend.instances) instance.listener?.onBrokerState(down ? 'down' : 'up');
  }

  simulateDataLoss(): void {
    this.backend.channels.clear();
    this.backend.presence.clear();
  }
}

/**
 * memoryBroker creates the one-process broker, the hub's default. Pass `backend` from another
 * memoryBroker to let two hubs in one process share channels, as two processes on one network
 * broker would.
 */
export function memoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  return new MemoryBrokerInstance(options.backend ?? new MemoryBackend(options));
}
