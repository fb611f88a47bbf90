import { HandshakeError } from '../protocol/index.js';
import type { Clock } from './clock.js';

/** HandshakeRate is a token bucket per client address: `burst` handshakes at once, refilled at `perSecond`. */
export interface HandshakeRate {
  /** Handshakes per second one address may start, on average. */
  perSecond: number;
  /** Handshakes one address may start at once (the bucket's size). */
  burst: number;
}

/** ConnectionLimitOptions are the connection-level limits of a WebSocketServer, resolved. */
export interface ConnectionLimitOptions {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  handshakeRate: HandshakeRate | false;
  clock: Clock;
}

/**
 * MAX_TRACKED_ADDRESSES bounds the rate limiter's table: past it, addresses whose bucket is
 * full again are forgotten, then the oldest ones (a forgotten address starts with a full
 * bucket, so the table can never be grown without bound by many sources).
 */
const MAX_TRACKED_ADDRESSES = 65_536;

/** Slot is one admitted connection's place in the counts; release is idempotent. */
export interface Slot {
  release(): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * addressKey is what per-address limits count by: an IPv4 address as is (also when written
 * IPv4-mapped, ::ffff:a.b.c.d), an IPv6 address by its /64 prefix, since one subscriber
 * usually holds a whole /64 and could otherwise pick a fresh address per connection.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  if (!lower.includes(':')) return lower;
  const [head = '', tail = ''] = lower.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = lower.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * ConnectionLimits admits or refuses new handshakes of one WebSocketServer: a cap on open
 * connections (503), on connections per client address (429) and a handshake rate per
 * address (429), each refusal with `Retry-After`. A connection counts from its admission
 * (before the handshake is decided) until its socket is gone.
 */
export class ConnectionLimits {
  readonly #options: ConnectionLimitOptions;
  #open = 0;
  readonly #perAddress = new Map<string, number>();
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: ConnectionLimitOptions) {
    this.#options = options;
  }

  /** open is the number of connections admitted and not released. */
  get open(): number {
    return this.#open;
  }

  /** admit counts a new connection from `address`, or returns the HandshakeError to refuse it with. */
  admit(address: string | undefined): Slot | HandshakeError {
    const opts = this.#options;
    const key = addressKey(address);
    if (this.#open >= opts.maxConnections) {
      return new HandshakeError(
        'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS',
        `the server holds its maximum of ${opts.maxConnections} connections`,
        { status: 503, headers: { 'Retry-After': '5' } },
      );
    }
    const mine = this.#perAddress.get(key) ?? 0;
    if (mine >= opts.maxConnectionsPerAddress) {
      return new HandshakeError(
        'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS_PER_ADDRESS',
        `${key} holds the maximum of ${opts.maxConnectionsPerAddress} connections per address`,
        { status: 429, headers: { 'Retry-After': '5' } },
      );
    }
    if (opts.handshakeRate !== false) {
      const wait = this.#take(key, opts.handshakeRate);
      if (wait > 0) {
        return new HandshakeError(
          'DUPLEX_HANDSHAKE_RATE_LIMITED',
          `${key} started more than ${opts.handshakeRate.perSecond} handshakes per second`,
          { status: 429, headers: { 'Retry-After': String(Math.max(1, Math.ceil(wait / 1000))) } },
        );
      }
    }
    this.#open++;
    this.#perAddress.set(key, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const n = (this.#perAddress.get(key) ?? 1) - 1;
        if (n <= 0) this.#perAddress.delete(key);
        else this.#perAddress.set(key, n);
      },
    };
  }

  /** #take takes a token from `key`'s bucket: 0 when there was one, else the ms until there is. */
  #take(key: string, rate: HandshakeRate): number {
    const now = this.#options.clock.now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TRACKED_ADDRESSES) this.#prune(now, rate);
      bucket = { tokens: rate.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return ((1 - bucket.tokens) / rate.perSecond) * 1000;
  }

  /** #prune forgets buckets that are full again, then the oldest, until the table has room. */
  #prune(now: number, rate: HandshakeRate): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond >= rate.burst)
        this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_TRACKED_ADDRESSES) break;
      this.#buckets.delete(key);
    }
  }
}
