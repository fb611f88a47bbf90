// The arguments `npm test` gives `node --test`, shared by scripts/test.mjs and the test that holds
// the runner to its word (test/runner.test.ts).
//
// Why not --test-force-exit: with files run side by side, Node's forced exit can end a file's
// process before the parent has read the file's last results, and the run then reports fewer tests
// than ran, with `fail 0` and exit 0 (nodejs/node#64833; seen here: a suite of 32 tests reported as
// 1). Instead, test-exit-guard.mjs is preloaded into each file's process: a file whose process is
// still alive EXIT_GRACE_MS after its last test fails loudly, naming what keeps it open, and a
// per-test timeout bounds a test that hangs.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const guard = path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-exit-guard.mjs');

/** PER_TEST_TIMEOUT_MS bounds one test (node --test's --test-timeout). */
export const PER_TEST_TIMEOUT_MS = 180_000;

/** nodeTestArgs is the argv (after the node binary) that runs `files` the way `npm test` does. */
export function nodeTestArgs(files, { timeoutMs = PER_TEST_TIMEOUT_MS } = {}) {
  return ['--import', guard, '--test', `--test-timeout=${timeoutMs}`, ...files];
}
