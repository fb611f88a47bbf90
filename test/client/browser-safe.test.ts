// src/client must run in browsers: every file under it imports only from src/client itself
// (./) and from src/wire (../wire/), and src/wire only from itself, transitively. And it type
// checks against the DOM library without Node's types (tsconfig.client.json).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** importsOf lists every module specifier a TypeScript source imports or re-exports (comments aside). */
export function importsOf(text: string): string[] {
  const source = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) specifiers.push(m[1]!);
  return specifiers;
}

/** violations walks the imports from `entries` and lists every one that leaves src/client and src/wire. */
function violations(entries: string[]): string[] {
  const clientDir = path.join(root, 'src/client');
  const wireDir = path.join(root, 'src/wire');
  const seen = new Set<string>();
  const bad: string[] = [];
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const inWire = file.startsWith(wireDir + path.sep);
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const allowed = specifier.startsWith('./') || (!inWire && specifier.startsWith('../wire/'));
      const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
      const inside = target.startsWith(clientDir + path.sep) || target.startsWith(wireDir + path.sep);
      if (!allowed || !inside) {
        bad.push(`${path.relative(root, file)} imports '${specifier}'`);
        continue;
      }
      assert.ok(
        existsSync(target),
        `${path.relative(root, file)} imports '${specifier}', which does not exist`,
      );
      queue.push(target);
    }
  }
  return bad;
}

const clientFiles = readdirSync(path.join(root, 'src/client'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => path.join(root, 'src/client', f));

describe('src/client is browser-safe', () => {
  it('finds the import forms it looks for (checked on a sample)', () => {
    const sample = [
      "import { a } from './a.js';",
      "import type { B } from '../wire/messages.js';",
      "export { c } from 'node:events';",
      "import {\n  d,\n  e,\n} from 'node:buffer';",
      "import 'side-effect';",
      "const f = await import('node:fs');",
      "/** use `import { WebSocket } from 'duplexjs'` in Node */",
      "// import { x } from 'in-a-comment';",
    ].join('\n');
    assert.deepEqual(importsOf(sample).sort(), [
      '../wire/messages.js',
      './a.js',
      'node:buffer',
      'node:events',
      'node:fs',
      'side-effect',
    ]);
  });

  it('imports nothing but ./ and ../wire/, transitively', () => {
    assert.ok(clientFiles.length >= 5, `found only ${clientFiles.length} files`);
    assert.deepEqual(violations(clientFiles), []);
  });

  it('type checks with the DOM library and without Node types (tsconfig.client.json)', () => {
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.client.json')], {
      cwd: root,
      encoding: 'utf8',
    });
  });
});
