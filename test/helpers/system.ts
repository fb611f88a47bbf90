// requireSystem gates a test on a Debian package that the interop suite drives as a peer.
// Without the package a test skips loudly, except under CI=true, where it fails: CI installs
// the packages (scripts/system-deps.mjs), so a missing one there is a broken setup, not a skip.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The peers a test can require, each named after its Debian package. */
export type SystemPackage = 'chromium' | 'python3-websockets' | 'redis-server';

/** CHROMIUM_PATH is Debian's chromium binary, launched by playwright-core. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** REDIS_SERVER_PATH is Debian's redis-server binary, spawned by test/helpers/redis-server.ts. */
export const REDIS_SERVER_PATH = '/usr/bin/redis-server';

/** SYSTEM_PYTHON is Debian's python3: python3-websockets is importable only there (not pyenv's). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const cache = new Map<SystemPackage, boolean>();

function probe(what: SystemPackage): boolean {
  switch (what) {
    case 'chromium':
      return existsSync(CHROMIUM_PATH);
    case 'redis-server':
      return existsSync(REDIS_SERVER_PATH);
    case 'python3-websockets':
      return (
        existsSync(SYSTEM_PYTHON) &&
        spawnSync(SYSTEM_PYTHON, ['-c', 'import websockets'], { stdio: 'ignore', timeout: 10_000 }).status ===
          0
      );
  }
}

/** hasSystem tells whether the Debian package is installed and usable (cached per process). */
export function hasSystem(what: SystemPackage): boolean {
  let ok = cache.get(what);
  if (ok === undefined) {
    ok = probe(what);
    cache.set(what, ok);
  }
  return ok;
}

/** The part of node:test's TestContext that requireSystem uses. */
export interface SkippableContext {
  skip(message?: string): void;
}

/**
 * requireSystem returns true when the package is available. When it is not: under CI=true it
 * throws (the test fails, naming the package); otherwise it skips the test loudly and returns
 * false, and the caller returns at once.
 */
export function requireSystem(t: SkippableContext, what: SystemPackage): boolean {
  if (hasSystem(what)) return true;
  const message = `Debian package ${what} is missing: install it with \`apt-get install -y ${what}\``;
  if (process.env['CI'] === 'true') {
    throw new Error(`${message} (CI=true: a missing peer fails the test instead of skipping it)`);
  }
  process.stderr.write(`\n!!! SKIPPED: ${message}\n\n`);
  t.skip(`SKIPPED: install Debian package ${what}`);
  return false;
}
