import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The handle path of src/node/wire.ts is what every other test exercises on plain TCP;
// this runs the connection suites again with DUPLEX_STREAM_IO=1, the stream path that
// TLS, foreign sockets and a Node without the stream binding take.

describe('stream path', () => {
  it('passes the connection tests on the stream path too (DUPLEX_STREAM_IO=1)', () => {
    const build = fileURLToPath(new URL('../', import.meta.url));
    const files = [
      'conformance/messages.test.js',
      'conformance/close.test.js',
      'conformance/framing.test.js',
      'node/backpressure.test.js',
      'node/lifecycle.test.js',
      'node/broadcast.test.js',
      'node/hostile/slow.test.js',
      'node/event-target.test.js',
      'node/server-modes.test.js',
      'node/wire.test.js',
      'node/tls-wire.test.js',
    ].map((f) => build + f);
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], {
      // Without NODE_TEST_CONTEXT the nested runner reports in TAP instead of to this runner.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, DUPLEX_STREAM_IO: '1' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const summary = (name: string) =>
      Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(run.stdout)?.[1] ?? -1);
    assert.equal(
      run.status,
      0,
      run.stdout
        .split('\n')
        .filter((l) => /not ok/.test(l))
        .join('\n') || run.stderr,
    );
    assert.equal(summary('fail'), 0);
    assert.ok(summary('pass') > 200, `only ${summary('pass')} tests passed on the stream path`);
  });
});
