import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('docs/errors.md', () => {
  it('lists every error code that src/ can raise', () => {
    const codes = new Set<string>();
    for (const file of sourceFiles(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(DUPLEX_[A-Z0-9_]+)'/g)) codes.add(m[1]!);
    }
    assert.ok(codes.size > 20, `found only ${codes.size} codes: is the scan looking in the right place?`);
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``)).sort();
    assert.deepEqual(missing, []);
  });
});
