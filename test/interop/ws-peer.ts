// The `ws` npm package as an interop peer: its client against Duplex servers, its server against
// the Duplex client.

import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import {
  type ClientOptions,
  type PerMessageDeflateOptions,
  WebSocketServer as WsServer,
  WebSocket as WsSocket,
} from 'ws';
import { type Endpoint, EventLog, messageOf, type Observed, withTimeout } from './endpoint.js';
import { CHOSEN_PROTOCOL } from './payloads.js';

/** wsEndpoint wraps an open `ws` socket (either end). */
export function wsEndpoint(name: string, ws: WsSocket): Endpoint {
  const events = new EventLog<Observed>();
  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    events.push(isBinary ? messageOf('binary', buf) : messageOf('text', buf.toString('utf8')));
  });
  ws.on('pong', (data) => events.push({ kind: 'pong', data: Buffer.from(data) }));
  ws.on('close', (code, reason) => events.push({ kind: 'close', code, reason: reason.toString('utf8') }));
  ws.on('error', (err) => events.push({ kind: 'error', message: String(err) }));
  const sent = (send: (cb: (err?: Error) => void) => void) =>
    new Promise<void>((resolve, reject) => send((err) => (err ? reject(err) : resolve())));
  return {
    name,
    events,
    protocol: ws.protocol,
    extensions: ws.extensions,
    sendText: (text) => sent((cb) => ws.send(text, cb)),
    sendBinary: (data) => sent((cb) => ws.send(data, { binary: true }, cb)),
    ping: (data) => sent((cb) => ws.ping(data, undefined, cb)),
    close: async (code, reason) => ws.close(code, reason),
    dispose: async () => ws.terminate(),
  };
}

/** openWsClient connects a `ws` client and waits for the handshake. */
export async function openWsClient(
  url: string,
  protocols: string[],
  ca?: string,
  options: Pick<ClientOptions, 'perMessageDeflate'> = {},
): Promise<Endpoint> {
  const ws = new WsSocket(url, protocols, {
    ca,
    handshakeTimeout: 10_000,
    maxPayload: 16 * 1024 * 1024,
    ...options,
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`HTTP ${res.statusCode} from the server`)),
      );
    }),
    15_000,
    `ws client connecting to ${url}`,
  );
  return wsEndpoint('ws client', ws);
}

/** WsPeerServer is a `ws` server attached to an http(s) server; it picks CHOSEN_PROTOCOL. */
export class WsPeerServer {
  readonly wss: WsServer;
  readonly connections = new EventLog<{ endpoint: Endpoint; offered: string[]; socket: Socket }>();

  /** `perMessageDeflate` is ws's server option (off by default in ws). */
  constructor(server: HttpServer, perMessageDeflate: boolean | PerMessageDeflateOptions = false) {
    this.wss = new WsServer({
      server,
      maxPayload: 16 * 1024 * 1024,
      perMessageDeflate,
      handleProtocols: (protocols) => (protocols.has(CHOSEN_PROTOCOL) ? CHOSEN_PROTOCOL : false),
    });
    this.wss.on('connection', (ws, req) => {
      const offered = (req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      this.connections.push({ endpoint: wsEndpoint('ws server', ws), offered, socket: req.socket });
    });
  }

  nextConnection(): Promise<{ endpoint: Endpoint; offered: string[]; socket: Socket }> {
    return this.connections.take(() => true, 'a connection on the ws server');
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
