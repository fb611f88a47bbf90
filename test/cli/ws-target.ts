/**
 * ws-target is an independent `ws` server for the CLI tests, with one behaviour per path:
 * `/echo` echoes, `/hello` reports the request (headers, subprotocol) as one JSON message,
 * `/close/CODE` closes with CODE at the first message, `/drop` destroys TCP at the first
 * message, `/refuse` is refused with 401, `/flaky` closes every connection with 1012 at
 * its first message and counts connections, `/ping-echo` echoes and pings the client at
 * once and at every message, counting the pongs and keeping the close codes.
 * Plain ws:// or, given a certificate, wss://.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface WsTarget {
  port: number;
  url(path: string, host?: string): string;
  connections: number;
  /** Every text message received, on any path, in arrival order. */
  received: string[];
  /** Pongs received on `/ping-echo`. */
  pongs: number;
  /** The close codes clients sent on `/ping-echo`, in order. */
  closeCodes: number[];
  close(): Promise<void>;
}

export async function startWsTarget(tls?: { key: string; cert: string }): Promise<WsTarget> {
  const server: Server = tls ? createHttpsServer(tls) : createHttpServer();
  const wss = new WebSocketServer({
    server,
    verifyClient: (info: { req: { url?: string } }) => !info.req.url?.startsWith('/refuse'),
    handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  const target: WsTarget = {
    port: 0,
    connections: 0,
    received: [],
    pongs: 0,
    closeCodes: [],
    url: (path, host = '127.0.0.1') => `${tls ? 'wss' : 'ws'}://${host}:${target.port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
  wss.on('connection', (ws, req) => {
    target.connections++;
    const path = req.url ?? '/';
    if (path === '/ping-echo') {
      ws.on('close', (code) => target.closeCodes.push(code));
      ws.on('pong', () => target.pongs++);
      ws.ping('p');
    }
    if (path === '/hello') {
      ws.send(
        JSON.stringify({
          test: req.headers['x-test'] ?? null,
          origin: req.headers.origin ?? null,
          host: req.headers.host ?? null,
          protocol: ws.protocol,
        }),
      );
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary) target.received.push(String(data));
      if (path === '/echo' || path === '/hello') ws.send(data, { binary: isBinary });
      else if (path === '/ping-echo') {
        ws.ping('p');
        ws.send(data, { binary: isBinary });
      } else if (path.startsWith('/close/')) ws.close(Number(path.slice(7)), 'bye');
      else if (path === '/drop') ws.terminate();
      else if (path === '/flaky') ws.close(1012, 'restarting');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.port = (server.address() as AddressInfo).port;
  return target;
}
