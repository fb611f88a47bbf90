import {
  type BrokerState,
  type ChannelPolicy,
  type Hub,
  HubError,
  type Identity,
  type JsonValue,
} from '../hub/index.js';

/**
 * serve-demo holds what the apps of `duplex serve` need from the server, built on the hub's
 * public API only: the channel policies of the chat, typing and market namespaces, sign-in by
 * display name, the room list, the `stats` method, and the market simulator of the dashboard.
 */

/** DEMO_HISTORY is the contract's demo policy: the last 1,000 messages of each channel for 10 minutes. */
export const DEMO_HISTORY = { size: 1_000, ttlMs: 10 * 60_000 };

/**
 * DEMO_CHANNELS are the channel policies of the demo:
 * - `typing:<room>`: typing indicators. Conflated for slow readers and never stored (history
 *   size 0), no presence: a typing signal is worth nothing a few seconds later.
 * - `market:<symbol>`: the simulated prices. Conflated (a slow dashboard gets the newest price
 *   per symbol), two minutes of ticks kept so that a dashboard draws its chart at once.
 * - `meta:rooms`: announcements of new rooms (the list itself comes from the `rooms` method).
 * - everything else (`chat:<room>` included): the contract's history, presence, join/leave.
 */
export const DEMO_CHANNELS: Record<string, ChannelPolicy> = {
  '*': { history: DEMO_HISTORY },
  typing: { history: { size: 0, ttlMs: 0 }, presence: false, joinLeave: false, slowConsumer: 'conflate' },
  market: {
    history: { size: 600, ttlMs: DEMO_HISTORY.ttlMs },
    presence: false,
    joinLeave: false,
    slowConsumer: 'conflate',
  },
  'meta:rooms': { history: { size: 0, ttlMs: 0 }, presence: false, joinLeave: false },
};

/** MAX_NAME_LENGTH bounds display names (in UTF-16 units, as the page's input counts them). */
export const MAX_NAME_LENGTH = 32;

/**
 * demoAuthenticate signs a client in by display name: the token is the name the person chose
 * (trimmed, 1 to 32 characters, no control characters). No token is an anonymous client, as
 * the contract's demo policy allows; a bad name is refused (close 4001). Two people who choose
 * the same name are one presence member: this is a demo, not an account system.
 */
export function demoAuthenticate({ token }: { token: string | undefined }): Identity | false {
  if (token === undefined || token === '') return { user: '' };
  const name = token.trim();
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) return false;
  return { user: name, info: { name } };
}

/** ROOM_NAME is what a room name may be: lowercase letters, digits and dashes, up to 24. */
export const ROOM_NAME = /^[a-z0-9][a-z0-9-]{0,23}$/;

/** MAX_ROOMS bounds the room list: a page subscribes to the rooms it joined, and the list must fit a screen. */
export const MAX_ROOMS = 50;

/** DemoRooms is the room list of the chat: a bounded set of names, announced on `meta:rooms`. */
export class DemoRooms {
  readonly #names = new Set<string>(['lobby', 'random']);

  list(): string[] {
    return [...this.#names];
  }

  /** create adds a room (an existing name is fine) and announces it; returns the list. */
  async create(hub: Hub, raw: unknown): Promise<string[]> {
    const name = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
    if (!ROOM_NAME.test(name)) {
      throw new TypeError('a room name is 1 to 24 lowercase letters, digits or dashes');
    }
    if (!this.#names.has(name)) {
      if (this.#names.size >= MAX_ROOMS) throw new RangeError(`there are ${MAX_ROOMS} rooms already`);
      this.#names.add(name);
      await hub.publish('meta:rooms', { room: name });
    }
    return this.list();
  }
}

/** TICKERS are the simulated market's symbols and their opening prices. */
export const TICKERS: Record<string, number> = { ACME: 120, GLOBEX: 48, INITECH: 230, UMBRELLA: 75 };

/** MARKET_TICK_MS is how often each ticker moves: several times a second. */
export const MARKET_TICK_MS = 250;

/** MarketTick is one price on `market:<symbol>`. */
export interface MarketTick {
  symbol: string;
  price: number;
  /** Milliseconds since the epoch. */
  t: number;
}

/**
 * startMarket runs the dashboard's simulated market: every MARKET_TICK_MS each ticker takes a
 * small random step (mean-reverting to its opening price) and is published on
 * `market:<symbol>` with the symbol as conflation key. A publish that fails (broker down) is
 * skipped: the next tick carries a newer price anyway. Returns the function that stops it.
 */
export function startMarket(hub: Hub, random: () => number = Math.random): () => void {
  const prices = new Map(Object.entries(TICKERS));
  const timer = setInterval(() => {
    const t = Date.now();
    for (const [symbol, price] of prices) {
      const open = TICKERS[symbol] ?? price;
      const step = price * 0.004 * (random() - 0.5) + (open - price) * 0.01;
      const next = Math.max(0.01, Math.round((price + step) * 100) / 100);
      prices.set(symbol, next);
      const tick: MarketTick = { symbol, price: next, t };
      hub
        .publish(`market:${symbol}`, tick as unknown as JsonValue, { conflationKey: symbol })
        .catch(() => {});
    }
  }, MARKET_TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** DemoStats is what the `stats` method returns: the hub's counters and the process's state. */
export interface DemoStats {
  connections: number;
  channels: number;
  subscriptions: number;
  messagesIn: number;
  messagesOut: number;
  publications: number;
  queuedBytes: number;
  dropped: number;
  slowClosed: number;
  rateLimited: number;
  /** Resident set size of the process, bytes. */
  rssBytes: number;
  heapUsedBytes: number;
  broker: BrokerState;
  uptimeSeconds: number;
  /** Milliseconds since the epoch, when the snapshot was taken (for rates). */
  at: number;
}

/** registerDemoMethods adds the demo's RPC methods: `echo`, `stats`, `rooms` and `createRoom`. */
export function registerDemoMethods(
  hub: Hub,
  rooms: DemoRooms,
  brokerState: () => BrokerState,
  timed: <P>(name: string, handler: (params: P) => unknown) => (params: P) => Promise<unknown>,
): void {
  hub.method(
    'echo',
    timed('echo', async (params) => params),
  );
  hub.method(
    'stats',
    timed('stats', async (): Promise<DemoStats> => {
      const memory = process.memoryUsage();
      return {
        ...hub.stats(),
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        broker: brokerState(),
        uptimeSeconds: Math.round(process.uptime()),
        at: Date.now(),
      };
    }),
  );
  hub.method(
    'rooms',
    timed('rooms', async () => rooms.list()),
  );
  hub.method(
    'createRoom',
    timed('createRoom', async (params: unknown) => {
      const name = (params as { name?: unknown } | null)?.name;
      try {
        return await rooms.create(hub, name);
      } catch (error) {
        if (error instanceof TypeError || error instanceof RangeError) {
          throw new HubError('DUPLEX_HUB_BAD_REQUEST', error.message);
        }
        throw error;
      }
    }),
  );
}
