import type { IncomingMessage } from 'node:http';
import {
  type Extension,
  HandshakeError,
  type HeaderMap,
  type ValidatedRequest,
  validateClientRequest,
} from '../protocol/index.js';
import { negotiateExtensions } from './extensions.js';
import { offeredProtocols } from './offered-protocols.js';
import { type AuthenticateRefusal, normalizeOrigin, type ResolvedServerOptions } from './options.js';
import { refusalCode } from './refusal.js';

/** UpgradeDecision is the outcome of checking one upgrade request: accept with a subprotocol, or refuse. */
export type UpgradeDecision =
  | {
      accept: true;
      key: string;
      protocol: string;
      /** The Sec-WebSocket-Extensions value of the 101 response, '' for none. */
      extensions: string;
      /** The negotiated extensions, in the order of the response. */
      negotiated: Extension[];
      /** What `authenticate` handed over with `{ accept: true, context }`. */
      context: unknown;
    }
  | {
      accept: false;
      /** The refusal's code: a handshake code of the ErrorCode table, or the one `authenticate` gave. */
      code: string;
      status: number;
      body?: string | undefined;
      headers?: Record<string, string> | undefined;
      /** An exception from application code, to report; the client only sees a 500. */
      hookError?: unknown;
      /** The request broke RFC 6455 (not a policy refusal): the server's `wsClientError`. */
      clientError?: HandshakeError;
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
 * Without an `authenticate` hook the decision is made at once and returned as it is (no
 * promise, no handshake timer in the server: docs/design/idle-memory.md); with one, it
 * comes as a promise.
 */
export function decideUpgrade(
  options: ResolvedServerOptions,
  req: IncomingMessage,
): UpgradeDecision | Promise<UpgradeDecision> {
  let validated: ReturnType<typeof validateClientRequest>;
  try {
    validated = validateClientRequest({
      method: req.method ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers as HeaderMap,
    });
  } catch (error) {
    if (error instanceof HandshakeError) return refusal(error);
    return { accept: false, code: 'DUPLEX_INTERNAL_ERROR', status: 400 };
  }
  if (!isOriginAllowed(options, validated.origin, req.headers.host)) {
    return {
      accept: false,
      code: 'DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED',
      status: 403,
      body: 'origin not allowed\n',
    };
  }
  if (options.authenticate) return authenticated(options, req, validated);
  return agree(options, req, validated, undefined);
}

/** authenticated asks `authenticate` and, when it lets the client in, finishes the decision. */
async function authenticated(
  options: ResolvedServerOptions,
  req: IncomingMessage,
  validated: ValidatedRequest,
): Promise<UpgradeDecision> {
  let context: unknown;
  try {
    const verdict = await options.authenticate!(req);
    if (verdict === false) return { accept: false, code: 'DUPLEX_HANDSHAKE_REFUSED', status: 401 };
    if (typeof verdict === 'object' && verdict !== null) {
      if ('accept' in verdict && verdict.accept === true) {
        context = verdict.context;
      } else {
        const refusal = verdict as AuthenticateRefusal;
        return {
          accept: false,
          code: refusalCode(refusal.code),
          status: refusal.status,
          body: refusal.body,
          headers: refusal.headers,
        };
      }
    }
  } catch (hookError) {
    return { accept: false, code: 'DUPLEX_HANDSHAKE_HOOK_FAILED', status: 500, hookError };
  }
  return agree(options, req, validated, context);
}

/** agree selects the subprotocol and negotiates the extensions of a request let in. */
function agree(
  options: ResolvedServerOptions,
  req: IncomingMessage,
  validated: ValidatedRequest,
  context: unknown,
): UpgradeDecision {
  let protocol = validated.protocols[0] ?? '';
  if (options.handleProtocols && validated.protocols.length > 0) {
    try {
      const chosen = options.handleProtocols(offeredProtocols(validated.protocols), req);
      if (chosen !== false && !validated.protocols.includes(chosen)) {
        throw new TypeError(
          `handleProtocols chose ${JSON.stringify(chosen)}, which the client did not offer`,
        );
      }
      protocol = chosen === false ? '' : chosen;
    } catch (hookError) {
      return { accept: false, code: 'DUPLEX_HANDSHAKE_HOOK_FAILED', status: 500, hookError };
    }
  }
  let agreed: ReturnType<typeof negotiateExtensions>;
  try {
    agreed = negotiateExtensions(options.extensions, validated.extensions);
  } catch (error) {
    if (error instanceof HandshakeError) return refusal(error);
    return { accept: false, code: 'DUPLEX_HANDSHAKE_HOOK_FAILED', status: 500, hookError: error };
  }
  return {
    accept: true,
    key: validated.key,
    protocol,
    extensions: agreed.header,
    negotiated: agreed.extensions,
    context,
  };
}

/** refusal turns a HandshakeError into the HTTP answer it carries. */
function refusal(error: HandshakeError): UpgradeDecision {
  return {
    accept: false,
    code: error.code,
    status: error.status ?? 400,
    body: `${error.message}\n`,
    headers: error.headers,
    clientError: error,
  };
}
