// The browser bundle dist/duplex-client.js (built by `npm run build` with esbuild): an ES module
// that exports HubClient, with a source map, no Node imports, small, and working.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { WebSocket } from 'duplexjs';
import type * as ClientModule from 'duplexjs/client';
import { startScriptedHub } from '../helpers/scripted-hub.js';

const bundlePath = fileURLToPath(new URL('../../../dist/duplex-client.js', import.meta.url));

/** The bundle's size budget: it is a client library for browsers. */
const MAX_BYTES = 40 * 1024;

describe('dist/duplex-client.js', () => {
  it('is a small ES module with a source map and no Node imports', (t) => {
    const code = readFileSync(bundlePath, 'utf8');
    const size = statSync(bundlePath).size;
    t.diagnostic(`bundle: ${size} bytes minified, ${gzipSync(code).length} bytes gzipped`);
    assert.ok(size < MAX_BYTES, `${size} bytes, over the ${MAX_BYTES} budget`);
    assert.match(code, /\bexport\s*\{[^}]*\bas HubClient\b/);
    assert.doesNotMatch(code, /["']node:/);
    assert.doesNotMatch(code, /\brequire\s*\(/);
    assert.doesNotMatch(code, /\bBuffer\b|\bprocess\.\w/);
    assert.match(code, /\/\/# sourceMappingURL=duplex-client\.js\.map\s*$/);
    const map = JSON.parse(readFileSync(`${bundlePath}.map`, 'utf8')) as {
      version: number;
      sources: string[];
    };
    assert.equal(map.version, 3);
    assert.ok(map.sources.some((s) => s.endsWith('src/client/hub-client.ts')));
  });

  it('exports the same names as duplexjs/client, and its HubClient connects', async () => {
    const bundle = (await import(pathToFileURL(bundlePath).href)) as typeof ClientModule;
    const module = await import('duplexjs/client');
    assert.deepEqual(Object.keys(bundle).sort(), Object.keys(module).sort());
    const hub = await startScriptedHub();
    const client = new bundle.HubClient(hub.url, { WebSocket, token: 'b' });
    try {
      const conn = await hub.accept();
      assert.equal((await conn.handshake()).token, 'b');
      const published = client.publish('x', { y: 1 });
      const message = await conn.expect('publish');
      conn.send({ type: 'published', id: message.id, channel: 'x', offset: 1, epoch: 'e' });
      assert.deepEqual(await published, { offset: 1, epoch: 'e' });
    } finally {
      client.close();
      await hub.close();
    }
  });
});
