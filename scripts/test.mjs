#!/usr/bin/env node
// The test runner behind `npm test`: checks the system packages the interop suite needs, then runs
// every compiled test file (build/test/**/*.test.js) with node's test runner.
//
// Usage: node scripts/test.mjs [path-prefix ...]
//   With prefixes (e.g. `test/interop` or `build/test/protocol`), only the matching files run.
//
// Node 20's `node --test` does not expand globs, so the file list is passed explicitly.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeTestArgs } from './lib/test-args.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, 'build', 'test');

const deps = spawnSync(process.execPath, [path.join(root, 'scripts', 'system-deps.mjs')], {
  stdio: 'inherit',
});
if (deps.status !== 0) {
  console.error(`test: scripts/system-deps.mjs failed (exit ${deps.status ?? deps.signal})`);
  process.exit(deps.status || 1);
}

/** walk lists the files under dir, depth first, in a stable order. */
function walk(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

// A compiled file whose source is gone (renamed or deleted test) is stale: skip it.
const all = walk(buildDir).filter((file) => {
  const source = path.join(root, 'test', path.relative(buildDir, file)).replace(/\.js$/, '.ts');
  if (existsSync(source)) return true;
  console.error(`test: skipping stale ${path.relative(root, file)} (no ${path.relative(root, source)})`);
  return false;
});

const prefixes = process.argv.slice(2).map((p) => path.relative(root, path.resolve(p)).replace(/\.ts$/, ''));
const files = prefixes.length
  ? all.filter((file) => {
      const rel = path.relative(root, file);
      const asSource = path.join('test', path.relative(buildDir, file));
      return prefixes.some((p) => rel.startsWith(p) || asSource.startsWith(p));
    })
  : all;

if (files.length === 0) {
  console.error(`test: no test files found under ${path.relative(root, buildDir)} (run npm run build:test)`);
  process.exit(1);
}

// scripts/lib/test-args.mjs says why there is no --test-force-exit and what bounds a file instead.
const child = spawn(process.execPath, nodeTestArgs(files), {
  stdio: 'inherit',
  cwd: root,
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`test: node --test ended by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
