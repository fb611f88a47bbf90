/**
 * Every DUPLEX_* code lives in a typed `as const` table: ErrorCode (src/protocol/error-codes.ts)
 * for the core, HubErrorCode (src/wire/codes.ts) for the hub; docs/errors.md lists each one. These tests hold
 * the three together both ways: a code in a table that the doc does not list, a code the doc
 * lists that no table has, or a code written in src/ outside the tables, fails.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from 'duplexjs/protocol';
import type * as Codes from '../../dist/wire/codes.js';

const { HubErrorCode } = (await import(
  new URL('../../../dist/wire/codes.js', import.meta.url).href
)) as typeof Codes;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CODE = /DUPLEX_[A-Z0-9_]+/g;
/** Names of the DUPLEX_ form that are not error codes: environment variables. */
const NOT_CODES = new Set(['DUPLEX_STREAM_IO']);

/** sourceFiles lists the TypeScript files under src/, depth first. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const tables = [...Object.values(ErrorCode), ...Object.values(HubErrorCode)] as string[];

describe('error codes: one table, documented in docs/errors.md', () => {
  it('no code is in both tables, and each key names its own code', () => {
    assert.equal(new Set(tables).size, tables.length);
    for (const [key, code] of Object.entries({ ...ErrorCode, ...HubErrorCode })) {
      const words = code.replace(/^DUPLEX_(HUB_)?/, '').split('_');
      const pascal = words.map((w) => w[0] + w.slice(1).toLowerCase()).join('');
      assert.equal(key.toLowerCase(), pascal.toLowerCase(), `${key} names ${code}`);
    }
  });

  it('docs/errors.md lists every code of the tables, and no other', () => {
    const doc = readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8');
    const documented = new Set((doc.match(CODE) ?? []).filter((code) => !NOT_CODES.has(code)));
    const missing = tables.filter((code) => !documented.has(code));
    const unknown = [...documented].filter((code) => !tables.includes(code));
    assert.deepEqual({ missing, unknown }, { missing: [], unknown: [] });
  });

  it('every DUPLEX_* code written in src/ is in a table', () => {
    const unknown = new Map<string, string>();
    for (const file of sourceFiles(path.join(root, 'src'))) {
      for (const code of readFileSync(file, 'utf8').match(CODE) ?? []) {
        if (!tables.includes(code) && !NOT_CODES.has(code)) unknown.set(code, path.relative(root, file));
      }
    }
    assert.deepEqual(Object.fromEntries(unknown), {});
  });
});
