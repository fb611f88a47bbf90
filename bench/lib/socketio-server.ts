/**
 * socketio-server is the Socket.IO 4 server that bench/servers/socketio.ts (in-memory adapter)
 * and bench/servers/socketio-redis.ts (Redis adapter) serve, configured as those files
 * document. The two differ only in the adapter.
 */
import http from 'node:http';
import { Server, type ServerOptions } from 'socket.io';

/**
 * serveSocketIo listens on `port` (0: any free port) on 127.0.0.1 and prints the ready line
 * `listening on ws://127.0.0.1:P/`. SIGTERM or SIGINT disconnects every client and exits 0,
 * bounded at 2 s. Without `adapter`, Socket.IO's default (in-memory) adapter.
 */
export function serveSocketIo(port: number, adapter?: ServerOptions['adapter']): void {
  const httpServer = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const io = new Server(httpServer, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    ...(adapter ? { adapter } : {}),
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
}
