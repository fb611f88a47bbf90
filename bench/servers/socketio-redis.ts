/**
 * Socket.IO 4 with @socket.io/redis-adapter (on ioredis), for bench/redis.ts: the same server as
 * bench/servers/socketio.ts (websocket transport only, no compression, a room from the `room`
 * query, `publish(room, data, ack?)` broadcast with `socket.to(room).emit`), with the Redis
 * pub/sub adapter so several processes on one Redis share rooms.
 *   node build/bench/servers/socketio-redis.js --redis URL [--port P]
 * Ready line `listening on ws://127.0.0.1:P/`; SIGTERM/SIGINT close and exit 0 (2 s at most).
 */
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 0);
const url = arg('--redis') ?? 'redis://127.0.0.1:6379';

const pub = new Redis(url);
const sub = pub.duplicate();
const httpServer = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  adapter: createAdapter(pub, sub),
});

io.on('connection', (socket) => {
  const room = socket.handshake.query['room'];
  if (typeof room === 'string' && room.length > 0) void socket.join(room);
  socket.on('join', (name: unknown, ack?: unknown) => {
    if (typeof name === 'string' && name.length > 0) void socket.join(name);
    if (typeof ack === 'function') ack();
  });
  socket.on('publish', (name: unknown, data: unknown, ack?: unknown) => {
    if (typeof name === 'string') socket.to(name).emit('msg', data);
    if (typeof ack === 'function') ack();
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  const address = httpServer.address();
  const real = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening on ws://127.0.0.1:${real}/\n`);
});

const stop = (): void => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
