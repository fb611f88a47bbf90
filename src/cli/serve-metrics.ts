import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Hub } from '../hub/index.js';
import type { WebSocketServer } from '../node/server.js';

/** ServeMetricsSources are the parts of `duplex serve` whose state /metrics shows. */
export interface ServeMetricsSources {
  hub: Hub;
  echo: WebSocketServer;
  /** brokerUp tells whether the hub's broker can serve requests (always true for the in-memory one). */
  brokerUp?: () => boolean;
}

/**
 * createServeMetrics builds the Prometheus registry behind `/metrics` (prom-client: the
 * library Prometheus users already know, so names and the text format are right). Gauges and
 * counters read the hub's own counters at scrape time: nothing is counted twice and the hot
 * path pays nothing for metrics.
 */
export function createServeMetrics(sources: ServeMetricsSources): { registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'duplex_' });
  const { hub, echo } = sources;
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
    'duplex_hub_publications_total',
    'Messages published (by clients and by the server).',
    () => hub.stats().publications,
  );
  gauge('duplex_echo_connections', 'Open connections of the /echo endpoint.', () => echo.clients.size);
  return { registry };
}
