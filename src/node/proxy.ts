/**
 * HTTP proxies for the client: the tunnel of RFC 9110 9.3.6 (`CONNECT host:port`, with Basic
 * `Proxy-Authorization` from the proxy URL's user and password), plugged into the upgrade
 * request as node:http's `createConnection`, and the choice of a proxy from the environment
 * as curl makes it (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). TLS of a `wss:` URL runs end to end
 * with the server, inside the tunnel: the proxy sees only the host name and port.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { HandshakeError, InvalidArgumentError } from '../protocol/index.js';
import { TLS_OPTION_NAMES } from './option-names.js';

/**
 * proxyFromEnv picks the HTTP proxy for a WebSocket URL from environment variables, as curl
 * does: `https_proxy`/`HTTPS_PROXY` for `wss:`, `http_proxy`/`HTTP_PROXY` for `ws:` (the
 * lower-case name first), unless `no_proxy`/`NO_PROXY` names the host. NO_PROXY is a comma-
 * or space-separated list of host names (`example.com` also matches `api.example.com`, a
 * leading dot or `*.` is ignored) or IP addresses, optionally with `:port`, or `*` for every
 * host. Returns undefined when the connection goes direct; a proxy URL without a scheme is
 * taken as `http://`; any other scheme than http: throws InvalidArgumentError
 * (DUPLEX_INVALID_OPTION).
 */
export function proxyFromEnv(target: string | URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const url = new URL(String(target));
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const raw = secure ? (env['https_proxy'] ?? env['HTTPS_PROXY']) : (env['http_proxy'] ?? env['HTTP_PROXY']);
  if (!raw) return undefined;
  if (bypassed(url, secure, env['no_proxy'] ?? env['NO_PROXY'] ?? '')) return undefined;
  return parseProxyUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
}

/** parseProxyUrl checks a proxy URL: http: only (the tunnel to the proxy itself is plain TCP). */
export function parseProxyUrl(proxy: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(proxy));
  } catch {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `proxy is not a URL: ${JSON.stringify(String(proxy))}`,
      { option: 'proxy' },
    );
  }
  if (url.protocol !== 'http:') {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `proxy: only http:// proxies are supported, got ${url.protocol}//`,
      { option: 'proxy' },
    );
  }
  return url;
}

function bypassed(target: URL, secure: boolean, noProxy: string): boolean {
  const host = stripBrackets(target.hostname).toLowerCase();
  const port = target.port || (secure ? '443' : '80');
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

/** Largest CONNECT response head accepted from a proxy. */
const MAX_PROXY_HEAD = 16 * 1024;

/**
 * openTunnel asks an HTTP proxy for a tunnel to host:port, with Basic authorization when the
 * proxy URL carries a user or password, and resolves with the connected socket once the
 * proxy answered 2xx (bytes after the answer stay in the socket). Any other answer rejects
 * with a HandshakeError DUPLEX_HANDSHAKE_PROXY_REFUSED carrying the proxy's status; a socket
 * error, an early close, an oversized answer or `timeoutMs` without one reject with
 * DUPLEX_HANDSHAKE_PROXY_FAILED.
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
    const fail = (message: string, status?: number): void => {
      clearTimeout(timer);
      socket.destroy();
      const code = status === undefined ? 'DUPLEX_HANDSHAKE_PROXY_FAILED' : 'DUPLEX_HANDSHAKE_PROXY_REFUSED';
      reject(new HandshakeError(code, message, { status }));
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

/** CreateConnection is node:http's `createConnection` option with an asynchronous result. */
export type CreateConnection = (
  options: object,
  callback: (error: Error | null, socket: Duplex) => void,
) => undefined;

/**
 * proxyConnection makes the `createConnection` of one upgrade request to `target` through
 * `proxy`: it opens the tunnel and, for `wss:`, starts TLS inside it with the request's TLS
 * options (the server name is the target's host unless `servername` is given, and the
 * certificate is checked against it).
 */
export function proxyConnection(proxy: URL, target: URL, timeoutMs: number): CreateConnection {
  const host = stripBrackets(target.hostname);
  const secure = target.protocol === 'wss:';
  const port = Number(target.port || (secure ? 443 : 80));
  return (options, callback) => {
    openTunnel(proxy, host, port, timeoutMs).then(
      (socket) => {
        socket.setNoDelay(true);
        if (!secure) {
          socket.resume();
          callback(null, socket);
          return;
        }
        const tls: ConnectionOptions = { socket, host };
        for (const name of TLS_OPTION_NAMES) {
          const value = (options as Record<string, unknown>)[name];
          if (value !== undefined) (tls as Record<string, unknown>)[name] = value;
        }
        if (tls.servername === undefined && isIP(host) === 0) tls.servername = host;
        const secureSocket = tlsConnect(tls);
        // node:http listens for errors once it has the socket; a TLS failure before that
        // (a bad certificate) is its first event, so the socket goes to it at once.
        callback(null, secureSocket);
      },
      (error: unknown) => callback(error as Error, undefined as unknown as Duplex),
    );
    return undefined;
  };
}
