/**
 * The permessage-deflate benchmark (bench/deflate.ts) works end to end on its quick path:
 * Duplex and ws servers, deflate-load clients that negotiate deflate and check the first
 * replies byte for byte, and the Markdown table. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBench, runBench } from '../helpers/bench.js';

describe('bench:deflate', () => {
  it('runs the quick path for both servers and prints the table', { timeout: 150_000 }, () => {
    buildBench();
    const run = runBench(
      'deflate.js',
      [
        '--quick',
        '--scenarios',
        'json-1k,memory',
        '--duration',
        '0.5',
        '--warmup',
        '0.3',
        '--memory-connections',
        '20',
      ],
      120_000,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\| scenario \| ws 8, perMessageDeflate \| Duplex \| Duplex \/ ws \|/);
    assert.match(run.stdout, /\| echo 1 KiB JSON, 100 connections, context takeover: throughput \|/);
    assert.match(run.stdout, /\| same: wire \/ payload \(lower is better\) \| 0\.\d+ \| 0\.\d+ \|/);
    assert.match(
      run.stdout,
      /\| memory per connection, 20 connections x 4 msgs of 1 KiB, no context takeover \|/,
    );
    for (const scenario of ['json-1k', 'memory']) {
      for (const mode of ['takeover', 'no-takeover']) {
        for (const server of ['duplex', 'ws']) {
          // Every reply compressed, replies verified against what was sent, no errors.
          const row = new RegExp(
            `\\| ${scenario} \\| ${mode} \\| ${server} \\| .* \\| 100 % \\| ([1-9]\\d*) \\| 0 \\|`,
          );
          assert.match(run.stdout, row, `${scenario} ${mode} ${server}`);
        }
      }
    }
  });
});
