/**
 * stall-echo is the echo server of the large-message benchmark (bench/deflate-stall.ts):
 * permessage-deflate on, every message echoed, and the event loop's delay sampled every
 * millisecond with perf_hooks.monitorEventLoopDelay. A line `reset` on stdin clears the
 * histogram, `report` prints it as one JSON line ({"type":"delay","p50_ms",...}).
 *
 *   node build/bench/servers/stall-echo.js --impl duplex|ws [--async-threshold BYTES] [--port P]
 *
 * `--impl duplex` is Duplex's WebSocketServer with its defaults but `asyncThreshold` (give
 * 9007199254740991 for the synchronous path everywhere, as before); `--impl ws` is ws with
 * `perMessageDeflate: true`. Both accept 64 MiB messages. Ready line and shutdown as `duplex
 * echo`: `listening on ws://127.0.0.1:P/`, SIGTERM exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocketServer } from 'duplexjs';
import { WebSocketServer as WsServer } from 'ws';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const impl = arg('--impl') ?? 'duplex';
const port = Number(arg('--port') ?? 0);
const MAX = 64 * 1024 * 1024;

const ready = (real: number): void => {
  process.stdout.write(`listening on ws://127.0.0.1:${real}/\n`);
};

if (impl === 'ws') {
  const wss = new WsServer({ host: '127.0.0.1', port, perMessageDeflate: true, maxPayload: MAX });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => ready((wss.address() as { port: number }).port));
} else {
  const threshold = arg('--async-threshold');
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    maxPayload: MAX,
    perMessageDeflate: threshold === undefined ? true : { asyncThreshold: Number(threshold) },
  });
  wss.on('connection', (ws) => ws.addEventListener('message', (e) => ws.send(e.data as string | Buffer)));
  wss.on('listening', () => ready((wss.address() as { port: number }).port));
}

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let rest = '';
process.stdin.setEncoding('utf8').on('data', (d: string) => {
  rest += d;
  let nl = rest.indexOf('\n');
  while (nl >= 0) {
    const line = rest.slice(0, nl).trim();
    rest = rest.slice(nl + 1);
    if (line === 'reset') delay.reset();
    else if (line === 'report') {
      const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
      process.stdout.write(
        `${JSON.stringify({
          type: 'delay',
          p50_ms: ms(delay.percentile(50)),
          p99_ms: ms(delay.percentile(99)),
          max_ms: ms(delay.max),
          mean_ms: ms(delay.mean),
        })}\n`,
      );
    }
    nl = rest.indexOf('\n');
  }
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
setTimeout(() => process.exit(4), 20 * 60_000).unref();
