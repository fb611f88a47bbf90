import type { IncomingMessage } from 'node:http';
import {
  type DeflateParams,
  type ExtensionOffer,
  formatExtensionHeader,
  HandshakeError,
  type HeaderMap,
  negotiateDeflate,
  type PerMessageDeflateOptions,
  validateClientRequest,
} from '../protocol/index.js';
import { normalizeOrigin, type ResolvedServerOptions } from './options.js';

/** UpgradeDecision is the outcome of checking one upgrade request: accept with a subprotocol, or refuse. */
export type UpgradeDecision =
  | {
      accept: true;
      key: string;
      protocol: string;
      /** The Sec-WebSocket-Extensions value of the 101 response, '' for none. */
      extensions: string;
      /** The agreed permessage-deflate parameters, when it was negotiated. */
      deflate: DeflateParams | undefined;
    }
  | {
      accept: false;
      status: number;
      body?: string | undefined;
      headers?: Record<string, string> | undefined;
      /** An exception from application code, to report; the client only sees a 500. */
      hookError?: unknown;
    };

/**
 * isOriginAllowed applies the origin policy: no Origin header (not a browser), the
 * escape hatch, a listed origin, or the same origin as the Host header (as Gorilla and
 * coder/websocket do by default) are allowed; anything else gets 403.
 */
export function isOriginAllowed(
  options: ResolvedServerOptions,
  origin: string | undefined,
  host: string | undefined,
): boolean {
  if (origin === undefined || options.dangerouslyAllowAnyOrigin) return true;
  if (options.allowedOrigins.has(normalizeOrigin(origin))) return true;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * decideUpgrade runs the server's checks in order: RFC 6455 request validation, the
 * origin policy, `authenticate`, then subprotocol selection. It never throws: exceptions
 * from the application's hooks become a 500 refusal that carries the error for reporting.
 */
export async function decideUpgrade(
  options: ResolvedServerOptions,
  req: IncomingMessage,
): Promise<UpgradeDecision> {
  let validated: ReturnType<typeof validateClientRequest>;
  try {
    validated = validateClientRequest({
      method: req.method ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers as HeaderMap,
    });
  } catch (error) {
    if (error instanceof HandshakeError) return refusal(error);
    return { accept: false, status: 400 };
  }
  if (!isOriginAllowed(options, validated.origin, req.headers.host)) {
    return { accept: false, status: 403, body: 'origin not allowed\n' };
  }
  if (options.authenticate) {
    try {
      const verdict = await options.authenticate(req);
      if (verdict === false) return { accept: false, status: 401 };
      if (typeof verdict === 'object' && verdict !== null) {
        return { accept: false, status: verdict.status, body: verdict.body, headers: verdict.headers };
      }
    } catch (hookError) {
      return { accept: false, status: 500, hookError };
    }
  }
  let protocol = validated.protocols[0] ?? '';
  if (options.handleProtocols && validated.protocols.length > 0) {
    try {
      const chosen = options.handleProtocols([...validated.protocols], req);
      if (chosen !== false && !validated.protocols.includes(chosen)) {
        throw new TypeError(
          `handleProtocols chose ${JSON.stringify(chosen)}, which the client did not offer`,
        );
      }
      protocol = chosen === false ? '' : chosen;
    } catch (hookError) {
      return { accept: false, status: 500, hookError };
    }
  }
  let deflate: ReturnType<typeof negotiateDeflate>;
  try {
    deflate = chooseDeflate(options.perMessageDeflate, validated.extensions);
  } catch (error) {
    if (error instanceof HandshakeError) return refusal(error);
    return { accept: false, status: 500, hookError: error };
  }
  return {
    accept: true,
    key: validated.key,
    protocol,
    extensions: deflate ? formatExtensionHeader([deflate.response]) : '',
    deflate: deflate?.params,
  };
}

/**
 * chooseDeflate answers the client's permessage-deflate offers (RFC 7692 5: the first
 * acceptable one wins, invalid ones are declined), or returns undefined when it is
 * switched off or nothing was acceptable. Other extensions are declined.
 */
function chooseDeflate(
  options: PerMessageDeflateOptions | false,
  offers: ExtensionOffer[],
): ReturnType<typeof negotiateDeflate> {
  if (options === false) return undefined;
  const ours = offers.filter((offer) => offer.name.toLowerCase() === 'permessage-deflate');
  if (ours.length === 0) return undefined;
  return negotiateDeflate(ours, options);
}

/** refusal turns a HandshakeError into the HTTP answer it carries. */
function refusal(error: HandshakeError): UpgradeDecision {
  return { accept: false, status: error.status ?? 400, body: `${error.message}\n`, headers: error.headers };
}
