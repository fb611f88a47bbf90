/**
 * The benchmark orchestrator works end to end: its quick path (one short echo run and one
 * echo over TLS of Duplex and ws, with the wss row's WHATWG-handler figure and its node:tls
 * and TLSWrap floors, driven by the repository's own load generator, the default)
 * prints the one table of ratios and the per-run table, and a short churn run prints its
 * memory table. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBench, runBench } from '../helpers/bench.js';

describe('bench harness', () => {
  it('runs a short echo and wss comparison and prints the Markdown tables', { timeout: 150_000 }, () => {
    buildBench();
    const run = runBench(
      'run.js',
      [
        '--quick',
        '--scenarios',
        'echo-32,wss',
        '--servers',
        'duplex,duplex-whatwg,ws,raw,raw-handle',
        '--duration',
        '0.5',
        '--warmup',
        '0.2',
      ],
      120_000,
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /\| scenario \| measure \| compared \| peer \| subject \| ratio \| target \| met\? \|/,
    );
    assert.match(
      run.stdout,
      /\| echo-32 \| echo, 100 connections, 32 B text: msg\/s \| Duplex \/ ws 8 \| [0-9,]+ msg\/s \| [0-9,]+ msg\/s \| \*\*[0-9.]+x\*\* \| >= 1\.05x \| (yes|\*\*no\*\*) \|/,
    );
    assert.match(
      run.stdout,
      /\| wss \| echo over TLS \(wss\), 100 connections, 32 B text: msg\/s \| Duplex \/ ws 8 \| [0-9,]+ msg\/s \| [0-9,]+ msg\/s \| \*\*[0-9.]+x\*\* \| >= 1\.2x \|/,
    );
    assert.match(run.stdout, /generator: bench\/load\.ts/);
    // The wss row's second Duplex figure (WHATWG handler) and its two floors.
    for (const label of [
      'Duplex, WHATWG handler',
      'raw node:tls socket \\(no WebSocket\\)',
      'raw TLSWrap handle',
    ])
      assert.match(run.stdout, new RegExp(`\\| wss \\| same: ${label}[^|]*\\| [^|]+ / ws 8 \\|`), run.stdout);
    // Every run of every server, plain and over TLS, echoed messages and saw no error (the raw
    // floors' echoes are checked byte for byte by the generator as the others are).
    const ran = {
      'echo-32': ['duplex', 'ws', 'raw'],
      wss: ['duplex', 'duplex-whatwg', 'ws', 'raw', 'raw-handle'],
    };
    for (const [scenario, servers] of Object.entries(ran))
      for (const server of servers)
        assert.match(
          run.stdout,
          new RegExp(
            `\\| ${scenario} \\| ${server} \\| [1-9][0-9,]* \\| [1-9][0-9,]* msg/s \\| [0-9]+ \\| [0-9.]+ \\| 0 \\|`,
          ),
          run.stdout,
        );
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
