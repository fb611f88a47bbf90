/**
 * Helpers of the fuzz suites (test/{protocol,node,hub}/fuzz-*.test.ts): how many
 * runs a property gets, and the codes the docs promise, read from the docs themselves so that
 * a property checks against what is documented rather than against a copy of it.
 *
 * Run counts: `npm test` runs each property `base` times (small: the whole fuzz suite stays
 * well under a minute on a loaded machine). `npm run fuzz` (scripts/fuzz.mjs) sets
 * FUZZ_SCALE (default there: 50) to multiply them; FUZZ_RUNS=N sets every property to N runs.
 * FUZZ_SEED replays one seed that fast-check printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Parameters } from 'fast-check';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function positiveEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}

/** runs is the number of runs of a property whose `npm test` budget is `base`. */
export function runs(base: number): number {
  const fixed = positiveEnv('FUZZ_RUNS');
  if (fixed !== undefined) return Math.ceil(fixed);
  return Math.max(1, Math.ceil(base * (positiveEnv('FUZZ_SCALE') ?? 1)));
}

/** params are fast-check's parameters for a property with a base run count (and FUZZ_SEED when set). */
export function params<T>(base: number): Parameters<T> {
  const raw = process.env.FUZZ_SEED;
  const seed = raw === undefined || raw === '' ? undefined : Number(raw);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new Error(`FUZZ_SEED must be an integer, got ${raw}`);
  // The failing assertion goes into the report, next to the counterexample and its seed.
  const common = { numRuns: runs(base), includeErrorInReport: true };
  return seed === undefined ? common : { ...common, seed };
}

/** section returns the text of docs/<file> from the heading `title` to the next heading of that level. */
function section(file: string, title: string): string {
  const text = readFileSync(join(root, 'docs', file), 'utf8');
  const start = text.indexOf(`\n${title}\n`);
  if (start < 0) throw new Error(`docs/${file} has no section ${title}`);
  const level = title.slice(0, title.indexOf(' ') + 1);
  const end = text.indexOf(`\n${level}`, start + title.length + 2);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}

/** tableRows splits the rows of the markdown tables in `text` whose first cell is a `DUPLEX_...` code. */
function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => /^\| `DUPLEX_[A-Z0-9_]+` \|/.test(line))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

function code(cell: string): string {
  return cell.replace(/`/g, '');
}

/** protocolErrors maps each code of docs/errors.md "Protocol errors" to its documented close code. */
export function protocolErrors(): Map<string, number> {
  const out = new Map<string, number>();
  for (const [c, close] of tableRows(
    section('errors.md', '## Protocol errors: the peer broke the protocol'),
  )) {
    out.set(code(c!), Number(close));
  }
  if (out.size < 10) throw new Error('docs/errors.md: too few protocol errors found');
  return out;
}

/**
 * handshakeErrors maps each code of docs/errors.md "Handshake errors" to its documented status:
 * a number, 'peer' (the server's status) or undefined (none).
 */
export function handshakeErrors(): Map<string, number | 'peer' | undefined> {
  const out = new Map<string, number | 'peer' | undefined>();
  for (const [c, status] of tableRows(section('errors.md', '## Handshake errors'))) {
    const n = /^\d{3}/.exec(status!)?.[0];
    out.set(code(c!), n ? Number(n) : status === '' ? undefined : 'peer');
  }
  if (out.size < 8) throw new Error('docs/errors.md: too few handshake errors found');
  return out;
}

/** hubErrorCodes are the codes of the `error` message table in docs/protocol.md. */
export function hubErrorCodes(): Set<string> {
  const out = new Set(tableRows(section('protocol.md', '## Errors')).map((row) => code(row[0]!)));
  if (out.size < 10) throw new Error('docs/protocol.md: too few hub error codes found');
  return out;
}

/** hubCloseCodes are the close codes of the table in docs/protocol.md "Close codes". */
export function hubCloseCodes(): Set<number> {
  const out = new Set<number>();
  for (const line of section('protocol.md', '## Close codes').split('\n')) {
    const m = /^\| (\d{4}) \|/.exec(line);
    if (m) out.add(Number(m[1]));
  }
  if (out.size < 8) throw new Error('docs/protocol.md: too few close codes found');
  return out;
}

/** bytesOf fills n bytes from a seed (xorshift32), so a big payload costs fast-check one integer. */
export function bytesOf(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** cutAt cuts `bytes` at the given raw positions (taken modulo its length + 1); copies, since parsers unmask in place. */
export function cutAt(bytes: Buffer, raw: readonly number[]): Buffer[] {
  const cuts = [...new Set(raw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(Buffer.from(bytes.subarray(start, c)));
    start = c;
  }
  return out;
}
