/**
 * The core is sans-I/O (docs/design/close-ownership.md, STYLE.md habit 1): src/protocol
 * imports nothing of Node's I/O. biome's noRestrictedImports (biome.json, run by `npm run
 * lint`) names the forbidden modules; this test holds the same boundary the other way round,
 * as an allow list, so that a module nobody thought to forbid, a bare specifier or a dynamic
 * import() cannot slip past either.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/protocol/', import.meta.url));

/** ALLOWED are the Node modules the core may use: hashing and randomness, Buffer, zlib's primitives for deflate. */
const ALLOWED = new Set(['node:crypto', 'node:buffer', 'node:zlib']);

/** specifiers lists every module a source text imports: static imports, re-exports and import(). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\brequire\s*\(\s*['"`]([^'"`]+)['"`]/g)) out.push(m[1]!);
  return out;
}

describe('src/protocol is sans-I/O', () => {
  it('imports only its own files and node:crypto, node:buffer, node:zlib (no net, tls, http, timers, streams)', () => {
    const files = readdirSync(SRC).filter((name) => name.endsWith('.ts'));
    assert.ok(files.length > 10, `found the core's files in ${SRC}`);
    const outside: string[] = [];
    for (const name of files) {
      for (const spec of specifiers(readFileSync(`${SRC}${name}`, 'utf8'))) {
        if (spec.startsWith('./')) continue;
        if (!ALLOWED.has(spec)) outside.push(`${name}: ${spec}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  it('the check sees each kind of import', () => {
    const probe = [
      "import { Socket } from 'node:net';",
      "import * as http from 'http';",
      "export { setTimeout } from 'node:timers';",
      "import 'tls';",
      "const t = await import('node:timers/promises');",
    ].join('\n');
    assert.deepEqual(specifiers(probe), ['node:net', 'http', 'node:timers', 'tls', 'node:timers/promises']);
  });
});
