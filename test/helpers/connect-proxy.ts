/**
 * connect-proxy is a minimal HTTP CONNECT proxy for the proxy tests (RFC 9110 9.3.6): it
 * checks Basic `Proxy-Authorization` (407 without the right one), records each tunnel asked
 * for, and keeps the bytes it relayed, so a test can show that TLS ran end to end through it.
 */
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

export interface ConnectProxy {
  /** The proxy URL with `user` (default: the right credentials) as its user info. */
  url(user?: string): string;
  /** Each CONNECT request: its target and its Proxy-Authorization header. */
  requests: { target: string; auth: string | undefined }[];
  /** Every byte relayed from the client to the server, after the CONNECT head. */
  relayed(): Buffer;
  close(): Promise<void>;
}

export async function startConnectProxy(credentials: string): Promise<ConnectProxy> {
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  const sockets = new Set<Socket>();
  const chunks: Buffer[] = [];
  const proxy: ConnectProxy = {
    url: (user = credentials) => `http://${user}@127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    relayed: () => Buffer.concat(chunks),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    const auth = req.headers['proxy-authorization'];
    proxy.requests.push({ target: req.url ?? '', auth });
    if (auth !== `Basic ${Buffer.from(credentials).toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(/:(?=\d+$)/);
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) {
        chunks.push(head);
        upstream.write(head);
      }
      client.on('data', (d: Buffer) => chunks.push(d));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return proxy;
}
