import { WebSocketServer } from '../node/server.js';
import { serveUntilSignal } from './lifecycle.js';

/** EchoOptions are the flags of `duplex echo`. */
export interface EchoOptions {
  host: string;
  port: number;
  deflate: boolean;
  maxPayload: number | undefined;
}

/**
 * runEcho starts the RFC 6455 echo server of the `duplex echo` contract: every path, each
 * text message back as text and each binary message back as binary, with default limits.
 * It prints one ready line and, on SIGINT or SIGTERM, closes every connection with 1001
 * and exits 0. Origins are not checked: an echo server holds nothing worth protecting.
 */
export function runEcho(options: EchoOptions): void {
  const server = new WebSocketServer({
    host: options.host,
    port: options.port,
    maxPayload: options.maxPayload,
    perMessageDeflate: options.deflate,
    dangerouslyAllowAnyOrigin: true,
  });
  server.on('connection', (ws) => {
    ws.addEventListener('message', (event) => ws.send(event.data));
  });
  serveUntilSignal('echo', server, options.host, options.port);
}
