// docs/cli.md shows what `duplex bench --report` draws: every image it references is in the
// repository and is a PNG, and the page documents every flag that `duplex bench --help` and
// `duplex connect --help` list.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(path.join(root, 'docs/cli.md'), 'utf8');

describe('docs/cli.md', () => {
  it('shows report screenshots that exist, as PNG files', () => {
    const images = [...doc.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    assert.ok(images.includes('img/bench-report.png'), 'the echo report screenshot is shown');
    for (const image of images) {
      const file = path.join(root, 'docs', image);
      assert.ok(existsSync(file), `${image} exists`);
      const head = readFileSync(file).subarray(0, 8);
      assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${image} is a PNG`);
    }
  });

  it('documents every long flag of duplex connect and duplex bench', () => {
    const cli = path.join(root, 'dist/cli/main.js');
    for (const command of ['connect', 'bench']) {
      const help = execFileSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8' });
      const flags = new Set([...help.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]));
      const missing = [...flags].filter((flag) => !doc.includes(`\`${flag}`) && !doc.includes(` ${flag}`));
      assert.deepEqual(missing, [], `duplex ${command} flags not in docs/cli.md`);
    }
  });
});
