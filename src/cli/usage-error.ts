/**
 * UsageError is a mistake on the command line (an unknown flag, a missing URL, a value out
 * of range). `main` prints its message and the usage on stderr and exits with status 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** parseInteger reads a flag's integer value in [min, max] or throws a UsageError naming the flag. */
export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** parseNumber reads a flag's decimal value in [min, max] (e.g. seconds) or throws a UsageError. */
export function parseNumber(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * targetUrl reads the one positional argument of `connect` and `bench` as a WebSocket URL
 * (http and https are taken as ws and wss), or throws a UsageError saying what is wrong.
 */
export function targetUrl(command: string, positionals: string[]): URL {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? `${command} needs a URL` : `unexpected ${positionals[1]}`,
    );
  }
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`not a URL: ${positionals[0]}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UsageError(`the URL must be ws:// or wss://, got ${url.protocol}//`);
  }
  return url;
}
