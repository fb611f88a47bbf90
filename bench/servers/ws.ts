/**
 * The `ws` servers the benchmarks compare Duplex with, configured as `ws` users run them
 * (no permessage-deflate, ws's defaults otherwise):
 *   node build/bench/servers/ws.js echo|relay [--port P]
 * `echo` sends each message back with its type; `relay` is the equivalent of `duplex
 * broadcast`: it loops over its clients and sends each message to every other one.
 * Ready line and shutdown as `duplex echo` (bench/lib/ws-server.ts): `listening on
 * ws://127.0.0.1:P/`, SIGTERM closes every client with 1001 and exits 0.
 */
import { serveWs } from '../lib/ws-server.js';

const mode = process.argv[2];
if (mode !== 'echo' && mode !== 'relay') {
  process.stderr.write('usage: ws.js echo|relay [--port P]\n');
  process.exit(2);
}

serveWs({ perMessageDeflate: false }, (ws, wss) => {
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
