/**
 * bench helps the tests of bench/: buildBench compiles bench/ (bench/tsconfig.json) into
 * build/bench, runBench runs one of its compiled scripts to completion, bounded in time.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** buildBench compiles bench/ and fails the test with tsc's output when that fails. */
export function buildBench(): void {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'bench', 'tsconfig.json')], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  assert.equal(build.status, 0, build.stdout + build.stderr);
}

/** runBench runs build/bench/`script` with `args`, killed after `timeoutMs`. */
export function runBench(script: string, args: string[], timeoutMs: number): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(root, 'build', 'bench', script), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}
