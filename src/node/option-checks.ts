import { InvalidArgumentError } from '../protocol/index.js';

/**
 * The checks of the option resolvers (options.ts): each takes the option's full name (as the
 * user wrote it, e.g. `heartbeat.interval`) and its value, returns the value or the
 * fallback when it is undefined, and throws InvalidArgumentError (DUPLEX_INVALID_OPTION)
 * naming the option otherwise.
 */

/** show renders a rejected value for an error message, short. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** invalidOption is the error of an option `name` whose `value` is not `expected`. */
export function invalidOption(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'DUPLEX_INVALID_OPTION',
    `${name} must be ${expected}, got ${show(value)}`,
    {
      option: name,
    },
  );
}

export function positiveNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw invalidOption(name, 'a positive number', value);
  }
  return value;
}

export function integerIn(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(name, 'a boolean', value);
  return value;
}

export function string(name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw invalidOption(name, 'a string', value);
  return value;
}

export function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(name, 'a function', value);
  return value;
}

/** plainObject checks that an option is a non-null, non-array object. */
export function plainObject<T extends object>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption(name, 'an object', value);
  }
  return value;
}

export function stringList(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw invalidOption(name, 'an array of strings', value);
  }
  return value;
}

/** stringRecord checks a header map: an object whose values are strings. */
export function stringRecord(name: string, value: unknown): Record<string, string> | undefined {
  const object = plainObject(name, value as object | undefined) as Record<string, unknown> | undefined;
  if (object === undefined) return undefined;
  for (const [key, v] of Object.entries(object)) {
    if (typeof v !== 'string') throw invalidOption(`${name}.${key}`, 'a string', v);
  }
  return object as Record<string, string>;
}

/** refuseUnknown throws DUPLEX_INVALID_OPTION for the first option not in `known`, with a hint where one is known. */
export function refuseUnknown(
  what: string,
  user: object,
  known: ReadonlySet<string>,
  hints: Readonly<Record<string, string>>,
): void {
  for (const name of Object.keys(user)) {
    if (known.has(name)) continue;
    const hint = Object.hasOwn(hints, name) ? hints[name] : undefined;
    throw new InvalidArgumentError(
      'DUPLEX_INVALID_OPTION',
      `unknown ${what} option ${JSON.stringify(name)}${hint ? `: ${hint}` : ''}`,
      { option: name },
    );
  }
}
