import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type {
  Broker,
  BrokerListener,
  HistoryPolicy,
  HistoryQuery,
  Hub,
  PresenceEntry,
  PublishInput,
} from '../hub/index.js';
import type { HandshakeRefusal } from '../node/refusal.js';
import type { WebSocketServer } from '../node/server.js';

/** Endpoint names the WebSocket endpoints of `duplex serve` in metric labels. */
export type Endpoint = 'hub' | 'echo' | 'other';

/** LATENCY_BUCKETS (seconds) span a memory broker's microseconds to a slow network broker's seconds. */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * ServeMeters are the metrics that `duplex serve` feeds as things happen (handshakes,
 * broker calls, RPC handlers), as opposed to those read from `hub.stats()` at scrape time. They
 * exist before the hub does: the broker and the methods are wrapped before the hub gets them.
 */
export class ServeMeters {
  readonly registry = new Registry();
  readonly #handshakes = new Counter({
    name: 'duplex_handshakes_total',
    help: 'WebSocket upgrade requests, by endpoint.',
    labelNames: ['endpoint'],
    registers: [this.registry],
  });
  readonly #handshakeFailures = new Counter({
    name: 'duplex_handshake_failures_total',
    help: "Upgrade requests refused, by endpoint, reason (the refusal's code, e.g. DUPLEX_HANDSHAKE_RATE_LIMITED) and HTTP status.",
    labelNames: ['endpoint', 'reason', 'status'],
    registers: [this.registry],
  });
  readonly #publish = new Histogram({
    name: 'duplex_hub_publish_duration_seconds',
    help: 'Time the broker took to store a publication (client and server publishes), by result.',
    labelNames: ['result'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #rpc = new Histogram({
    name: 'duplex_hub_rpc_duration_seconds',
    help: 'Time an RPC handler took, by method and result.',
    labelNames: ['method', 'result'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #brokerErrors = new Counter({
    name: 'duplex_broker_errors_total',
    help: 'Broker operations that failed, by operation.',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  constructor() {
    // Known label values start at 0, so a scrape shows them before the first event.
    for (const endpoint of ['hub', 'echo'] as const) this.#handshakes.inc({ endpoint }, 0);
  }

  /** upgrade counts an upgrade request that reached `duplex serve`. */
  upgrade(endpoint: Endpoint): void {
    this.#handshakes.inc({ endpoint });
  }

  /**
   * refused counts one refused upgrade request by its code and status, as the endpoint that
   * refused it reported it (the `refused` event of the hub and of /echo's WebSocketServer), or
   * as `duplex serve` itself refused it (unknown path, shutting down). Nothing is re-checked
   * here: the count is what was written on the wire.
   */
  refused(endpoint: Endpoint, refusal: Pick<HandshakeRefusal, 'code' | 'status'>): void {
    this.#handshakeFailures.inc({ endpoint, reason: refusal.code, status: String(refusal.status) });
  }

  /** timed wraps an RPC handler so that its duration lands in duplex_hub_rpc_duration_seconds. */
  timed = <P>(method: string, handler: (params: P) => unknown) => {
    return async (params: P): Promise<unknown> => {
      const end = this.#rpc.startTimer({ method });
      try {
        const result = await handler(params);
        end({ result: 'ok' });
        return result;
      } catch (error) {
        end({ result: 'error' });
        throw error;
      }
    };
  };

  /**
   * broker wraps a Broker so that publish latency and failed operations are measured where
   * they happen, whichever broker it is (memory or Redis). It only forwards: no behaviour changes.
   */
  broker(inner: Broker): Broker {
    const errors = this.#brokerErrors;
    const publishTimer = this.#publish;
    const watch = <T>(operation: string, promise: Promise<T>): Promise<T> =>
      promise.catch((error: unknown) => {
        errors.inc({ operation });
        throw error;
      });
    return {
      attach: (listener: BrokerListener) => inner.attach(listener),
      publish: async (channel: string, input: PublishInput, history: HistoryPolicy) => {
        const end = publishTimer.startTimer();
        try {
          const result = await inner.publish(channel, input, history);
          end({ result: result.duplicate ? 'duplicate' : 'stored' });
          return result;
        } catch (error) {
          end({ result: 'error' });
          errors.inc({ operation: 'publish' });
          throw error;
        }
      },
      subscribe: (channel: string) => watch('subscribe', inner.subscribe(channel)),
      unsubscribe: (channel: string) => watch('unsubscribe', inner.unsubscribe(channel)),
      position: (channel: string) => watch('position', inner.position(channel)),
      history: (channel: string, query: HistoryQuery) => watch('history', inner.history(channel, query)),
      presenceAdd: (channel: string, entry: PresenceEntry, ttlMs: number) =>
        watch('presence', inner.presenceAdd(channel, entry, ttlMs)),
      presenceRemove: (channel: string, client: string) =>
        watch('presence', inner.presenceRemove(channel, client)),
      presenceList: (channel: string) => watch('presence', inner.presenceList(channel)),
      close: () => inner.close(),
    };
  }
}

/** ServeMetricsSources are the parts of `duplex serve` whose state /metrics shows. */
export interface ServeMetricsSources {
  hub: Hub;
  echo: WebSocketServer;
  /** brokerUp tells whether the hub's broker can serve requests (always true for the in-memory one). */
  brokerUp?: () => boolean;
  /** The meters already feeding (handshakes, broker, RPC); made here when not given. */
  meters?: ServeMeters;
}

/** CLOSE_CODES are the close codes counted by value; any other is counted as `other` (a peer chooses its code: the label set stays bounded). */
const CLOSE_CODES = new Set([
  1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 4001, 4002, 4003,
  4004, 4005, 4006, 4007,
]);

/**
 * createServeMetrics builds the Prometheus registry behind `/metrics` (prom-client: the
 * library Prometheus users already know, so names and the text format are right). Gauges and
 * counters of the hub read its own counters (`hub.stats()`) at scrape time: nothing is counted
 * twice and the hot path pays nothing for them. Close codes and hub errors come from the hub's
 * events; handshakes, publish and RPC latency and broker errors from the ServeMeters.
 */
export function createServeMetrics(sources: ServeMetricsSources): {
  registry: Registry;
  meters: ServeMeters;
} {
  const meters = sources.meters ?? new ServeMeters();
  const registry = meters.registry;
  collectDefaultMetrics({ register: registry, prefix: 'duplex_' });
  const { hub, echo } = sources;
  // Every refusal the endpoints decide (limits, origin, validation, subprotocol, timeout ...).
  hub.on('refused', (refusal) => meters.refused('hub', refusal));
  echo.on('refused', (refusal) => meters.refused('echo', refusal));
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // The hub's counter only grows; mirror it (reset + inc is prom-client's way to set a counter).
        this.reset();
        this.inc(read());
      },
    });
  };
  gauge('duplex_broker_up', 'Whether the hub broker (memory or Redis) is reachable: 1 up, 0 down.', () =>
    sources.brokerUp === undefined || sources.brokerUp() ? 1 : 0,
  );
  gauge('duplex_hub_connections', 'Open hub connections.', () => hub.stats().connections);
  gauge(
    'duplex_hub_channels',
    'Channels with at least one subscriber in this process.',
    () => hub.stats().channels,
  );
  gauge('duplex_hub_subscriptions', 'Subscriptions of all hub connections.', () => hub.stats().subscriptions);
  gauge(
    'duplex_hub_queued_bytes',
    "What the hub's per-connection queues hold, counted as memory (wire bytes plus 1,024 per message).",
    () => hub.stats().queuedBytes,
  );
  counter(
    'duplex_hub_messages_received_total',
    'Protocol messages received from hub clients.',
    () => hub.stats().messagesIn,
  );
  counter(
    'duplex_hub_messages_sent_total',
    'Protocol messages sent to hub clients.',
    () => hub.stats().messagesOut,
  );
  counter(
    'duplex_hub_received_bytes_total',
    'Payload bytes of the messages received from hub clients (JSON text and binary, after inflation).',
    () => hub.stats().bytesIn,
  );
  counter(
    'duplex_hub_sent_bytes_total',
    'Payload bytes of the messages sent to hub clients (before compression).',
    () => hub.stats().bytesOut,
  );
  counter(
    'duplex_hub_publications_total',
    'Messages published (by clients and by the server).',
    () => hub.stats().publications,
  );
  counter(
    'duplex_hub_slow_consumer_dropped_total',
    'Messages dropped or replaced for slow consumers.',
    () => hub.stats().dropped,
  );
  counter(
    'duplex_hub_slow_consumer_closed_total',
    'Connections closed as slow consumers (4004).',
    () => hub.stats().slowClosed,
  );
  counter(
    'duplex_hub_rate_limited_total',
    'Messages refused for the rate limit.',
    () => hub.stats().rateLimited,
  );
  gauge('duplex_echo_connections', 'Open connections of the /echo endpoint.', () => echo.clients.size);

  const closes = new Counter({
    name: 'duplex_hub_closes_total',
    help: 'Hub connections closed, by close code.',
    labelNames: ['code'],
    registers: [registry],
  });
  hub.on('disconnect', (_client, code) => {
    closes.inc({ code: CLOSE_CODES.has(code) ? String(code) : 'other' });
  });
  const errors = new Counter({
    name: 'duplex_hub_errors_total',
    help: 'Exceptions the hub reported (hooks, handlers, broker).',
    registers: [registry],
  });
  hub.on('error', () => errors.inc());
  return { registry, meters };
}
