#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runBroadcast } from './broadcast.js';
import { runCommand } from './command.js';
import { runEcho } from './echo.js';

/** USAGE lists the subcommands this version implements. */
const USAGE = `usage: duplex <command> [options]

commands:
  echo [--host H] [--port P] [--no-deflate] [--max-payload BYTES]
      RFC 6455 echo server on every path (default ws://127.0.0.1:9001/)
  broadcast [--host H] [--port P] [--no-deflate]
      relay: each message a client sends goes to every other client (default ws://127.0.0.1:9001/)
  connect URL [-H 'Name: value']... [-s PROTOCOL]... [-x MESSAGE]... [--no-deflate] [...]
      a WebSocket client on stdin and stdout (duplex connect --help)
  bench URL [--connections N] [--size BYTES] [--binary] [--inflight K] [--duration S] [--json] [...]
      load test of an echo endpoint (duplex bench --help)
`;

/** usageError prints a message and the usage on stderr and exits with status 2. */
function usageError(message: string): never {
  process.stderr.write(`duplex: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    usageError(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** main parses the command line of the `duplex` binary and runs the subcommand. */
function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'connect' || command === 'bench') {
    runCommand(command, rest);
    return;
  }
  if (command !== 'echo' && command !== 'broadcast')
    usageError(command === undefined ? 'missing command' : `unknown command ${command}`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'no-deflate': { type: 'boolean' },
        ...(command === 'echo' ? { 'max-payload': { type: 'string' as const } } : {}),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const port = typeof values.port === 'string' ? integer('--port', values.port, 0, 65535) : 9001;
  const deflate = values['no-deflate'] !== true;
  if (command === 'broadcast') {
    runBroadcast({ host, port, deflate });
    return;
  }
  const maxPayload = values['max-payload'];
  runEcho({
    host,
    port,
    deflate,
    maxPayload: typeof maxPayload === 'string' ? integer('--max-payload', maxPayload, 1, 2 ** 32) : undefined,
  });
}

main(process.argv.slice(2));
