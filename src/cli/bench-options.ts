import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type HubBenchOptions, parseHubFlags } from './bench-hub-options.js';
import { parseInteger, parseNumber, targetUrl, UsageError } from './usage-error.js';

/** BenchOptions are the flags of `duplex bench`, each with its default resolved. */
export interface BenchOptions {
  url: URL;
  /** Connections to open. @default 10 */
  connections: number;
  /** Payload bytes per message. @default 32 */
  size: number;
  binary: boolean;
  /** Closed loop: messages in flight per connection. With --rate: the most in flight per connection. @default 1 (64 with --rate) */
  inflight: number;
  /** Open loop: total messages per second over all connections; undefined for a closed loop. */
  rate: number | undefined;
  /** Measured seconds. @default 10 */
  durationS: number;
  /** Seconds of load before measuring starts. @default 1 */
  warmupS: number;
  /** Seconds over which the connections are opened. @default 0 (as fast as allowed) */
  rampS: number;
  /** Worker threads. @default min(connections, the CPUs this process may use) */
  threads: number;
  json: boolean;
  /** Write a self-contained HTML report here. */
  report: string | undefined;
  headers: Record<string, string>;
  protocols: string[];
  ca: string[];
  insecure: boolean;
  /** Live progress line on stderr. @default when stderr is a terminal */
  progress: boolean;
  /** `--hub CHANNEL`: subscribers and publishers through HubClient instead of echoes (bench-hub.ts). */
  hub: HubBenchOptions | undefined;
}

export const BENCH_USAGE = `usage: duplex bench URL [options]

  Load test of an echo endpoint: N connections, each keeping K messages in flight (closed
  loop), or a fixed total message rate (open loop, --rate). Prints throughput, latency
  percentiles (HDR histogram) and errors.

  -c, --connections N      connections (default 10)
      --size BYTES         payload size (default 32)
      --binary             binary messages (default text)
  -k, --inflight K         messages in flight per connection (default 1); with --rate the
                           most in flight per connection (default 64)
      --rate R             open loop: R messages/s in total, latency counted from when each
                           message was due (coordinated omission corrected)
  -d, --duration SECONDS   measured time (default 10)
  -w, --warmup SECONDS     load before measuring, not counted (default 1)
      --ramp SECONDS       open the connections evenly over this time (default 0)
  -t, --threads T          worker threads (default: connections, at most the CPUs usable)
      --json               print exactly one JSON object instead of the table
      --report FILE.html   write a self-contained HTML page with latency over time and the
                           latency distribution
  -H, --header 'N: v'      extra request header (repeatable)
      --subprotocol P      offer subprotocol P (repeatable)
      --ca FILE            trust this PEM CA for wss: (repeatable)
      --insecure           DANGER: do not check the server's TLS certificate at all
      --no-progress        no live progress line (it is shown only on a terminal anyway)

  Hub mode (URL is a Duplex hub, e.g. ws://127.0.0.1:8080/hub):
      --hub CHANNEL        N subscribers and M publishers on CHANNEL through HubClient;
                           measures end-to-end delivery latency (from when each publish
                           was due), counts losses and duplicates per subscriber
      --subscribers N      subscribers (default 10)
      --publishers M       publishers (default 1)
      --rate R             publishes/s over all publishers (default 20 per publisher;
                           duplex serve allows 50/s per connection)
  -k, --inflight K         publishes awaiting their ack per publisher (default 64)
      --size BYTES         bytes of each published JSON value (default 100, at least the stamp)
      --token T            token sent in the hub's connect

  Exit status: 0 when the run completed, 1 when no connection could be opened, 2 on a
  usage error. Errors during the run are counted in the output, not in the status.
`;

const FLAGS = {
  connections: { type: 'string', short: 'c' },
  size: { type: 'string' },
  binary: { type: 'boolean' },
  inflight: { type: 'string', short: 'k' },
  rate: { type: 'string' },
  duration: { type: 'string', short: 'd' },
  warmup: { type: 'string', short: 'w' },
  ramp: { type: 'string' },
  threads: { type: 'string', short: 't' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', multiple: true },
  ca: { type: 'string', multiple: true },
  insecure: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  hub: { type: 'string' },
  subscribers: { type: 'string' },
  publishers: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** parseBenchOptions reads the command line after `duplex bench`; undefined for --help. */
export function parseBenchOptions(argv: string[]): BenchOptions | undefined {
  const parse = () => {
    try {
      return parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  const { values, positionals } = parse();
  if (values.help) return undefined;
  const url = targetUrl('bench', positionals);
  const connections =
    values.connections === undefined ? 10 : parseInteger('--connections', values.connections, 1, 1_000_000);
  const rate = values.rate === undefined ? undefined : parseNumber('--rate', values.rate, 0.001, 1e9);
  const headers: Record<string, string> = {};
  for (const raw of values.header ?? []) {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H takes 'Name: value', got ${JSON.stringify(raw)}`);
    headers[raw.slice(0, colon).trim()] = raw.slice(colon + 1).trim();
  }
  const cpus = availableParallelism();
  const hub = parseHubFlags(values);
  return {
    url,
    connections,
    size: values.size === undefined ? 32 : parseInteger('--size', values.size, 0, 64 * 1024 * 1024),
    binary: values.binary === true,
    inflight:
      values.inflight === undefined
        ? rate === undefined
          ? 1
          : 64
        : parseInteger('--inflight', values.inflight, 1, 100_000),
    rate,
    durationS: values.duration === undefined ? 10 : parseNumber('--duration', values.duration, 0.1, 86_400),
    warmupS: values.warmup === undefined ? 1 : parseNumber('--warmup', values.warmup, 0, 3_600),
    rampS: values.ramp === undefined ? 0 : parseNumber('--ramp', values.ramp, 0, 3_600),
    threads: Math.min(
      hub ? hub.subscribers + hub.publishers : connections,
      values.threads === undefined ? cpus : parseInteger('--threads', values.threads, 1, 256),
    ),
    json: values.json === true,
    report: values.report,
    headers,
    protocols: values.subprotocol ?? [],
    ca: (values.ca ?? []).map((path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch (error) {
        throw new UsageError(`--ca ${path}: ${(error as Error).message}`);
      }
    }),
    insecure: values.insecure === true,
    progress: values['no-progress'] !== true && process.stderr.isTTY === true,
    hub,
  };
}
