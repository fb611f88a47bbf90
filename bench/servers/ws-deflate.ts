/**
 * ws-deflate is the `ws` echo server of the permessage-deflate benchmark (bench/deflate.ts):
 * `perMessageDeflate: true`, i.e. ws's defaults for it (level 6, memLevel 8, threshold
 * 1024, 15-bit windows, context takeover unless the client offers otherwise, at most 10
 * concurrent zlib jobs), and ws's defaults otherwise.
 *   node build/bench/servers/ws-deflate.js [--port P]
 * Ready line and shutdown as `duplex echo` (bench/lib/ws-server.ts): `listening on
 * ws://127.0.0.1:P/`, SIGTERM closes every client with 1001 and exits 0.
 */
import { serveWs } from '../lib/ws-server.js';

serveWs({ perMessageDeflate: true }, (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
