/**
 * The node:net floor: no WebSocket at all, so every figure above it is the cost of the
 * WebSocket layer. Driven with the generator's `--raw` mode (frames with the same header
 * layout, unmasked, no handshake).
 *   node build/bench/servers/raw.js echo|relay|relay-batched [--port P] [--cert FILE --key FILE]
 * `echo` writes every chunk back as it arrives; `relay` writes every chunk one connection
 * sends to all the others, one write per socket per chunk; `relay-batched` collects the
 * chunks of one event-loop turn and writes them once per socket per turn.
 * With `--cert` and `--key` it listens with node:tls instead (the `wss` row's floor: what
 * any library on a node:tls socket pays before its own work), ready line `wss://`. With
 * `--handle` as well (echo only) each TLS connection's TLSWrap is driven directly once its
 * handshake is done (src/cli/bench-handle.ts, as Duplex's src/node/tls-wire.ts does): the
 * floor of Duplex's TLS path, which skips the TLSSocket's Readable and Writable.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { adoptBenchTls, type BenchHandle } from '#bench-handle';

const mode = process.argv[2];
const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;
const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const certFile = arg('--cert');
const keyFile = arg('--key');
const secure = certFile !== undefined && keyFile !== undefined;
const handlePath = process.argv.includes('--handle');
if (handlePath && (!secure || mode !== 'echo')) {
  process.stderr.write('raw.js: --handle needs echo with --cert and --key\n');
  process.exit(2);
}

/** echoHandle moves a TLS connection to its TLSWrap and echoes what it reads there. */
function echoHandle(socket: tls.TLSSocket): boolean {
  let io: BenchHandle | undefined;
  io = adoptBenchTls(socket, {
    handleRead: (n, buffer, offset) => io?.write(Buffer.from(buffer!, offset, n)),
    handleFailed: () => io?.close(),
  });
  if (io === undefined) return false;
  // onWriteDone (bench-handle) sends what queued behind the write in flight.
  return true;
}
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

const onSocket = (socket: net.Socket): void => {
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
};
const server = secure
  ? tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) => {
      socket.setNoDelay(true);
      if (handlePath) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        if (echoHandle(socket)) return;
        process.stderr.write('raw.js: the TLSWrap could not be adopted; exiting\n');
        process.exit(1);
      }
      onSocket(socket);
    })
  : net.createServer({ noDelay: true }, onSocket);
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const real = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening on ${secure ? 'wss' : 'ws'}://127.0.0.1:${real}/\n`);
});
const stop = (): void => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
