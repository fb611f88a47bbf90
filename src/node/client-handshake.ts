import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import {
  clientRequestHeaders,
  type Extension,
  formatExtensionHeader,
  generateKey,
  HandshakeError,
  InvalidArgumentError,
  validateServerResponse,
} from '../protocol/index.js';
import { UnexpectedResponseError } from './errors.js';
import { acceptExtensions, offerExtensions } from './extensions.js';
import type { ResolvedClientOptions } from './options.js';
import { proxyConnection } from './proxy.js';

/** HandshakeOutcome is an upgraded socket with what the server agreed to. */
export interface HandshakeOutcome {
  socket: Socket;
  head: Buffer;
  protocol: string;
  /** The Sec-WebSocket-Extensions value of the response, '' for none. */
  extensions: string;
  /** The negotiated extensions, in the order of the response. */
  negotiated: Extension[];
  /** The 101 response (ws's `upgrade` event). */
  response: IncomingMessage;
  /** The URL that answered 101 (after redirects). */
  url: URL;
}

/** Largest part of a refusal body kept for UnexpectedResponseError. */
const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * parseWebSocketUrl applies the WHATWG URL rules of the WebSocket constructor: http and
 * https map to ws and wss, other schemes and fragments are refused.
 */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new InvalidArgumentError('DUPLEX_INVALID_URL', `invalid URL ${JSON.stringify(String(input))}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_URL',
      `URL scheme must be ws: or wss:, got ${url.protocol}`,
    );
  }
  if (url.hash !== '') {
    throw new InvalidArgumentError('DUPLEX_INVALID_URL', 'a WebSocket URL must not have a fragment');
  }
  return url;
}

/** HandshakeHooks report the steps of a client handshake that ws-style applications listen to. */
export interface HandshakeHooks {
  /** A 3xx answer is being followed (`followRedirects`): the new URL and the request that got the 3xx. */
  redirect(url: string, request: ClientRequest): void;
  /**
   * The server answered neither 101 nor a followed redirect. Returns true when the
   * application takes the response over (ws's `unexpected-response` listener): then no
   * UnexpectedResponseError is raised, and the handshake fails once the response is gone.
   */
  unexpectedResponse(request: ClientRequest, response: IncomingMessage): boolean;
}

/** CREDENTIAL_HEADERS are not sent on by a redirect that leaves the origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

/**
 * startClientHandshake opens the TCP (and TLS) connection and performs the opening
 * handshake of RFC 6455 section 4.1 through node:http's upgrade support. `done` is called
 * once: with the upgraded socket, or with the error that failed the handshake (a socket
 * error, an UnexpectedResponseError for a non-101 answer, a HandshakeError for a bad 101,
 * or DUPLEX_HANDSHAKE_TIMEOUT). The returned function aborts it. With `followRedirects`,
 * 3xx answers are followed (at most `maxRedirects`), all within the one `handshakeTimeout`.
 */
export function startClientHandshake(
  url: URL,
  protocols: string[],
  options: ResolvedClientOptions,
  done: (error: unknown, outcome?: HandshakeOutcome) => void,
  hooks?: HandshakeHooks,
): (error: Error) => void {
  const factories = options.extensions;
  const { maxRedirects, handshakeTimeout, proxy } = options;
  let finished = false;
  let req: ClientRequest | undefined;
  let redirects = 0;
  const finish = (error: unknown, outcome?: HandshakeOutcome): void => {
    if (finished) {
      outcome?.socket.destroy();
      return;
    }
    finished = true;
    options.clock.clearTimeout(timer);
    done(error, outcome);
  };
  const abort = (error: Error): void => {
    if (finished) return;
    req?.destroy();
    finish(error);
  };
  const timer = options.clock.setTimeout(
    () =>
      abort(
        new HandshakeError('DUPLEX_HANDSHAKE_TIMEOUT', `opening handshake took over ${handshakeTimeout} ms`),
      ),
    handshakeTimeout,
  );

  const attempt = (target: URL, headers: Record<string, string> | undefined, withUserInfo: boolean): void => {
    const key = generateKey();
    const secure = target.protocol === 'wss:';
    let request: ClientRequest;
    try {
      const requestOptions: RequestOptions = {
        method: 'GET',
        host: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
        port: target.port || (secure ? 443 : 80),
        path: target.pathname + target.search,
        headers: clientRequestHeaders({
          key,
          protocols,
          extensions: offerExtensions(factories),
          origin: options.origin,
          headers,
        }),
        // node:http makes a fresh agent for `false`, and then ignores createConnection.
        agent: options.agent ?? (options.createConnection || proxy ? undefined : false),
      };
      const createConnection = proxy
        ? proxyConnection(proxy, target, handshakeTimeout)
        : options.createConnection;
      if (createConnection) {
        (requestOptions as Record<string, unknown>)['createConnection'] = createConnection;
      }
      if (withUserInfo && (target.username || target.password)) {
        requestOptions.auth = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
      }
      if (secure) {
        Object.assign(requestOptions, options.tls);
      }
      request = secure ? httpsRequest(requestOptions) : httpRequest(requestOptions);
    } catch (error) {
      // Bad headers and the like: fail asynchronously, as a browser does.
      process.nextTick(() => finish(error));
      return;
    }
    req = request;

    request.on('error', (error) => {
      if (req === request) finish(error);
    });
    request.on('response', (res: IncomingMessage) => {
      if (finished || req !== request) {
        res.destroy();
        return;
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (options.followRedirects && status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        request.destroy();
        if (redirects >= maxRedirects) {
          finish(
            new HandshakeError(
              'DUPLEX_HANDSHAKE_TOO_MANY_REDIRECTS',
              `more than maxRedirects (${maxRedirects}) redirects`,
              { status },
            ),
          );
          return;
        }
        redirects++;
        let next: URL;
        try {
          next = parseWebSocketUrl(new URL(location, target));
        } catch (error) {
          finish(error);
          return;
        }
        const sameOrigin = webOrigin(next) === webOrigin(target);
        let nextHeaders = headers;
        if (!sameOrigin && headers) {
          nextHeaders = {};
          for (const [name, value] of Object.entries(headers)) {
            if (!CREDENTIAL_HEADERS.has(name.toLowerCase())) nextHeaders[name] = value;
          }
        }
        hooks?.redirect(next.href, request);
        if (!finished) attempt(next, nextHeaders, withUserInfo && sameOrigin);
        return;
      }
      if (hooks?.unexpectedResponse(request, res)) {
        const gone = () =>
          finish(
            new HandshakeError(
              'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS',
              `server answered ${status} instead of 101`,
              { status },
            ),
          );
        res.on('close', gone);
        request.on('close', gone);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const refuse = () => {
        const body = Buffer.concat(chunks).toString('utf8');
        res.destroy();
        finish(new UnexpectedResponseError({ status, body, responseHeaders: res.headers }));
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_REFUSAL_BODY) return;
        chunks.push(chunk.subarray(0, MAX_REFUSAL_BODY - size));
        size += chunk.length;
        if (size >= MAX_REFUSAL_BODY) refuse();
      });
      res.on('end', refuse);
      res.on('error', refuse);
    });
    request.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      try {
        const agreed = validateServerResponse(
          { statusCode: res.statusCode ?? 0, headers: res.headers },
          { key, protocols, extensionsOffered: factories.map((f) => f.name) },
        );
        const negotiated = acceptExtensions(factories, agreed.extensions);
        finish(null, {
          socket,
          head,
          protocol: agreed.protocol,
          extensions: formatExtensionHeader(agreed.extensions),
          negotiated,
          response: res,
          url: target,
        });
      } catch (error) {
        socket.destroy();
        finish(error);
      }
    });
    request.end();
  };

  attempt(url, options.headers, true);
  return abort;
}

/** webOrigin is a URL's scheme, host and port, with ws: and wss: counted as http: and https:. */
function webOrigin(url: URL): string {
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  return `${secure ? 'https' : 'http'}://${url.hostname}:${url.port || (secure ? 443 : 80)}`;
}
