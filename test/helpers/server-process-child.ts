/**
 * server-process-child is the child of server-process.ts: an echo WebSocketServer at /echo
 * and a Hub at /hub on one HTTP server on 127.0.0.1. It reports its port over IPC, then
 * answers memory requests. Uncaught exceptions and unhandled rejections are printed and
 * counted in every answer (`unhandled`), so a test can require none.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocketServer } from 'duplexjs';
import { Hub, memoryBroker } from 'duplexjs/hub';
import { retained } from './memory.js';

let unhandled = 0;
process.on('uncaughtException', (error) => {
  unhandled++;
  console.error('uncaughtException', error);
});
process.on('unhandledRejection', (error) => {
  unhandled++;
  console.error('unhandledRejection', error);
});

const options = JSON.parse(process.argv[2] ?? '{}') as {
  echo?: Record<string, unknown>;
  hubLimits?: Record<string, unknown>;
};
const http = createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const echo = new WebSocketServer({ noServer: true, ...options.echo });
echo.on('connection', (ws) => {
  ws.addEventListener('message', (event) => {
    ws.send(event.data as string | Buffer);
  });
  ws.addEventListener('error', () => {});
});
echo.on('error', (error) => console.error('echo error', error));
const hub = new Hub({
  noServer: true,
  broker: memoryBroker(),
  authorize: () => true,
  ...(options.hubLimits ? { limits: options.hubLimits } : {}),
});
hub.method('echo', async (params) => params);
hub.on('error', () => {});
http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  if (req.url?.startsWith('/hub')) hub.handleUpgrade(req, socket, head);
  else echo.handleUpgrade(req, socket, head, (ws) => echo.emit('connection', ws, req));
});
http.listen(0, '127.0.0.1', () => {
  process.send!({ port: (http.address() as AddressInfo).port });
});
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
process.on('message', (m: { type: string; id: number }) => {
  if (m.type !== 'mem') return;
  // The longest delay since the last answer, read before this answer's own full GC.
  const loopDelayMaxMs = loopDelay.max / 1e6;
  const r = retained();
  loopDelay.reset();
  const stats = hub.stats() as { connections?: number };
  process.send!({
    id: m.id,
    retained: r,
    rss: process.memoryUsage().rss,
    echoClients: echo.clients.size,
    hubClients: stats.connections ?? 0,
    loopDelayMaxMs,
    unhandled,
  });
});
process.on('disconnect', () => process.exit(0));
