// `npm test` reports every test that ran, and a test file that does not end fails instead of
// hanging the run. Named after what broke: with --test-force-exit, the run of b18a979 reported the
// suite "Connection API misuse" with 1 of its 32 tests, `fail 0`, exit 0 (nodejs/node#64833).
// These tests run the runner's own arguments (scripts/lib/test-args.mjs) on fixture files.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Args = (files: string[], options?: { timeoutMs?: number }) => string[];
let nodeTestArgs: Args;
let dir: string;

before(async () => {
  const mod = (await import(pathToFileURL(path.join(root, 'scripts', 'lib', 'test-args.mjs')).href)) as {
    nodeTestArgs: Args;
  };
  nodeTestArgs = mod.nodeTestArgs;
  dir = mkdtempSync(path.join(tmpdir(), 'duplex-runner-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(files: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    // This file runs inside node --test: without NODE_TEST_CONTEXT the fixture run is a run of its own.
    const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
    const child = spawn(process.execPath, ['--test-reporter=tap', ...nodeTestArgs(files)], {
      cwd: dir,
      env: { ...parentEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

function count(out: string, what: string): number {
  const m = new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out);
  assert.ok(m, `no "# ${what}" line in:\n${out.slice(-2000)}`);
  return Number(m[1]);
}

describe('the test runner', () => {
  it('reports every test of files run side by side (no verdict lost at exit)', async () => {
    const files: string[] = [];
    for (let f = 0; f < 4; f++) {
      const file = path.join(dir, `many-${f}.test.mjs`);
      // Long names make each file's report large, which is what lost the tail under force-exit.
      writeFileSync(
        file,
        `import { describe, it } from 'node:test';
describe('many ${f}', () => { for (let i = 0; i < 300; i++) it('t' + i + ' ' + 'x'.repeat(2000), () => {}); });
`,
      );
      files.push(file);
    }
    const { code, out } = await run(files);
    assert.equal(count(out, 'tests'), 1200);
    assert.equal(count(out, 'pass'), 1200);
    assert.equal(count(out, 'fail'), 0);
    assert.equal(code, 0);
  });

  it('fails a file whose process stays open after its tests, naming what is open', async () => {
    const file = path.join(dir, 'leak.test.mjs');
    writeFileSync(
      file,
      `import { test } from 'node:test';
test('leaves an interval running', () => { setInterval(() => {}, 1000); });
`,
    );
    const { code, out } = await run([file], { DUPLEX_TEST_EXIT_GRACE_MS: '500' });
    assert.match(out, /leak\.test\.mjs is still running 500 ms after its tests ended; open: .*Timeout/);
    assert.equal(count(out, 'fail'), 1);
    assert.notEqual(code, 0);
  });

  it('lets a file that cleans up end on its own, without the guard firing', async () => {
    const file = path.join(dir, 'clean.test.mjs');
    writeFileSync(
      file,
      `import { test } from 'node:test';
import { createServer } from 'node:net';
test('opens and closes a server', async () => {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  await new Promise((r) => server.close(r));
});
`,
    );
    const { code, out } = await run([file], { DUPLEX_TEST_EXIT_GRACE_MS: '5000' });
    assert.doesNotMatch(out, /still running/);
    assert.equal(count(out, 'pass'), 1);
    assert.equal(code, 0);
  });
});
