/**
 * The echo scenarios: N connections, one message in flight each, every message echoed.
 * Duplex (`duplex echo --no-deflate`) beside ws 8, the raw node:net floor and Bun where it
 * installs; msgs/s and the p99 round trip, Duplex / ws the headline.
 *
 * - `echo-32`: 100 connections, 32 B text (target >= 1.05x ws);
 * - `echo-16k`: 100 connections, 16 KiB binary (>= 1.8x);
 * - `echo-1m`: 10 connections, 1 MiB binary (>= 1.8x).
 */
import { detail, type LoadSpec, ratioRows, runRounds } from '../lib/load-runner.js';
import type { Target } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';

function echo(
  name: string,
  title: string,
  connections: number,
  size: number,
  binary: boolean,
  target: Target,
): Scenario {
  const spec: LoadSpec = {
    name,
    title,
    unit: 'msg/s',
    servers: ['duplex', 'ws', 'raw', 'bun'],
    serverMode: 'echo',
    generatorArgs: ['-c', String(connections), '-k', '1', '-s', String(size), binary ? '--binary' : '--text'],
    connections,
  };
  return {
    name,
    inDefault: true,
    fds: () => connections + 200,
    async run(ctx) {
      const runs = await runRounds(ctx, spec);
      return { scenario: name, rows: ratioRows(spec, runs, target), detail: detail(spec, runs), json: runs };
    },
  };
}

export const echo32 = echo('echo-32', 'echo, 100 connections, 32 B text', 100, 32, false, {
  op: '>=',
  value: 1.05,
});
export const echo16k = echo('echo-16k', 'echo, 100 connections, 16 KiB binary', 100, 16384, true, {
  op: '>=',
  value: 1.8,
});
export const echo1m = echo('echo-1m', 'echo, 10 connections, 1 MiB binary', 10, 1_048_576, true, {
  op: '>=',
  value: 1.8,
});
