/**
 * `broadcast`: N subscribers (1,000) and one publisher that keeps 16 messages (64 B text, a
 * timestamp and a sequence number) not yet delivered to every subscriber; the figure is
 * deliveries per second. Duplex (`duplex broadcast --no-deflate`, the core's one prepared
 * frame for all) beside a ws relay looping over `wss.clients`, the raw floor (a write per
 * socket, and batched per event-loop turn) and Bun's publish. Target: Duplex >= 4x ws.
 */
import { detail, type LoadSpec, ratioRows, runRounds } from '../lib/load-runner.js';
import { int } from '../lib/proc.js';
import type { Scenario } from '../lib/scenario.js';

export const broadcast: Scenario = {
  name: 'broadcast',
  inDefault: true,
  fds: (o) => o.subscribers + 200,
  async run(ctx) {
    const spec: LoadSpec = {
      name: 'broadcast',
      title: `broadcast 64 B to ${int(ctx.o.subscribers)} subscribers, window 16`,
      unit: 'msg/s',
      servers: ['duplex', 'ws', 'raw', 'raw-batched', 'bun'],
      serverMode: 'relay',
      generatorArgs: ['-c', String(ctx.o.subscribers), '--broadcast', '-s', '64', '--window', '16'],
      connections: ctx.o.subscribers,
    };
    const runs = await runRounds(ctx, spec);
    const rows = ratioRows(spec, runs, { op: '>=', value: 4 });
    rows[0]!.measure = `${spec.title}: deliveries/s`;
    return { scenario: 'broadcast', rows, detail: detail(spec, runs), json: runs };
  },
};
