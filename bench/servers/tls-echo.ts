/**
 * The echo servers of the `wss` scenario: echo over TLS, Duplex beside ws 8, both on a
 * node:https server with the same certificate (made at bench time, bench/lib/cert.ts), no
 * permessage-deflate, each message sent back with its type. Both run the same handler, ws's
 * `ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))` (Duplex is a
 * drop-in for it); `duplex --whatwg` runs Duplex's WHATWG form instead
 * (`addEventListener('message', (e) => ws.send(e.data))`, text decoded to a string and
 * encoded back), the row's second Duplex figure.
 *   node build/bench/servers/tls-echo.js duplex|ws --cert FILE --key FILE [--port P] [--whatwg]
 * A TLS connection takes Duplex's TLS handle path (src/node/tls-wire.ts: its TLSWrap driven
 * directly after the upgrade), so this row measures that path (DUPLEX_STREAM_IO=1 in the
 * server's environment measures the stream path instead). Ready line as `duplex echo` but with the scheme:
 * `listening on wss://127.0.0.1:P/`; SIGTERM or SIGINT closes every client with 1001 and exits
 * 0, bounded at 2 s.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer } from 'duplexjs';
import { WebSocketServer as WsServer } from 'ws';

const which = process.argv[2];
const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const certFile = arg('--cert');
const keyFile = arg('--key');
if ((which !== 'duplex' && which !== 'ws') || !certFile || !keyFile) {
  process.stderr.write('usage: tls-echo.js duplex|ws --cert FILE --key FILE [--port P]\n');
  process.exit(2);
}
const port = Number(arg('--port') ?? 9443);

const server = https.createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile) },
  (_req, res) => {
    res.writeHead(404).end();
  },
);

let closeAll: () => void;
if (which === 'duplex') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false, dangerouslyAllowAnyOrigin: true });
  if (process.argv.includes('--whatwg'))
    wss.on('connection', (ws) => {
      ws.addEventListener('message', (event) => ws.send(event.data));
    });
  else
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  closeAll = () => {
    for (const client of wss.clients) client.close(1001, 'server shutting down');
  };
} else {
  const wss = new WsServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  closeAll = () => {
    for (const client of wss.clients) client.close(1001, 'server shutting down');
  };
}

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const real = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening on wss://127.0.0.1:${real}/\n`);
});

const stop = (): void => {
  setTimeout(() => process.exit(0), 2000).unref();
  closeAll();
  server.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
