/**
 * harness gives ws's README examples, run unchanged, what they print to: a console whose
 * lines the test reads back, with waits that always have a deadline.
 */
import type { AddressInfo } from 'node:net';
import { format } from 'node:util';

/** TIMEOUT bounds every wait of these tests. */
export const TIMEOUT = 10_000;

/** Capture is a stand-in for `console` that records each line. */
export interface Capture {
  readonly lines: string[];
  readonly errors: unknown[];
  log(...args: unknown[]): void;
  error(...args: unknown[]): void;
  /** waitFor resolves with the first line matching `pattern` (already printed or to come). */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** waitForLines resolves once `count` lines match `pattern`, with them. */
  waitForLines(pattern: RegExp | string, count: number, ms?: number): Promise<string[]>;
}

/** capture makes a Capture; a test shadows `console` with it so the example's code stays as written. */
export function capture(): Capture {
  const lines: string[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const matches = (pattern: RegExp | string) => (line: string) =>
    typeof pattern === 'string' ? line === pattern : pattern.test(line);
  const waitForLines = (pattern: RegExp | string, count: number, ms = TIMEOUT) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const found = lines.filter(matches(pattern));
        if (found.length < count) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found.slice(0, count));
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${count} x ${pattern}; printed: ${JSON.stringify(lines)}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    lines,
    errors,
    log(...args) {
      lines.push(format(...args));
      wake();
    },
    error(...args) {
      errors.push(args[0]);
      lines.push(`error: ${format(...args)}`);
      wake();
    },
    waitFor: (pattern, ms) => waitForLines(pattern, 1, ms).then((found) => found[0]!),
    waitForLines,
  };
}

/** portOf is the port a server listens on. */
export function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

/** until resolves when `emitter` emits `name` (with its arguments), rejecting after the deadline. */
export function until<T extends unknown[] = unknown[]>(
  emitter: { once(name: string, fn: (...args: never[]) => void): unknown },
  name: string,
  ms = TIMEOUT,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${name}`)), ms);
    emitter.once(name, ((...args: T) => {
      clearTimeout(timer);
      resolve(args);
    }) as unknown as (...args: never[]) => void);
  });
}
