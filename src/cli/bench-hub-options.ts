import { parseInteger, parseNumber, UsageError } from './usage-error.js';

/** HubBenchOptions are the flags of `duplex bench --hub CHANNEL`, each with its default resolved. */
export interface HubBenchOptions {
  channel: string;
  /** @default 10 */
  subscribers: number;
  /** @default 1 */
  publishers: number;
  /** Publishes per second over all publishers. @default 20 per publisher */
  rate: number;
  /** Publishes awaiting their ack per publisher. @default 64 */
  inflight: number;
  /** Bytes of each published JSON value (at least the stamp's). @default 100 */
  size: number;
  token: string | undefined;
}

/** The flags of the echo mode that mean nothing with --hub. */
const ECHO_ONLY = ['connections', 'binary', 'subprotocol'] as const;

/** parseHubFlags reads the hub mode's flags, or returns undefined without --hub. */
export function parseHubFlags(
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
): HubBenchOptions | undefined {
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const channel = str('hub');
  if (channel === undefined) {
    for (const name of ['subscribers', 'publishers', 'token']) {
      if (values[name] !== undefined) throw new UsageError(`--${name} needs --hub CHANNEL`);
    }
    return undefined;
  }
  if (channel === '') throw new UsageError('--hub needs a channel name');
  for (const name of ECHO_ONLY) {
    if (values[name] !== undefined) throw new UsageError(`--${name} does not apply with --hub`);
  }
  const subscribers =
    str('subscribers') === undefined ? 10 : parseInteger('--subscribers', str('subscribers')!, 0, 100_000);
  const publishers =
    str('publishers') === undefined ? 1 : parseInteger('--publishers', str('publishers')!, 1, 10_000);
  return {
    channel,
    subscribers,
    publishers,
    rate: str('rate') === undefined ? 20 * publishers : parseNumber('--rate', str('rate')!, 0.001, 1e7),
    inflight: str('inflight') === undefined ? 64 : parseInteger('--inflight', str('inflight')!, 1, 100_000),
    size: str('size') === undefined ? 100 : parseInteger('--size', str('size')!, 0, 16 * 1024 * 1024),
    token: str('token'),
  };
}
