/**
 * `idle`: memory per idle connection. The harness forces a GC in the server (SIGUSR2,
 * bench/gc-on-signal.ts) three times and takes the medians of what the server reports after
 * each (bench/memory-sampler.ts): V8 heap used + external, and RSS; it lets the generator
 * open N connections (10,000), waits, samples again: (after - before) / N of each. The
 * target, Duplex <= 0.75x ws, applies to both: to RSS, the figure the target was first set
 * on (issue 4) and what a user's monitoring sees, and to the heap figure, which counts what
 * each connection holds and does not move with the machine's load, where RSS moves with V8's
 * young-generation sizing and malloc (docs/design/idle-memory.md).
 */
import { detail, type LoadSpec, type Measure, ratioRows, runRounds } from '../lib/load-runner.js';
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
    const target = { op: '<=', value: 0.75 } as const;
    const rows = ratioRows(spec, runs, target);
    const rss: Record<string, Measure[]> = {};
    for (const [server, ms] of Object.entries(runs))
      rss[server] = ms.map((m) => ({ ...m, value: m.rss ?? Number.NaN }));
    for (const r of ratioRows(spec, rss, target)) {
      const { headline: _, target: __, ...row } = r;
      rows.push({
        ...row,
        ...(r.headline ? { target } : {}),
        measure: r.headline
          ? 'same: RSS (VmRSS) per connection after GC'
          : `same, RSS: ${r.measure.replace(/^same: /, '')}`,
      });
    }
    for (const r of rows) r.digits = 3;
    return { scenario: 'idle', rows, detail: detail(spec, runs), json: runs };
  },
};
