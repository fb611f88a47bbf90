/**
 * `idle`: memory per idle connection. The harness forces a GC in the server (SIGUSR2,
 * bench/gc-on-signal.ts), reads its RSS, lets the generator open N connections (10,000),
 * waits, forces a GC again and reads RSS: (after - before) / N. Target: Duplex <= 0.75x ws.
 */
import { detail, type LoadSpec, ratioRows, runRounds } from '../lib/load-runner.js';
import { int } from '../lib/proc.js';
import type { Scenario } from '../lib/scenario.js';

export const idle: Scenario = {
  name: 'idle',
  inDefault: true,
  fds: (o) => o.idleConnections + 200,
  async run(ctx) {
    const spec: LoadSpec = {
      name: 'idle',
      title: `memory per idle connection, ${int(ctx.o.idleConnections)} open`,
      unit: 'B/conn',
      servers: ['duplex', 'ws', 'raw', 'bun'],
      serverMode: 'echo',
      generatorArgs: ['-c', String(ctx.o.idleConnections), '--idle'],
      connections: ctx.o.idleConnections,
    };
    const runs = await runRounds(ctx, spec);
    const rows = ratioRows(spec, runs, { op: '<=', value: 0.75 });
    for (const r of rows) r.digits = 3;
    return { scenario: 'idle', rows, detail: detail(spec, runs), json: runs };
  },
};
