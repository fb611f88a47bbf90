#!/usr/bin/env node
// system-deps makes sure the Debian packages that the interop suite drives are installed:
// `chromium` (the browser peer), `python3-websockets` (the Python peer, run by /usr/bin/python3) and
// `redis-server` (spawned by the Redis broker tests).
//
// When one is missing and we are root with apt-get at hand, it runs `apt-get update` once and
// `apt-get install -y` for what is missing. Otherwise it prints a loud warning naming the packages.
// It is idempotent: when everything is present it only asks dpkg, which takes milliseconds.
//
// Exit code: 0 when everything is present afterwards; 0 with a warning when something is still
// missing outside CI (the tests that need it skip loudly); 1 when something is missing under CI=true.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Each Debian package, with the file or check that proves it is usable. */
const PACKAGES = [
  { name: 'chromium', present: () => existsSync('/usr/bin/chromium') },
  { name: 'redis-server', present: () => existsSync('/usr/bin/redis-server') },
  {
    name: 'python3-websockets',
    present: () =>
      existsSync('/usr/bin/python3') &&
      spawnSync('/usr/bin/python3', ['-c', 'import websockets'], { stdio: 'ignore' }).status === 0,
  },
];

const isCI = process.env.CI === 'true';

function dpkgInstalled(name) {
  // dpkg-query's own format placeholder, not a template string.
  const format = '-f=$' + '{Status}';
  const r = spawnSync('dpkg-query', ['-W', format, name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'install ok installed';
}

function isPresent(pkg) {
  // dpkg tells fast; the usability check guards against a half-removed package.
  return dpkgInstalled(pkg.name) && pkg.present();
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function warn(lines) {
  const bar = '!'.repeat(78);
  console.error(['', bar, ...lines.map((l) => `!!! ${l}`), bar, ''].join('\n'));
}

function run(cmd, args) {
  console.error(`system-deps: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

const missing = PACKAGES.filter((p) => !isPresent(p));
if (missing.length === 0) process.exit(0);

const names = missing.map((p) => p.name);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

if (isRoot && which('apt-get')) {
  // Wait for another apt/dpkg run (e.g. a background install) instead of failing on its lock.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  run('apt-get', [...lock, 'update']);
  run('apt-get', [...lock, 'install', '-y', ...names]);
}

const stillMissing = PACKAGES.filter((p) => !isPresent(p)).map((p) => p.name);
if (stillMissing.length === 0) {
  console.error(`system-deps: installed ${names.join(', ')}`);
  process.exit(0);
}

warn([
  `Missing Debian package(s): ${stillMissing.join(', ')}`,
  `Install them with: apt-get install -y ${stillMissing.join(' ')}`,
  isCI
    ? 'CI=true: the interop tests that need them will FAIL.'
    : 'The interop tests that need them will be SKIPPED (they fail under CI=true).',
]);
process.exit(isCI ? 1 : 0);
