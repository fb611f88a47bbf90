import type { WebSocketServer } from '../node/server.js';

/** formatHost puts an IPv6 address in brackets, as URLs write it. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * serveUntilSignal gives a command's WebSocketServer the lifecycle the CLI contracts share:
 * one ready line `listening on ws://H:P/` with the real port once it listens, exit 1 with a
 * message when it cannot (e.g. the port is taken), and on SIGINT or SIGTERM a graceful
 * close (1001 to every connection) then exit 0. A second signal exits at once.
 */
export function serveUntilSignal(command: string, server: WebSocketServer, host: string, port: number): void {
  server.on('error', (error) => {
    console.error(`duplex ${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
  server.on('listening', () => {
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    process.stdout.write(`listening on ws://${formatHost(host)}:${actual}/\n`);
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
