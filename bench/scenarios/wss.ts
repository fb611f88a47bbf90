/**
 * `wss`: echo over TLS, 100 connections, 32 B text, one message in flight each: Duplex beside
 * ws 8, both on node:https with one certificate made at bench time (bench/lib/cert.ts), driven
 * by bench/load.ts --tls (wsload speaks no TLS). TLS connections take Duplex's TLS handle
 * path (the TLSWrap driven directly, src/node/tls-wire.ts), not the TCP handle path of plain
 * connections, so this is its own row. Target: Duplex >= 1.2x ws. Duplex and ws run the same
 * handler source (ws's `on('message', (data, isBinary) => ...)`); Duplex's WHATWG handler
 * (`event.data`, text as a string) is a second figure. Two floors show what is left for any
 * library: a raw node:tls socket echoing bytes (what a library on the TLSSocket stream pays
 * at least, as ws does) and a raw TLSWrap handle echo (the floor of Duplex's TLS path).
 */
import { makeCert } from '../lib/cert.js';
import { detail, type LoadSpec, ratioRows, runRounds } from '../lib/load-runner.js';
import type { BenchOptions, Scenario } from '../lib/scenario.js';

/** wssRounds is 5 unless --rounds (or --quick) says otherwise. */
export function wssRounds(o: BenchOptions): number {
  return o.roundsGiven || o.quick ? o.rounds : Math.max(o.rounds, 5);
}

export const wss: Scenario = {
  name: 'wss',
  inDefault: true,
  fds: () => 300,
  describe: (ctx) => [
    "wss: echo over TLS (TLS 1.3, P-256 certificate made with openssl at bench time), bench/servers/tls-echo.ts (node:https + Duplex / ws, both with the handler `ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))`; Duplex WHATWG: `addEventListener('message', (e) => ws.send(e.data))`), floors bench/servers/raw.ts --cert (node:tls socket; --handle: TLSWrap), generator bench/load.ts --tls",
    ...(wssRounds(ctx.o) !== ctx.o.rounds
      ? [
          `wss: ${wssRounds(ctx.o)} rounds (one wss run moves by 20 % or more on a shared machine; --rounds sets it)`,
        ]
      : []),
    ...(ctx.o.wssCpuShare < 1
      ? [
          `wss: each server held to ${Math.round(ctx.o.wssCpuShare * 100)} % of CPU 0 (CFS quota; the TLS generator costs about what a server does per message, so unthrottled the row measures the generator: docs/design/wss-bench.md; --wss-cpu-share 1 turns it off)`,
        ]
      : []),
  ],
  async run(ctx) {
    const files = makeCert();
    if (typeof files === 'string') {
      ctx.log(`bench: wss skipped: ${files}`);
      return { scenario: 'wss', rows: [], text: `wss: not measured: ${files}` };
    }
    try {
      const spec: LoadSpec = {
        name: 'wss',
        title: 'echo over TLS (wss), 100 connections, 32 B text',
        unit: 'msg/s',
        servers: ['duplex', 'duplex-whatwg', 'ws', 'raw', 'raw-handle'],
        serverMode: 'echo',
        generatorArgs: ['-c', '100', '-k', '1', '-s', '32', '--text'],
        connections: 100,
        tls: { cert: files.cert, key: files.key },
        ...(ctx.o.wssCpuShare < 1 ? { serverCpuShare: ctx.o.wssCpuShare } : {}),
      };
      // One wss run's msg/s moves by 20 % or more on a shared machine (the quota's slices fall
      // as they may): 5 rounds by default, so that the median does not hang on one of them.
      const rounds = wssRounds(ctx.o);
      const runs = await runRounds(rounds === ctx.o.rounds ? ctx : { ...ctx, o: { ...ctx.o, rounds } }, spec);
      return {
        scenario: 'wss',
        rows: ratioRows(spec, runs, { op: '>=', value: 1.2 }),
        detail: detail(spec, runs),
        json: runs,
      };
    } finally {
      files.remove();
    }
  },
};
