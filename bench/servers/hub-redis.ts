/**
 * The Duplex hub on the Redis broker, for bench/redis.ts: the same Hub and settings as
 * bench/servers/hub.ts (default channel policy, anonymous publish, the per-connection rate
 * limit raised, no compression), with `broker: redisBroker(url)`. Several of these on one
 * Redis act as one hub.
 *   node build/bench/servers/hub-redis.js --redis URL [--port P]
 * Ready line `listening on ws://127.0.0.1:P/hub`; SIGTERM/SIGINT close the hub and exit 0 (2 s at most).
 */
import { redisBroker } from 'duplexjs/redis';
import { serveHub } from '../lib/hub-server.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 0);
const url = arg('--redis') ?? 'redis://127.0.0.1:6379';

const broker = redisBroker(url);
await broker.ready(10_000);
serveHub(port, broker);
