import { WebSocketServer } from '../node/server.js';
import { serveUntilSignal } from './lifecycle.js';

/** BroadcastCliOptions are the flags of `duplex broadcast`. */
export interface BroadcastCliOptions {
  host: string;
  port: number;
  deflate: boolean;
}

/**
 * RELAY_MAX_BUFFERED is the send-buffer limit of each recipient of the relay. A subscriber
 * that falls this far behind is closed with 1008 `send buffer full` (the documented
 * policy), so the relay's memory stays below about this much per connection.
 */
export const RELAY_MAX_BUFFERED = 1024 * 1024;

/**
 * runBroadcast starts the relay of the `duplex broadcast` contract: every message a client
 * sends goes to every other connected client with the same type and payload, serialized
 * once (`WebSocketServer#broadcast`). The sender never waits for slow recipients: each has
 * a 1 MiB send-buffer limit beyond which it is closed with 1008. Ready line and shutdown are
 * those of `duplex echo`.
 */
export function runBroadcast(options: BroadcastCliOptions): void {
  const server = new WebSocketServer({
    host: options.host,
    port: options.port,
    perMessageDeflate: options.deflate,
    maxBufferedAmount: RELAY_MAX_BUFFERED,
    dangerouslyAllowAnyOrigin: true,
  });
  server.on('connection', (ws) => {
    ws.addEventListener('message', (event) => {
      server.broadcast(event.data as string | Buffer, { except: ws });
    });
  });
  serveUntilSignal('broadcast', server, options.host, options.port);
}
