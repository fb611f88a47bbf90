/**
 * The benchmark harness works end to end: its quick path (one short echo run of Duplex and
 * ws with the Node load generator) prints the results table, and a short churn run prints
 * its memory table. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBench, runBench } from '../helpers/bench.js';

describe('bench harness', () => {
  it('runs a short echo comparison and prints the Markdown table', { timeout: 120_000 }, () => {
    buildBench();
    const run = runBench(
      'run.js',
      [
        '--quick',
        '--scenarios',
        'echo-32',
        '--servers',
        'duplex,ws',
        '--generator',
        'node',
        '--duration',
        '0.5',
        '--warmup',
        '0.2',
      ],
      60_000,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\| scenario \| raw node:net, no WebSocket \| ws 8 \(pure JS\) \| Duplex \|/);
    assert.match(run.stdout, /\| echo, 100 connections, 32 B text \|/);
    assert.match(run.stdout, /generator: bench\/load\.ts/);
    assert.match(run.stdout, /\| echo-32 \| duplex \| .* \| 0 \|/, 'no errors');
  });

  it('runs a short churn of Duplex and ws and prints start, end, max and slope of memory', {
    timeout: 120_000,
  }, () => {
    const run = runBench(
      'run.js',
      ['--scenarios', 'churn', '--servers', 'duplex,ws', '--duration', '2', '--churn-connections', '50'],
      90_000,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\| server \| connections\/s \| msg\/s \| errors \| RSS start \/ end \/ max \|/);
    for (const server of ['duplex', 'ws']) {
      // Connections went through their whole life (a nonzero rate), none failed, and the
      // memory columns hold numbers.
      assert.match(
        run.stdout,
        new RegExp(
          `\\| ${server} \\| [1-9][0-9,]* \\| [1-9][0-9,]* \\| 0 \\| [0-9.]+ / [0-9.]+ / [0-9.]+ MB \\| -?[0-9.]+ MB/min \\|`,
        ),
        run.stdout,
      );
    }
  });
});
