import { WebSocketServer } from '../node/server.js';

/** EchoOptions are the flags of `duplex echo`. */
export interface EchoOptions {
  host: string;
  port: number;
  deflate: boolean;
  maxPayload: number | undefined;
}

/** formatHost puts an IPv6 address in brackets, as URLs write it. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
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
  server.on('error', (error) => {
    console.error(`duplex echo: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
  server.on('listening', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    process.stdout.write(`listening on ws://${formatHost(options.host)}:${port}/\n`);
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(0);
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
