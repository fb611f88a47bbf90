/**
 * bench-hub-worker is one worker thread of `duplex bench --hub`: it runs its share of the
 * subscribers and publishers (each a HubClient over Duplex's WebSocket), publishes stamped
 * messages at a fixed rate, measures the delivery latency at each subscriber, counts losses
 * and duplicates per subscriber from the publishers' sequence numbers, and answers the main
 * thread (bench-hub.ts) through the same `sample` messages as the echo worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HubClient, HubClientError, HubErrorCode } from '../client/index.js';
import type { WebSocketOptions } from '../node/options.js';
import { WebSocket } from '../node/websocket.js';
import { encodeHistogram, newHistogram } from './bench-histogram.js';

/** HubWorkerInit is what the main thread gives each hub worker. */
export interface HubWorkerInit {
  url: string;
  channel: string;
  token: string | undefined;
  headers: Record<string, string>;
  ca: string[];
  insecure: boolean;
  /** A random id of the run, in every message: messages of other runs on the channel are ignored. */
  run: string;
  /** Global indexes of this worker's subscribers and publishers. */
  subscribers: number[];
  publishers: number[];
  totalSubscribers: number;
  totalPublishers: number;
  /** Publishes per second over all publishers. */
  rate: number;
  /** Most publishes awaiting their ack per publisher. */
  inflight: number;
  /** Bytes of each published JSON value (at least the stamp's). */
  size: number;
  rampS: number;
  /** How long a client may take to connect (and a subscriber to be subscribed). */
  connectTimeoutMs: number;
}

/** The fields of a published message: run, publisher, sequence number, due time (µs), measured, padding. */
export interface Stamp {
  r: string;
  p: number;
  s: number;
  t: number;
  m: 0 | 1;
  x: string;
}

/** PublisherReport is what one publisher published, for the subscribers' loss count. */
export interface PublisherReport {
  index: number;
  /** Sequence numbers 0 .. sent-1 were published. */
  sent: number;
  /** Publishes the hub refused (never stored): not expected by anyone. */
  refused: number[];
  /** Publishes whose fate is unknown (timed out, client closed): neither expected nor counted lost. */
  unknown: number[];
  /** Acknowledged publishes that were due in the measured time. */
  measured: number;
}

/** HubWorkerPublished answers `stop`: the worker's publishers are done. */
export interface HubWorkerPublished {
  type: 'published';
  publishers: PublisherReport[];
}

/** HubWorkerFinal is one worker's totals once its subscribers drained. */
export interface HubWorkerFinal {
  type: 'final';
  histogram: string;
  /** Deliveries of measured publishes (duplicates excluded). */
  deliveries: number;
  payloadBytes: number;
  /** Per subscriber (global index), expected messages not received and messages received twice. */
  lost: Record<number, number>;
  duplicated: Record<number, number>;
  /** Subscriptions resumed without their missed messages (`subscribed` with recovered: false after the first). */
  unrecovered: number;
  /** Reconnections of this worker's clients. */
  reconnects: number;
  /** Messages on the channel that this run did not publish. */
  foreign: number;
  publishErrors: number;
  errors: Record<HubErrorKind, number>;
  firstErrors: string[];
  /** True when every subscriber got every expected message before the drain deadline. */
  drained: boolean;
}

/** HubErrorKind sorts the errors of a hub run. */
export type HubErrorKind = 'connect' | 'subscribe' | 'publish' | 'closed';
export const HUB_ERROR_KINDS: HubErrorKind[] = ['connect', 'subscribe', 'publish', 'closed'];

/** Most gaps remembered per worker (sequence numbers missed, waiting to arrive late or be counted lost). */
const MAX_MISSING = 1_000_000;
/** How long the subscribers may take to receive everything after the publishers stopped. */
const DRAIN_MS = 5_000;
/** Publish outcomes that leave the message's fate unknown. */
const UNKNOWN_FATE = new Set<string>([
  HubErrorCode.Timeout,
  HubErrorCode.Closed,
  HubErrorCode.Disconnected,
  HubErrorCode.Aborted,
  HubErrorCode.BrokerUnavailable,
]);

/** nowUs is a monotonic clock in microseconds shared by every thread of the process. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** PublisherTrack is what one subscriber saw of one publisher. */
class PublisherTrack {
  /** The next sequence number expected in order. */
  next = 0;
  /** Sequence numbers skipped over (they may still arrive out of order). */
  readonly missing = new Set<number>();
}

class Subscriber {
  readonly tracks = new Map<number, PublisherTrack>();
  lost = 0;
  duplicated = 0;
  subscribed = false;
  firstSubscribed = false;
  open = false;
  constructor(
    readonly index: number,
    readonly client: HubClient,
  ) {}

  track(publisher: number): PublisherTrack {
    let t = this.tracks.get(publisher);
    if (!t) {
      t = new PublisherTrack();
      this.tracks.set(publisher, t);
    }
    return t;
  }
}

class Publisher {
  seq = 0;
  inFlight = 0;
  nextDue = 0;
  measured = 0;
  open = false;
  readonly refused: number[] = [];
  readonly unknown: number[] = [];
  constructor(
    readonly index: number,
    readonly client: HubClient,
  ) {}
}

class HubRun {
  readonly subscribers: Subscriber[] = [];
  readonly publishers: Publisher[] = [];
  readonly interval = newHistogram();
  readonly total = newHistogram();
  readonly errors = Object.fromEntries(HUB_ERROR_KINDS.map((k) => [k, 0])) as Record<HubErrorKind, number>;
  readonly firstErrors: string[] = [];
  /** The measured time, on nowUs()'s clock: publishes due in it are measured. */
  measureFrom = Number.POSITIVE_INFINITY;
  publishing = false;
  stopping = false;
  sampleDeliveries = 0;
  sampleErrors = 0;
  deliveries = 0;
  payloadBytes = 0;
  unrecovered = 0;
  reconnects = 0;
  foreign = 0;
  publishErrors = 0;
  missingCount = 0;
  /** Per-publisher interval between two publishes, µs. */
  readonly gapUs: number;
  readonly padding: string;

  constructor(readonly init: HubWorkerInit) {
    this.gapUs = (init.totalPublishers / init.rate) * 1e6;
    const stamp: Stamp = { r: init.run, p: init.totalPublishers, s: 1e9, t: nowUs() * 10, m: 1, x: '' };
    this.padding = 'x'.repeat(Math.max(0, init.size - JSON.stringify(stamp).length));
  }

  #error(kind: HubErrorKind, why: string): void {
    if (this.stopping && kind !== 'publish') return;
    this.errors[kind]++;
    this.sampleErrors++;
    if (this.firstErrors.length < 5) this.firstErrors.push(`${kind}: ${why}`);
  }

  #client(): HubClient {
    const { headers, ca, insecure } = this.init;
    const options: WebSocketOptions = { headers };
    if (ca.length > 0) options.ca = ca;
    if (insecure) options.rejectUnauthorized = false;
    class BenchWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, options);
      }
    }
    return new HubClient(this.init.url, {
      WebSocket: BenchWebSocket,
      token: this.init.token,
      name: 'duplex bench',
      requestTimeoutMs: 10_000,
      connectTimeoutMs: this.init.connectTimeoutMs,
      // Publishes wait here while a publisher reconnects; the in-flight limit bounds them first.
      offlineQueue: { maxCount: this.init.inflight, maxBytes: 64 * 1024 * 1024 },
    });
  }

  /** connectAll opens the subscribers (subscribed) and publishers (open), spread over --ramp; resolves when all settled. */
  connectAll(): Promise<void> {
    const { init } = this;
    const all = init.totalSubscribers + init.totalPublishers;
    const waits: Promise<void>[] = [];
    const at = (globalPosition: number) => (init.rampS * 1000 * globalPosition) / all;
    for (const index of init.subscribers) {
      waits.push(this.#delay(at(index)).then(() => this.#startSubscriber(index)));
    }
    for (const index of init.publishers) {
      waits.push(this.#delay(at(init.totalSubscribers + index)).then(() => this.#startPublisher(index)));
    }
    return Promise.all(waits).then(() => undefined);
  }

  #delay(ms: number): Promise<void> {
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }

  /** #settled resolves when `ok` says so (checked on every event of the client) or after the connect timeout. */
  #settled(client: HubClient, ok: () => boolean, onTimeout: () => void, extra?: (wake: () => void) => void) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        off();
        onTimeout();
        resolve();
      }, this.init.connectTimeoutMs + 1_000);
      const check = (): void => {
        if (!ok()) return;
        clearTimeout(timer);
        off();
        resolve();
      };
      const off = client.on('state', check);
      extra?.(check);
    });
  }

  #startSubscriber(index: number): Promise<void> {
    const client = this.#client();
    const sub = new Subscriber(index, client);
    this.subscribers.push(sub);
    this.#watch(client, (open) => {
      sub.open = open;
    });
    const subscription = client.subscribe(this.init.channel);
    let wake: (() => void) | undefined;
    subscription.on('subscribed', ({ recovered, resubscribed }) => {
      if (resubscribed && !recovered) this.unrecovered++;
      sub.subscribed = true;
      wake?.();
    });
    subscription.on('error', (error) => this.#error('subscribe', error.message));
    subscription.on('unsubscribed', (info) => {
      sub.subscribed = false;
      this.#error('subscribe', `unsubscribed by the hub: ${info.code ?? ''} ${info.reason ?? ''}`.trim());
    });
    subscription.on('message', (data) => this.#deliver(sub, data));
    return this.#settled(
      client,
      () => sub.subscribed,
      () => {
        this.#error(
          'connect',
          `subscriber ${index} was not subscribed within ${this.init.connectTimeoutMs} ms`,
        );
        client.close();
      },
      (check) => {
        wake = check;
      },
    );
  }

  #startPublisher(index: number): Promise<void> {
    const client = this.#client();
    const pub = new Publisher(index, client);
    this.publishers.push(pub);
    this.#watch(client, (open) => {
      pub.open = open;
    });
    return this.#settled(
      client,
      () => pub.open,
      () => {
        this.#error('connect', `publisher ${index} did not connect within ${this.init.connectTimeoutMs} ms`);
        client.close();
      },
    );
  }

  #watch(client: HubClient, setOpen: (open: boolean) => void): void {
    let wasOpen = false;
    client.on('state', (state) => {
      setOpen(state === 'open');
      if (state === 'open') wasOpen = true;
      if (state === 'reconnecting' && wasOpen && !this.stopping) {
        this.reconnects++;
        this.#error('closed', 'a connection to the hub dropped (the client reconnects)');
      }
    });
    client.on('error', (error) => {
      if (!this.stopping) this.#error(wasOpen ? 'closed' : 'connect', `${error.code}: ${error.message}`);
    });
  }

  #deliver(sub: Subscriber, data: unknown): void {
    const now = nowUs();
    const m = data as Partial<Stamp> | null;
    if (typeof m !== 'object' || m === null || m.r !== this.init.run || typeof m.s !== 'number') {
      this.foreign++;
      return;
    }
    const track = sub.track(m.p ?? -1);
    const s = m.s;
    if (s === track.next) track.next++;
    else if (s > track.next) {
      for (let i = track.next; i < s; i++) {
        if (this.missingCount >= MAX_MISSING) break;
        track.missing.add(i);
        this.missingCount++;
      }
      track.next = s + 1;
    } else if (track.missing.delete(s)) this.missingCount--;
    else {
      sub.duplicated++;
      return;
    }
    const us = Math.max(1, Math.round(now - (m.t ?? now)));
    this.interval.recordValue(us);
    this.sampleDeliveries++;
    if (m.m === 1) {
      this.total.recordValue(us);
      this.deliveries++;
      this.payloadBytes += this.init.size;
    }
  }

  /** tick publishes every message that is due and fits the in-flight limit. */
  tick(): void {
    if (!this.publishing) return;
    const now = nowUs();
    for (const pub of this.publishers) {
      if (!pub.open) continue;
      while (pub.nextDue <= now && pub.inFlight < this.init.inflight) {
        // Coordinated omission: the stamp is when the message was due, not when it went out.
        this.#publish(pub, pub.nextDue);
        pub.nextDue += this.gapUs;
      }
    }
  }

  #publish(pub: Publisher, due: number): void {
    const measured = due >= this.measureFrom;
    const stamp: Stamp = {
      r: this.init.run,
      p: pub.index,
      s: pub.seq++,
      t: due,
      m: measured ? 1 : 0,
      x: this.padding,
    };
    pub.inFlight++;
    pub.client.publish(this.init.channel, stamp as unknown as Record<string, unknown>).then(
      () => {
        pub.inFlight--;
        if (measured) pub.measured++;
      },
      (error: unknown) => {
        pub.inFlight--;
        const code = error instanceof HubClientError ? error.code : '';
        if (UNKNOWN_FATE.has(code)) pub.unknown.push(stamp.s);
        else pub.refused.push(stamp.s);
        this.publishErrors++;
        this.#error('publish', error instanceof Error ? error.message : String(error));
      },
    );
  }

  /** go starts publishing; each publisher's schedule is offset by its share of one interval. */
  go(): void {
    const start = nowUs();
    for (const pub of this.publishers) {
      pub.nextDue = start + (pub.index / this.init.totalPublishers) * this.gapUs;
    }
    this.publishing = true;
  }

  /** stopPublishing stops the schedule and resolves once no publish is waiting for its ack. */
  async stopPublishing(): Promise<HubWorkerPublished> {
    this.publishing = false;
    const until = Date.now() + 15_000;
    while (this.publishers.some((p) => p.inFlight > 0) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return {
      type: 'published',
      publishers: this.publishers.map((p) => ({
        index: p.index,
        sent: p.seq,
        refused: p.refused,
        // A publish still unanswered here counts as unknown as well.
        unknown: p.inFlight > 0 ? [...p.unknown, ...range(p.seq - p.inFlight, p.seq)] : p.unknown,
        measured: p.measured,
      })),
    };
  }

  /**
   * drain waits until each subscriber has every message it should have (every publish that
   * was not refused and whose fate is known), at most DRAIN_MS, then counts what is missing.
   */
  async drain(reports: PublisherReport[]): Promise<HubWorkerFinal> {
    const expected = reports.map((r) => ({
      ...r,
      excluded: new Set([...r.refused, ...r.unknown]),
      last: lastExpected(r),
    }));
    const complete = (sub: Subscriber): boolean =>
      expected.every((r) => {
        if (r.last < 0) return true;
        const t = sub.tracks.get(r.index);
        if (!t || t.next <= r.last) return false;
        for (const s of t.missing) if (!r.excluded.has(s)) return false;
        return true;
      });
    const until = Date.now() + DRAIN_MS;
    let drained = false;
    while (Date.now() < until) {
      if (this.subscribers.every((s) => !s.firstSubscribed || complete(s))) {
        drained = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.stopping = true;
    const lost: Record<number, number> = {};
    const duplicated: Record<number, number> = {};
    for (const sub of this.subscribers) {
      let n = 0;
      if (sub.firstSubscribed) {
        for (const r of expected) {
          const t = sub.tracks.get(r.index);
          const next = t?.next ?? 0;
          for (const s of t?.missing ?? []) if (!r.excluded.has(s)) n++;
          for (let s = next; s <= r.last; s++) if (!r.excluded.has(s)) n++;
        }
      }
      if (n > 0) lost[sub.index] = n;
      if (sub.duplicated > 0) duplicated[sub.index] = sub.duplicated;
    }
    return {
      type: 'final',
      histogram: encodeHistogram(this.total),
      deliveries: this.deliveries,
      payloadBytes: this.payloadBytes,
      lost,
      duplicated,
      unrecovered: this.unrecovered,
      reconnects: this.reconnects,
      foreign: this.foreign,
      publishErrors: this.publishErrors,
      errors: this.errors,
      firstErrors: this.firstErrors,
      drained,
    };
  }

  /** markSubscribed freezes which subscribers count: those subscribed before publishing started. */
  markSubscribed(): number {
    let n = 0;
    for (const sub of this.subscribers) {
      sub.firstSubscribed = sub.subscribed;
      if (sub.subscribed) n++;
    }
    return n;
  }

  sample(): { type: 'sample'; histogram: string; messages: number; open: number; errors: number } {
    const out = {
      type: 'sample' as const,
      histogram: encodeHistogram(this.interval),
      messages: this.sampleDeliveries,
      open: this.subscribers.filter((s) => s.open).length + this.publishers.filter((p) => p.open).length,
      errors: this.sampleErrors,
    };
    this.interval.reset();
    this.sampleDeliveries = 0;
    this.sampleErrors = 0;
    return out;
  }

  close(): void {
    this.stopping = true;
    for (const s of this.subscribers) s.client.close();
    for (const p of this.publishers) p.client.close();
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** lastExpected is the highest sequence number of a publisher that every subscriber should get, -1 for none. */
function lastExpected(r: PublisherReport): number {
  const excluded = new Set([...r.refused, ...r.unknown]);
  for (let s = r.sent - 1; s >= 0; s--) if (!excluded.has(s)) return s;
  return -1;
}

const port = parentPort;
if (port) {
  const run = new HubRun(workerData as HubWorkerInit);
  const ticker = setInterval(() => run.tick(), 1);
  void run.connectAll().then(() => {
    port.postMessage({
      type: 'ready',
      subscribed: run.subscribers.filter((s) => s.subscribed).length,
      publishers: run.publishers.filter((p) => p.open).length,
    });
  });
  port.on('message', (m: { type: string; publishers?: PublisherReport[] }) => {
    switch (m.type) {
      case 'sample':
        port.postMessage(run.sample());
        break;
      case 'go':
        port.postMessage({ type: 'counted', subscribers: run.markSubscribed() });
        run.go();
        break;
      case 'measure':
        run.measureFrom = nowUs();
        break;
      case 'stop':
        clearInterval(ticker);
        void run.stopPublishing().then((published) => port.postMessage(published));
        break;
      case 'expect':
        void run.drain(m.publishers ?? []).then((final) => {
          port.postMessage(final);
          run.close();
        });
        break;
    }
  });
}
