import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import * as redis from 'duplexjs/redis';

/** loadedModules imports the given entry points in a fresh node and lists the CommonJS modules it loaded. */
function loadedModules(entries: string[]): string[] {
  const source = `
    import { createRequire } from 'node:module';
    ${entries.map((e) => `await import(${JSON.stringify(e)});`).join('\n')}
    const cache = createRequire(import.meta.url)('node:module')._cache;
    process.stdout.write(JSON.stringify(Object.keys(cache)));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

describe('duplexjs/redis exports', () => {
  it('is the deliberate list', () => {
    assert.deepEqual(Object.keys(redis).sort(), ['redisBroker']);
  });

  it('loads ioredis only from duplexjs/redis: importing duplexjs and duplexjs/hub never does', () => {
    const core = loadedModules(['duplexjs', 'duplexjs/hub', 'duplexjs/client']);
    assert.equal(
      core.filter((f) => f.includes(`${'node_modules'}/ioredis`)).length,
      0,
      `ioredis was loaded: ${core.join(', ')}`,
    );
    const withRedis = loadedModules(['duplexjs/redis']);
    assert.ok(
      withRedis.some((f) => f.includes('node_modules/ioredis')),
      'the check sees ioredis when duplexjs/redis is imported',
    );
  });
});
