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
import type { ResolvedSocketOptions, TlsOptions, WebSocketOptions } from './options.js';

/** HandshakeOutcome is an upgraded socket with what the server agreed to. */
export interface HandshakeOutcome {
  socket: Socket;
  head: Buffer;
  protocol: string;
  /** The Sec-WebSocket-Extensions value of the response, '' for none. */
  extensions: string;
  /** The permessage-deflate parameters the server agreed to, when it accepted our offer. */
  deflate: DeflateParams | undefined;
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

const TLS_KEYS: Array<keyof TlsOptions> = [
  'ca',
  'cert',
  'key',
  'passphrase',
  'pfx',
  'rejectUnauthorized',
  'servername',
  'ciphers',
  'minVersion',
  'maxVersion',
  'checkServerIdentity',
];

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

/**
 * startClientHandshake opens the TCP (and TLS) connection and performs the opening
 * handshake of RFC 6455 section 4.1 through node:http's upgrade support. `done` is called
 * once: with the upgraded socket, or with the error that failed the handshake (a socket
 * error, an UnexpectedResponseError for a non-101 answer, a HandshakeError for a bad 101,
 * or DUPLEX_HANDSHAKE_TIMEOUT). The returned function aborts it.
 */
export function startClientHandshake(
  url: URL,
  protocols: string[],
  resolved: ResolvedSocketOptions,
  options: WebSocketOptions,
  handshakeTimeout: number,
  done: (error: unknown, outcome?: HandshakeOutcome) => void,
): (error: Error) => void {
  const key = generateKey();
  const deflate = resolved.perMessageDeflate;
  const secure = url.protocol === 'wss:';
  let finished = false;
  let req: ClientRequest | undefined;
  const finish = (error: unknown, outcome?: HandshakeOutcome): void => {
    if (finished) {
      outcome?.socket.destroy();
      return;
    }
    finished = true;
    clearTimeout(timer);
    done(error, outcome);
  };
  const abort = (error: Error): void => {
    if (finished) return;
    req?.destroy();
    finish(error);
  };
  const timer = setTimeout(
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
  timer.unref();

  try {
    const requestOptions: RequestOptions = {
      method: 'GET',
      host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      headers: clientRequestHeaders({
        key,
        protocols,
        extensions: deflate === false ? undefined : offerDeflate(deflate),
        origin: options.origin,
        headers: options.headers,
      }),
      agent: false,
    };
    if (url.username || url.password) {
      requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    }
    if (secure) {
      for (const name of TLS_KEYS) {
        if (options[name] !== undefined) (requestOptions as Record<string, unknown>)[name] = options[name];
      }
    }
    req = secure ? httpsRequest(requestOptions) : httpRequest(requestOptions);
  } catch (error) {
    // Bad headers and the like: fail asynchronously, as a browser does.
    process.nextTick(() => finish(error));
    return abort;
  }

  req.on('error', (error) => finish(error));
  req.on('response', (res: IncomingMessage) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const refuse = () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.destroy();
      finish(new UnexpectedResponseError(res.statusCode ?? 0, body, res.headers));
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
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
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
      });
    } catch (error) {
      socket.destroy();
      finish(error);
    }
  });
  req.end();
  return abort;
}
