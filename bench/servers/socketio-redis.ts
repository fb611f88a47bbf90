/**
 * Socket.IO 4 with @socket.io/redis-adapter (on ioredis), for bench/redis.ts: the same server as
 * bench/servers/socketio.ts (websocket transport only, no compression, a room from the `room`
 * query, `publish(room, data, ack?)` broadcast with `socket.to(room).emit`), with the Redis
 * pub/sub adapter so several processes on one Redis share rooms.
 *   node build/bench/servers/socketio-redis.js --redis URL [--port P]
 * Ready line `listening on ws://127.0.0.1:P/`; SIGTERM/SIGINT close and exit 0 (2 s at most).
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { serveSocketIo } from '../lib/socketio-server.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 0);
const url = arg('--redis') ?? 'redis://127.0.0.1:6379';

const pub = new Redis(url);
const sub = pub.duplicate();
serveSocketIo(port, createAdapter(pub, sub));
