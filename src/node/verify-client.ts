import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuthenticateResult, VerifyClient, VerifyClientCallback, VerifyClientInfo } from './options.js';

/**
 * fromVerifyClient wraps ws's `verifyClient` as an `authenticate` hook: `info` as ws builds
 * it, a synchronous boolean or the callback's `(result, code, message, headers)`.
 */
export function fromVerifyClient(
  verify: VerifyClient,
): (req: IncomingMessage) => AuthenticateResult | Promise<AuthenticateResult> {
  return (req) => {
    const socket = req.socket as Socket & Partial<Pick<TLSSocket, 'encrypted' | 'authorized'>>;
    const info: VerifyClientInfo = {
      origin: (req.headers['sec-websocket-version'] === '8'
        ? req.headers['sec-websocket-origin']
        : req.headers.origin) as string,
      secure: Boolean(socket.authorized || socket.encrypted),
      req,
    };
    if (verify.length < 2) {
      return (verify as (info: VerifyClientInfo) => boolean)(info) ? true : { status: 401 };
    }
    return new Promise<AuthenticateResult>((resolve) => {
      (verify as (info: VerifyClientInfo, callback: VerifyClientCallback) => void)(
        info,
        (result, code = 401, message, headers) => {
          if (result) return resolve(true);
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(headers ?? {})) {
            if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
          }
          resolve({ status: code, body: message, headers: flat });
        },
      );
    });
  };
}
