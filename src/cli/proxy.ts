import { createServer, isIP, connect as netConnect, type Socket } from 'node:net';

/**
 * proxyFor picks the HTTP proxy for a WebSocket URL from the environment, as curl does:
 * `https_proxy`/`HTTPS_PROXY` for wss:, `http_proxy`/`HTTP_PROXY` for ws: (the lower-case
 * name first), unless `no_proxy`/`NO_PROXY` names the host. NO_PROXY is a comma- or
 * space-separated list of host names (`example.com` also matches `api.example.com`, a
 * leading dot is ignored), optionally with `:port`, or `*` for every host. Returns undefined
 * when the connection goes direct.
 */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const raw = secure ? (env['https_proxy'] ?? env['HTTPS_PROXY']) : (env['http_proxy'] ?? env['HTTP_PROXY']);
  if (!raw) return undefined;
  if (bypassed(target, env['no_proxy'] ?? env['NO_PROXY'] ?? '')) return undefined;
  const proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  if (proxy.protocol !== 'http:') {
    throw new Error(`only http:// proxies are supported, got ${proxy.protocol}// in the environment`);
  }
  return proxy;
}

function bypassed(target: URL, noProxy: string): boolean {
  const host = stripBrackets(target.hostname).toLowerCase();
  const port = target.port || (target.protocol === 'wss:' ? '443' : '80');
  for (const entry of noProxy.split(/[\s,]+/)) {
    if (entry === '') continue;
    if (entry === '*') return true;
    let name = entry.toLowerCase();
    let wantPort: string | undefined;
    const m = /^(.*):(\d+)$/.exec(name);
    if (m && !name.endsWith(']') && (isIP(stripBrackets(m[1]!)) !== 0 || !m[1]!.includes(':'))) {
      name = m[1]!;
      wantPort = m[2];
    }
    name = stripBrackets(name.replace(/^\*?\./, ''));
    if (wantPort !== undefined && wantPort !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** ProxyError is a proxy that refused the CONNECT request or could not be reached. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  constructor(
    message: string,
    /** The proxy's HTTP status, 0 when it never answered. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** Largest CONNECT response head accepted from a proxy. */
const MAX_PROXY_HEAD = 16 * 1024;

/**
 * openTunnel asks an HTTP proxy for a tunnel to host:port (`CONNECT host:port HTTP/1.1`,
 * RFC 9110 9.3.6), with Basic authorization when the proxy URL carries a user and password,
 * and resolves with the connected socket once the proxy answered 2xx. Any other answer, a
 * socket error or `timeoutMs` without an answer rejects with a ProxyError.
 */
export function openTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<Socket> {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  const proxyName = `${proxy.hostname}:${proxy.port || 80}`;
  return new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host: stripBrackets(proxy.hostname), port: Number(proxy.port || 80) });
    let head = Buffer.alloc(0);
    const fail = (message: string, status = 0): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ProxyError(message, status));
    };
    const timer = setTimeout(
      () => fail(`proxy ${proxyName} gave no answer within ${timeoutMs} ms`),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEAD) fail(`proxy ${proxyName} sent an oversized response head`);
        return;
      }
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      const status = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(head.toString('latin1', 0, end));
      const code = status ? Number(status[1]) : 0;
      if (code < 200 || code > 299) {
        const what = status ? `${code}${status[2]}` : 'a response that is not HTTP';
        fail(`proxy ${proxyName} refused the tunnel to ${authority}: ${what}`, code);
        return;
      }
      clearTimeout(timer);
      const rest = head.subarray(end + 4);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (error: Error): void => fail(`cannot reach proxy ${proxyName}: ${error.message}`);
    const onClose = (): void => fail(`proxy ${proxyName} closed the connection before answering`);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** LoopbackTunnel is a one-connection listener on 127.0.0.1 that leads into a proxy tunnel. */
export interface LoopbackTunnel {
  port: number;
  close(): void;
}

/**
 * exposeOnLoopback makes an established tunnel reachable as `127.0.0.1:port`: the first
 * connection to that port is piped both ways into the tunnel, and the listener closes.
 *
 * It is the seam that lets `duplex connect` go through a proxy while the client `WebSocket`
 * has no option to take a ready socket (an `agent` or `createConnection`): the client
 * connects to the loopback port with the real Host header (and, for wss:, the real server
 * name), and TLS still runs end to end with the server. Once the client accepts a socket,
 * pass the tunnel to it directly and drop this.
 */
export function exposeOnLoopback(tunnel: Socket): Promise<LoopbackTunnel> {
  return new Promise((resolve, reject) => {
    const server = createServer((local) => {
      server.close();
      local.setNoDelay(true);
      tunnel.setNoDelay(true);
      local.pipe(tunnel);
      tunnel.pipe(local);
      tunnel.resume();
      // An error tears both down; an orderly end is passed on by pipe() (each side flushes
      // what it holds before its FIN), and a side that closed ends the other.
      const teardown = (): void => {
        local.destroy();
        tunnel.destroy();
      };
      local.on('error', teardown).on('close', () => tunnel.end());
      tunnel.on('error', teardown).on('close', () => local.end());
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () => {
          server.close();
          tunnel.destroy();
        },
      });
    });
  });
}
