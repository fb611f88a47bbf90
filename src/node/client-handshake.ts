import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import {
  acceptDeflateResponse,
  clientRequestHeaders,
  type DeflateParams,
  type ExtensionOffer,
  formatExtensionHeader,
  generateKey,
  HandshakeError,
  InvalidArgumentError,
  offerDeflate,
  type PerMessageDeflateOptions,
  validateServerResponse,
} from '../protocol/index.js';
import { UnexpectedResponseError } from './errors.js';
import { TLS_OPTION_NAMES } from './option-names.js';
import type { ResolvedSocketOptions, WebSocketOptions } from './options.js';

/** HandshakeOutcome is an upgraded socket with what the server agreed to. */
export interface HandshakeOutcome {
  socket: Socket;
  head: Buffer;
  protocol: string;
  /** The Sec-WebSocket-Extensions value of the response, '' for none. */
  extensions: string;
  /** The permessage-deflate parameters the server agreed to, when it accepted our offer. */
  deflate: DeflateParams | undefined;
  /** The 101 response (ws's `upgrade` event). */
  response: IncomingMessage;
  /** The URL that answered 101 (after redirects). */
  url: URL;
}

const DEFLATE = 'permessage-deflate';

/**
 * acceptExtensions checks the extensions of a 101 response beyond what
 * validateServerResponse does (which refuses extensions we did not offer): RFC 7692 5
 * "the client MUST _Fail the WebSocket Connection_" on a permessage-deflate response it
 * cannot accept, and a response may name it at most once. The connection is not
 * established yet, so failing it sends no close frame: the application sees an `error`
 * and a `close` with 1006. (1010 is for a client that required an extension the server
 * did not return, RFC 6455 7.4.1; Duplex never requires one.)
 */
function acceptExtensions(
  extensions: ExtensionOffer[],
  deflate: PerMessageDeflateOptions | false,
): DeflateParams | undefined {
  const ours = extensions.filter((e) => e.name.toLowerCase() === DEFLATE);
  if (ours.length === 0) return undefined;
  if (deflate === false || ours.length > 1) {
    throw new HandshakeError(
      'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
      `server answered with extensions we cannot use: ${formatExtensionHeader(extensions)}`,
      undefined,
    );
  }
  return acceptDeflateResponse(ours[0] as ExtensionOffer, deflate);
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

/** HEADER_NAME is an HTTP token (RFC 9110 5.1); HEADER_VALUE bans CR, LF and NUL, which would split the request. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;

/**
 * checkRequestHeaders throws DUPLEX_INVALID_HEADER, at the constructor, for a header name
 * that is not a token or a value (or `origin`) with CR, LF or NUL: such a header could
 * inject lines into the upgrade request, so it is never sent.
 */
export function checkRequestHeaders(options: Pick<WebSocketOptions, 'headers' | 'origin'>): void {
  const bad = (what: string) =>
    new InvalidArgumentError('DUPLEX_INVALID_HEADER', `${what} may not be sent (CR, LF, NUL or not a token)`);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw bad(`header name ${JSON.stringify(name)}`);
    if (!HEADER_VALUE.test(String(value))) throw bad(`the value of header ${name}`);
  }
  if (options.origin !== undefined && !HEADER_VALUE.test(String(options.origin))) throw bad('origin');
}

/** DEFAULT_MAX_REDIRECTS is ws's default for `maxRedirects`. */
const DEFAULT_MAX_REDIRECTS = 10;

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
  resolved: ResolvedSocketOptions,
  options: WebSocketOptions,
  handshakeTimeout: number,
  done: (error: unknown, outcome?: HandshakeOutcome) => void,
  hooks?: HandshakeHooks,
): (error: Error) => void {
  const deflate = resolved.perMessageDeflate;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `maxRedirects must be an integer >= 0, got ${maxRedirects}`,
    );
  }
  let finished = false;
  let req: ClientRequest | undefined;
  let redirects = 0;
  const finish = (error: unknown, outcome?: HandshakeOutcome): void => {
    if (finished) {
      outcome?.socket.destroy();
      return;
    }
    finished = true;
    resolved.clock.clearTimeout(timer);
    done(error, outcome);
  };
  const abort = (error: Error): void => {
    if (finished) return;
    req?.destroy();
    finish(error);
  };
  const timer = resolved.clock.setTimeout(
    () =>
      abort(
        new HandshakeError(
          'DUPLEX_HANDSHAKE_TIMEOUT',
          `opening handshake took over ${handshakeTimeout} ms`,
          undefined,
        ),
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
          extensions: deflate === false ? undefined : offerDeflate(deflate),
          origin: options.origin,
          headers,
        }),
        // node:http makes a fresh agent for `false`, and then ignores createConnection.
        agent: options.agent ?? (options.createConnection ? undefined : false),
      };
      if (options.createConnection) {
        (requestOptions as Record<string, unknown>)['createConnection'] = options.createConnection;
      }
      if (withUserInfo && (target.username || target.password)) {
        requestOptions.auth = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
      }
      if (secure) {
        for (const name of TLS_OPTION_NAMES) {
          if (options[name] !== undefined) (requestOptions as Record<string, unknown>)[name] = options[name];
        }
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
              status,
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
              status,
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
        finish(new UnexpectedResponseError(status, body, res.headers));
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
          { key, protocols, extensionsOffered: deflate === false ? [] : [DEFLATE] },
        );
        const params = acceptExtensions(agreed.extensions, deflate);
        finish(null, {
          socket,
          head,
          protocol: agreed.protocol,
          extensions: formatExtensionHeader(agreed.extensions),
          deflate: params,
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
