/**
 * The node:net floor: no WebSocket at all, so every figure above it is the cost of the
 * WebSocket layer. Driven with the generator's `--raw` mode (frames with the same header
 * layout, unmasked, no handshake).
 *   node build/bench/servers/raw.js echo|relay|relay-batched [--port P]
 * `echo` writes every chunk back as it arrives; `relay` writes every chunk one connection
 * sends to all the others, one write per socket per chunk; `relay-batched` collects the
 * chunks of one event-loop turn and writes them once per socket per turn.
 */
import net from 'node:net';

const mode = process.argv[2];
const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;
if (mode !== 'echo' && mode !== 'relay' && mode !== 'relay-batched') {
  process.stderr.write('usage: raw.js echo|relay|relay-batched [--port P]\n');
  process.exit(2);
}

const sockets = new Set<net.Socket>();
let pending: { from: net.Socket; chunk: Buffer }[] = [];

function flush(): void {
  const batch = pending;
  pending = [];
  for (const socket of sockets) {
    const parts = batch.filter((p) => p.from !== socket).map((p) => p.chunk);
    if (parts.length > 0) socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    if (mode === 'echo') socket.write(chunk);
    else if (mode === 'relay') {
      for (const other of sockets) if (other !== socket) other.write(chunk);
    } else {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ from: socket, chunk });
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const real = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening on ws://127.0.0.1:${real}/\n`);
});
const stop = (): void => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
