/**
 * hub-server is the Duplex hub that bench/servers/hub.ts (in-memory broker) and
 * bench/servers/hub-redis.ts (Redis broker) serve: one Hub at `/hub` on an http server on
 * 127.0.0.1, with the settings those files document. The two differ only in the broker.
 */
import http from 'node:http';
import { type Broker, Hub } from 'duplexjs/hub';

/** BENCH_RATE is the message rate and burst allowed per connection: far above any run's. */
const BENCH_RATE = 10_000_000;

/**
 * serveHub listens on `port` (0: any free port) and prints the ready line
 * `listening on ws://127.0.0.1:P/hub`. SIGTERM or SIGINT closes the hub (every client gets
 * 1001), then the given broker or else the http server, and exits 0, bounded at 2 s.
 */
export function serveHub(port: number, broker?: Broker): void {
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const hub = new Hub({
    server,
    path: '/hub',
    ...(broker ? { broker } : {}),
    authorize: () => true,
    limits: { messagesPerSecond: BENCH_RATE, messageBurst: BENCH_RATE },
    websocket: { perMessageDeflate: false },
  });

  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    const real = typeof address === 'object' && address ? address.port : port;
    process.stdout.write(`listening on ws://127.0.0.1:${real}/hub\n`);
  });

  const stop = (): void => {
    setTimeout(() => process.exit(0), 2000).unref();
    hub.close().then(
      () => {
        if (broker) void broker.close().finally(() => process.exit(0));
        else server.close(() => process.exit(0));
      },
      () => process.exit(0),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
