import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Broker, type BrokerState, Hub, memoryBroker } from '../hub/index.js';
import { WebSocketServer } from '../node/server.js';
import { formatHost } from './lifecycle.js';
import {
  DEMO_CHANNELS,
  DEMO_HISTORY,
  DemoRooms,
  demoAuthenticate,
  registerDemoMethods,
  startMarket,
} from './serve-demo.js';
import { createServeMetrics, type Endpoint, ServeMeters } from './serve-metrics.js';

export { DEMO_HISTORY };

/** ServeOptions are the flags of `duplex serve`. */
export interface ServeOptions {
  host: string;
  port: number;
  redis: string | undefined;
  /** Limits given by flags, over serveLimits(host). */
  limits?: ServeLimitFlags;
}

/** ServeLimitFlags are the connection limits a command line may set (each overrides the default). */
export type ServeLimitFlags = Partial<ServeLimits>;

/** SHUTDOWN_DEADLINE_MS bounds how long a stopping process waits for its clients to go. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/** RESTART_RETRY_MS is the retry hint sent with 1012; each client gets it plus a random share of RESTART_JITTER_MS (and its own backoff jitter on top). */
export const RESTART_RETRY_MS = 1_000;
export const RESTART_JITTER_MS = 1_000;

/** ServeLimits are the connection limits `duplex serve` gives each of its WebSocketServers. */
export interface ServeLimits {
  maxConnections: number;
  maxConnectionsPerAddress?: number;
  handshakeRate?: { perSecond: number; burst: number };
}

/**
 * serveLimits are the connection limits of `duplex serve`, as defaults in code (the contract
 * has no flags for them): at most 10,000 connections on each endpoint (/hub, /echo); when it
 * listens beyond loopback, also at most 256 per client address and 20 handshakes per second
 * per address in bursts of 50. On loopback every client shares one address (a local test, or
 * a reverse proxy in front, which then owns per-address limits), so those stay off there.
 */
export function serveLimits(host: string): ServeLimits {
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (loopback) return { maxConnections: 10_000 };
  return {
    maxConnections: 10_000,
    maxConnectionsPerAddress: 256,
    handshakeRate: { perSecond: 20, burst: 50 },
  };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * uplotFile finds a file of uPlot (a dependency) wherever npm installed it: the dashboard's
 * charts come from this server, never from a CDN.
 */
function uplotFile(name: string): string {
  try {
    return require.resolve(`uplot/dist/${name}`);
  } catch {
    return `${ROOT}node_modules/uplot/dist/${name}`;
  }
}

/** STATIC maps each path `duplex serve` answers with a file to the file (absolute, or under ROOT) and its type. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'apps/chat/index.html', type: 'text/html; charset=utf-8' },
  '/chat.js': { file: 'apps/chat/chat.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard': { file: 'apps/dashboard/index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'apps/dashboard/dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/apps.css': { file: 'apps/apps.css', type: 'text/css; charset=utf-8' },
  '/vendor/uplot.js': { file: uplotFile('uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uplot.css': { file: uplotFile('uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/duplex-client.js': { file: 'dist/duplex-client.js', type: 'text/javascript; charset=utf-8' },
  '/duplex-client.js.map': { file: 'dist/duplex-client.js.map', type: 'application/json' },
};

/**
 * runServe starts the `duplex serve` contract: one HTTP server with the hub at /hub, an echo
 * endpoint at /echo, the apps at / and /dashboard, the client bundle at /duplex-client.js and
 * Prometheus metrics at /metrics. Its demo policy lets anonymous clients subscribe, publish and
 * read presence and history on every channel; the RPC method `echo` returns its params.
 * SIGINT/SIGTERM: new upgrades get 503, hub clients are closed with 1012 and a retry hint, and
 * the process exits 0 once they are gone, or at the deadline.
 */
export async function runServe(options: ServeOptions): Promise<void> {
  const broker = options.redis === undefined ? memoryBroker() : await connectRedis(options.redis);
  const meters = new ServeMeters();
  const limits: ServeLimits = { ...serveLimits(options.host), ...options.limits };
  const { hub, brokerState } = createDemoHub(meters.broker(broker), options.redis !== undefined, limits);
  registerDemoMethods(hub, new DemoRooms(), brokerState, meters.timed);
  const stopMarket = startMarket(hub);
  const echo = createEcho(limits);
  const metrics = createServeMetrics({ hub, echo, meters, brokerUp: () => brokerState() === 'up' });

  let stopping = false;
  const http = createServer((req, res) => {
    handleRequest(req, res, metrics).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req);
    const endpoint: Endpoint = path === '/hub' ? 'hub' : path === '/echo' ? 'echo' : 'other';
    metrics.meters.upgrade(endpoint);
    if (stopping) {
      metrics.meters.refused(endpoint, { code: 'DUPLEX_HANDSHAKE_SHUTTING_DOWN', status: 503 });
      return refuse(socket, 503, 'Service Unavailable', { 'retry-after': '1' });
    }
    if (path === '/hub') return hub.handleUpgrade(req, socket, head);
    if (path === '/echo')
      return echo.handleUpgrade(req, socket, head, (ws) => echo.emit('connection', ws, req));
    metrics.meters.refused(endpoint, { code: 'DUPLEX_HANDSHAKE_NOT_FOUND', status: 404 });
    refuse(socket, 404, 'Not Found');
  });
  http.on('error', (error) => {
    process.stderr.write(`duplex serve: ${error.message}\n`);
    process.exit(1);
  });
  http.listen(options.port, options.host, () => {
    const address = http.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    process.stdout.write(`listening on http://${formatHost(options.host)}:${port}/\n`);
  });

  const stop = (): void => {
    if (stopping) process.exit(0);
    stopping = true;
    stopMarket();
    const deadline = setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    // The listener stays open until exit so that new upgrades get a clear 503, not a refused
    // connection: a load balancer then moves them to another process.
    http.closeIdleConnections();
    Promise.allSettled([
      hub.close({ restart: true, retryAfterMs: RESTART_RETRY_MS, retryJitterMs: RESTART_JITTER_MS }),
      echo.close(),
    ])
      .then(() => broker.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * connectRedis loads the Redis broker (and with it ioredis, an optional dependency) only when
 * `--redis` is given, and waits a little for Redis: an unreachable Redis is reported but is not
 * fatal, the broker keeps reconnecting and requests fail retryably meanwhile (docs/redis.md).
 */
async function connectRedis(url: string): Promise<Broker> {
  let mod: typeof import('../redis/index.js');
  try {
    mod = await import('../redis/index.js');
  } catch (error) {
    process.stderr.write(
      `duplex serve: --redis needs the optional dependency ioredis (npm install ioredis): ${String(error)}\n`,
    );
    process.exit(1);
  }
  let broker: ReturnType<typeof mod.redisBroker>;
  try {
    broker = mod.redisBroker({ url });
  } catch (error) {
    process.stderr.write(
      `duplex serve: --redis ${url}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
  await broker.ready(5_000).catch(() => {
    process.stderr.write(`duplex serve: redis at ${url} is not reachable yet; retrying in the background\n`);
  });
  return broker;
}

/**
 * createDemoHub makes the hub of `duplex serve` with the contract's demo policy: anonymous
 * clients may subscribe, publish, and read presence and history on every channel; a client
 * that sends a display name as its token is that user (presence lists users, so the chat needs
 * names). The channel policies (typing never stored, the market conflated) are DEMO_CHANNELS.
 */
function createDemoHub(
  broker: Broker,
  logBroker: boolean,
  limits: ServeLimits,
): { hub: Hub; brokerState: () => BrokerState } {
  const hub = new Hub({
    noServer: true,
    websocket: limits,
    broker,
    channels: DEMO_CHANNELS,
    authenticate: demoAuthenticate,
    authorize: () => true,
  });
  let state: BrokerState = 'up';
  hub.on('broker', (s) => {
    state = s;
    if (logBroker) process.stderr.write(`duplex serve: redis broker ${s}\n`);
  });
  // With a listener the hub no longer prints its errors itself: keep them visible.
  hub.on('error', (error) => console.error('duplex hub:', error));
  return { hub, brokerState: () => state };
}

/** createEcho makes the /echo endpoint: each message comes back as it came. */
function createEcho(limits: ServeLimits): WebSocketServer {
  const echo = new WebSocketServer({ noServer: true, dangerouslyAllowAnyOrigin: true, ...limits });
  echo.on('connection', (ws) => {
    ws.addEventListener('message', (event) => ws.send(event.data));
  });
  return echo;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: ReturnType<typeof createServeMetrics>,
): Promise<void> {
  const path = pathOf(req);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/favicon.ico') {
    // Browsers ask for it on every page; no icon is no error.
    res.writeHead(204, { 'cache-control': 'max-age=86400' });
    res.end();
    return;
  }
  const entry = STATIC[path];
  if (entry === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  let body: Buffer;
  try {
    body = await readFile(isAbsolute(entry.file) ? entry.file : ROOT + entry.file);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`${entry.file} is missing: run npm run build\n`);
    return;
  }
  res.writeHead(200, {
    'content-type': entry.type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** refuse answers an upgrade with an HTTP error and closes the socket. */
function refuse(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  const lines = [`HTTP/1.1 ${status} ${text}`, 'connection: close', 'content-length: 0'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}
