/**
 * bun finds the Bun binary the benchmarks compare with, installing it on demand into a cache
 * outside the repository (never a devDependency: CI would download it on every run):
 *   npm install --prefix ~/.cache/duplex-bench/bun bun@1
 * DUPLEX_BENCH_CACHE moves the cache. npm may skip Bun's postinstall script (which only links
 * the binary), so the binary is looked for where the package keeps it either way.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** BUN_CACHE is where Bun is installed: outside the repository, kept between runs. */
export const BUN_CACHE = path.join(
  process.env['DUPLEX_BENCH_CACHE'] ?? path.join(homedir(), '.cache', 'duplex-bench'),
  'bun',
);

function candidates(): string[] {
  const modules = path.join(BUN_CACHE, 'node_modules');
  const platform = `bun-${process.platform}-${process.arch}`;
  return [
    path.join(modules, '@oven', platform, 'bin', 'bun'),
    path.join(modules, 'bun', 'bin', 'bun.exe'),
    path.join(modules, 'bun', 'bin', 'bun'),
  ];
}

/** bunVersion is the version a binary reports, or undefined when it does not run. */
function bunVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export interface BunBinary {
  path: string;
  version: string;
}

/** cachedBun is the Bun binary in the cache when one is there and runs; it never installs. */
export function cachedBun(): BunBinary | undefined {
  for (const c of candidates()) {
    if (!existsSync(c)) continue;
    const version = bunVersion(c);
    if (version) return { path: c, version };
  }
  return undefined;
}

/**
 * ensureBun returns the cached Bun binary, or installs bun@1 into the cache (once, bounded to
 * 5 minutes) and returns it; undefined with the reason on stderr when that fails.
 */
export function ensureBun(): BunBinary | undefined {
  const found = cachedBun();
  if (found) return found;
  process.stderr.write(`bench: installing Bun into ${BUN_CACHE} (npm install bun@1, once)\n`);
  mkdirSync(BUN_CACHE, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', BUN_CACHE, '--no-audit', '--no-fund', 'bun@1'], {
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  const installed = r.status === 0 ? cachedBun() : undefined;
  if (!installed)
    process.stderr.write(
      `bench: Bun could not be installed (${r.error?.message ?? `npm exited with ${r.status}`}); skipping Bun\n${r.stderr ?? ''}`,
    );
  return installed;
}
