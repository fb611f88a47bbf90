/**
 * ws-deflate is the `ws` echo server of the permessage-deflate benchmark (bench/deflate.ts):
 * `perMessageDeflate: true`, i.e. ws's defaults for it (level 6, memLevel 8, threshold
 * 1024, 15-bit windows, context takeover unless the client offers otherwise, at most 10
 * concurrent zlib jobs), and ws's defaults otherwise.
 *   node build/bench/servers/ws-deflate.js [--port P]
 * Ready line and shutdown as `duplex echo`: `listening on ws://127.0.0.1:P/`, SIGTERM
 * closes every client with 1001 and exits 0.
 */
import { WebSocketServer } from 'ws';

const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: true });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
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
