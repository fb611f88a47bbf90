/**
 * args parses the command lines of the load generators (bench/load.ts, bench/deflate-load.ts,
 * bench/churn.ts): each names its flags in a table, and the walk over argv, the checks on
 * values and their error messages are the same for all of them.
 */

/** ValueKey is an option that a flag sets from the argument after it. */
type ValueKey<O> = { [K in keyof O]: O[K] extends number | string ? K : never }[keyof O] & string;

/** SwitchFlag sets an option to a fixed value: `['binary', true]`, `['mode', 'idle']`. */
type SwitchFlag<O> = { [K in keyof O]: readonly [key: K, value: O[K]] }[keyof O];

/**
 * Flags maps each accepted flag (`-c`, `--connections`) to what it does: the name of an option
 * that takes the next argument (converted to a number when the option's default is a number),
 * or a switch that sets an option to a fixed value.
 */
export type Flags<O> = Readonly<Record<string, ValueKey<O> | SwitchFlag<O>>>;

/**
 * parseFlags returns `defaults` with the flags in argv applied, left to right. It throws on a
 * flag not in `flags` (`unknown option --x`), on a missing value (`-c needs a value`) and on a
 * number option whose value is not a finite number (`-c needs a number`).
 */
export function parseFlags<O extends object>(argv: readonly string[], defaults: O, flags: Flags<O>): O {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!Object.hasOwn(flags, a)) throw new Error(`unknown option ${a}`);
    const flag = flags[a]!;
    if (typeof flag !== 'string') {
      o[flag[0]] = flag[1];
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (typeof defaults[flag] === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`${a} needs a number`);
      o[flag] = n as O[typeof flag];
    } else o[flag] = value as O[typeof flag];
  }
  return o;
}

/** requireLoopback throws unless `host` is a 127.x.y.z address: the generators never load a remote host. */
export function requireLoopback(tool: string, host: string): void {
  if (!host.startsWith('127.')) throw new Error(`${tool}: only loopback 127.x.y.z targets are allowed`);
}
