/**
 * serveWs runs a `ws` WebSocketServer as the benchmark harnesses expect of every server they
 * start (bench/servers/ws.ts, bench/servers/ws-deflate.ts): on 127.0.0.1 at `--port P` (9001
 * unless given; 0 picks a free port), the ready line of `duplex echo` once listening
 * (`listening on ws://127.0.0.1:P/`), and on SIGTERM or SIGINT every client closed with 1001
 * and exit 0, bounded at 2 s.
 */
import { type WebSocket, WebSocketServer } from 'ws';

export function serveWs(
  options: { perMessageDeflate: boolean },
  onConnection: (ws: WebSocket, wss: WebSocketServer) => void,
): WebSocketServer {
  const portIndex = process.argv.indexOf('--port');
  const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;
  const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: options.perMessageDeflate });
  wss.on('connection', (ws) => onConnection(ws, wss));
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
  return wss;
}
