// The package contract: its npm name is `duplexjs` (the name `duplex` belongs to an unrelated
// package), its command is `duplex`, and what `npm pack` ships carries the LICENSE.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
  license: string;
};

describe('package', () => {
  it('is named duplexjs on npm and installs the duplex command', () => {
    assert.equal(pkg.name, 'duplexjs');
    assert.deepEqual(Object.keys(pkg.bin), ['duplex']);
  });

  it('ships a LICENSE that matches the license field', () => {
    assert.ok(existsSync(path.join(root, 'LICENSE')));
    assert.match(readFileSync(path.join(root, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`));
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as { name: string; files: { path: string }[] }[];
    assert.equal(packed[0]?.name, 'duplexjs');
    const files = new Set(packed[0]?.files.map((f) => f.path));
    assert.ok(files.has('LICENSE'), 'LICENSE is in the tarball');
    assert.ok(files.has('dist/index.js'), 'the built entry point is in the tarball');
  });

  it('resolves its own name (the self-reference the docs and tests import)', async () => {
    const mod = await import('duplexjs');
    assert.equal(typeof mod.WebSocket, 'function');
  });
});
