/**
 * The Duplex hub on the Redis broker, for bench/redis.ts: the same Hub and settings as
 * bench/servers/hub.ts (default channel policy, anonymous publish, the per-connection rate
 * limit raised, no compression), with `broker: redisBroker(url)`. Several of these on one
 * Redis act as one hub.
 *   node build/bench/servers/hub-redis.js --redis URL [--port P]
 * Ready line `listening on ws://127.0.0.1:P/hub`; SIGTERM/SIGINT close the hub and exit 0 (2 s at most).
 */
import http from 'node:http';
import { Hub } from 'duplexjs/hub';
import { redisBroker } from 'duplexjs/redis';

const BENCH_RATE = 10_000_000;

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 0);
const url = arg('--redis') ?? 'redis://127.0.0.1:6379';

const broker = redisBroker(url);
await broker.ready(10_000);
const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const hub = new Hub({
  server,
  path: '/hub',
  broker,
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
    () => broker.close().finally(() => process.exit(0)),
    () => process.exit(0),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
