#!/usr/bin/env node
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { runBroadcast } from './broadcast.js';
import { runCommand } from './command.js';
import { runEcho } from './echo.js';
import { runServe, type ServeLimitFlags } from './serve.js';

/** USAGE lists the subcommands this version implements. */
const USAGE = `usage: duplex <command> [options]

commands:
  echo [--host H] [--port P] [--no-deflate] [--max-payload BYTES]
      RFC 6455 echo server on every path (default ws://127.0.0.1:9001/)
  broadcast [--host H] [--port P] [--no-deflate]
      relay: each message a client sends goes to every other client (default ws://127.0.0.1:9001/)
  serve [--host H] [--port P] [--redis URL]
        [--max-connections N] [--max-connections-per-address N] [--handshake-rate PER_S] [--handshake-burst N]
      the hub at /hub, echo at /echo, the apps at / and /dashboard, the client bundle at
      /duplex-client.js and Prometheus metrics at /metrics (default http://127.0.0.1:8080/);
      the limit flags override the defaults of each endpoint (docs/security.md)
  connect URL [-H 'Name: value']... [-s PROTOCOL]... [-x MESSAGE]... [--no-deflate] [...]
      a WebSocket client on stdin and stdout (duplex connect --help)
  bench URL [--connections N] [--size BYTES] [--binary] [--inflight K] [--duration S] [--json] [...]
      load test of an echo endpoint, or of a hub channel with --hub CHANNEL (duplex bench --help)
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

/** rate reads `--handshake-rate`: handshakes per second per address, a positive decimal. */
function rate(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0 && n <= 1e6)) usageError('--handshake-rate must be a number of handshakes per second above 0');
  return n;
}

/** serveLimitFlags reads the connection-limit flags of `duplex serve` (absent: its defaults). */
function serveLimitFlags(values: Record<string, unknown>): ServeLimitFlags {
  const flag = (name: string): string | undefined =>
    typeof values[name] === 'string' ? (values[name] as string) : undefined;
  const limits: ServeLimitFlags = {};
  const max = flag('max-connections');
  if (max !== undefined) limits.maxConnections = integer('--max-connections', max, 1, 2 ** 31);
  const perAddress = flag('max-connections-per-address');
  if (perAddress !== undefined)
    limits.maxConnectionsPerAddress = integer('--max-connections-per-address', perAddress, 1, 2 ** 31);
  const perSecond = flag('handshake-rate');
  const burst = flag('handshake-burst');
  if (burst !== undefined && perSecond === undefined) usageError('--handshake-burst needs --handshake-rate');
  if (perSecond !== undefined) {
    const r = rate(perSecond);
    limits.handshakeRate = {
      perSecond: r,
      burst:
        burst === undefined ? Math.max(1, Math.ceil(r)) : integer('--handshake-burst', burst, 1, 2 ** 31),
    };
  }
  return limits;
}

/** flagsOf lists the flags each command accepts. */
function flagsOf(command: 'echo' | 'broadcast' | 'serve'): NonNullable<ParseArgsConfig['options']> {
  const common: NonNullable<ParseArgsConfig['options']> = {
    host: { type: 'string' },
    port: { type: 'string' },
  };
  if (command === 'serve')
    return {
      ...common,
      redis: { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'handshake-rate': { type: 'string' },
      'handshake-burst': { type: 'string' },
    };
  if (command === 'echo')
    return { ...common, 'no-deflate': { type: 'boolean' }, 'max-payload': { type: 'string' } };
  return { ...common, 'no-deflate': { type: 'boolean' } };
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
  if (command !== 'echo' && command !== 'broadcast' && command !== 'serve')
    usageError(command === undefined ? 'missing command' : `unknown command ${command}`);
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: flagsOf(command),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const port =
    typeof values.port === 'string'
      ? integer('--port', values.port, 0, 65535)
      : command === 'serve'
        ? 8080
        : 9001;
  if (command === 'serve') {
    runServe({
      host,
      port,
      redis: typeof values.redis === 'string' ? values.redis : undefined,
      limits: serveLimitFlags(values),
    }).catch((error: unknown) => {
      process.stderr.write(`duplex serve: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
    return;
  }
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
