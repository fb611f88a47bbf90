/**
 * The `ws` servers the benchmarks compare Duplex with, configured as `ws` users run them
 * (no permessage-deflate, ws's defaults otherwise):
 *   node build/bench/servers/ws.js echo|relay [--port P]
 * `echo` sends each message back with its type; `relay` is the equivalent of `duplex
 * broadcast`: it loops over its clients and sends each message to every other one.
 * Ready line and shutdown as `duplex echo`: `listening on ws://127.0.0.1:P/`, SIGTERM
 * closes every client with 1001 and exits 0.
 */
import { WebSocketServer } from 'ws';

const mode = process.argv[2];
const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;
if (mode !== 'echo' && mode !== 'relay') {
  process.stderr.write('usage: ws.js echo|relay [--port P]\n');
  process.exit(2);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === 1) client.send(data, { binary: isBinary });
      }
    });
  }
});
wss.on('listening', () => {
  const address = wss.address();
  const real = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening on ws://127.0.0.1:${real}/\n`);
});
const stop = (): void => {
  for (const client of wss.clients) client.close(1001, 'server shutting down');
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
