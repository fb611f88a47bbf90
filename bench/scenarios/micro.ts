/**
 * `micro`: the micro-benchmarks of the protocol core (bench/micro.ts: frame parsing, masking,
 * building frames, the Connection state machine), run pinned to the server's CPU; their own
 * tables are printed after the report's.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Scenario } from '../lib/scenario.js';

export const micro: Scenario = {
  name: 'micro',
  inDefault: true,
  async run(ctx) {
    const { pin } = ctx;
    const argv = [
      ...pin.server,
      process.execPath,
      path.join(ctx.dir, 'micro.js'),
      ...(ctx.o.quick ? ['--quick'] : []),
    ];
    const r = spawnSync(argv[0]!, argv.slice(1), {
      encoding: 'utf8',
      timeout: 10 * 60_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`micro-benchmarks failed (${r.status ?? r.signal})`);
    return { scenario: 'micro', rows: [], text: r.stdout };
  },
};
