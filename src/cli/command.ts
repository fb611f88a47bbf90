import { BENCH_USAGE, parseBenchOptions } from './bench-options.js';
import { CONNECT_USAGE, parseConnectOptions } from './connect-options.js';
import { UsageError } from './usage-error.js';

/** exit flushes stdout and stderr, then ends the process with `code`. */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

/**
 * runCommand runs the client-side commands, `connect` and `bench`: each parses its own
 * flags (a UsageError prints the message and the usage, exit 2), runs, and resolves to its
 * exit status. Their modules load only when used, so `duplex echo` starts as fast as before.
 */
export function runCommand(command: 'connect' | 'bench', argv: string[]): void {
  const run = async (): Promise<number> => {
    if (command === 'connect') {
      const options = parseConnectOptions(argv);
      if (!options) {
        process.stdout.write(CONNECT_USAGE);
        return 0;
      }
      const { runConnect } = await import('./connect.js');
      return runConnect(options);
    }
    const options = parseBenchOptions(argv);
    if (!options) {
      process.stdout.write(BENCH_USAGE);
      return 0;
    }
    if (options.hub) {
      const { runHubBench } = await import('./bench-hub.js');
      return runHubBench(options, options.hub);
    }
    const { runBench } = await import('./bench.js');
    return runBench(options);
  };
  run().then(exit, (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`duplex ${command}: ${error.message}\n\n`);
      process.stderr.write(command === 'connect' ? CONNECT_USAGE : BENCH_USAGE);
      exit(2);
      return;
    }
    process.stderr.write(
      `duplex ${command}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    exit(1);
  });
}
