#!/usr/bin/env node
// Builds the browser bundle of duplexjs/client: dist/duplex-client.js (one ES module exporting
// HubClient and the rest of src/client/index.ts, minified) and its source map. `npm run build`
// runs it after tsc; `duplex serve` serves the file at /duplex-client.js.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [path.join(root, 'src/client/index.ts')],
  outfile: path.join(root, 'dist/duplex-client.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
