#!/usr/bin/env node
// `npm run fuzz`: the fuzz properties of the test suite (test/protocol/fuzz-*.test.ts, test/node/fuzz-*.test.ts,
// test/hub/fuzz-*.test.ts), run much longer than `npm test` runs them. Outside CI: minutes.
//
// Usage: npm run fuzz [-- path-prefix ...]
//   FUZZ_SCALE=N   multiply every property's `npm test` run count by N (default here: 50)
//   FUZZ_RUNS=N    run every property exactly N times instead
//   FUZZ_SEED=S    replay the seed fast-check printed for a failure
// The build is expected to be fresh (the npm script runs build and build:test first).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prefixes = process.argv.slice(2);
const targets =
  prefixes.length > 0
    ? prefixes
    : ['build/test/protocol/fuzz-', 'build/test/node/fuzz-', 'build/test/hub/fuzz-'];
const env = { ...process.env };
if (env.FUZZ_RUNS === undefined && env.FUZZ_SCALE === undefined) env.FUZZ_SCALE = '50';
console.error(
  `fuzz: ${env.FUZZ_RUNS ? `${env.FUZZ_RUNS} runs per property` : `run counts x${env.FUZZ_SCALE}`}` +
    (env.FUZZ_SEED ? `, seed ${env.FUZZ_SEED}` : ''),
);

const child = spawn(process.execPath, [path.join(root, 'scripts', 'test.mjs'), ...targets], {
  stdio: 'inherit',
  cwd: root,
  env,
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
