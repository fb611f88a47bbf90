/**
 * wsload compiles the C load generator beside the project (shared/tools/wsload.c), for the
 * opt-in cross-checks only: `npm run bench -- --generator wsload` and `npm run bench:agreement`.
 * `npm run bench` itself needs nothing from outside the repository. The source is named by
 * WSLOAD_SRC (or, where a caller allows it, a default path); the binary goes to a fresh
 * temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** compileWsload returns the binary's path, or throws saying what is missing. */
export function compileWsload(src: string | undefined): string {
  if (!src) throw new Error('--generator wsload needs WSLOAD_SRC=path/to/wsload.c');
  if (!existsSync(src)) throw new Error(`wsload source not found: ${src}`);
  const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!cc) throw new Error('compiling wsload needs a C compiler (cc, gcc or clang)');
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'duplex-bench-')), 'wsload');
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', out, src], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`compiling ${src} failed:\n${r.stderr}`);
  return out;
}
