/**
 * The hub benchmark (issue 9: `npm run bench:hub`) works end to end on a tiny, short run: the
 * Duplex hub and Socket.IO 4 each serve one room, several rooms and idle subscribed
 * connections, driven by bench/hub-load.ts in both protocols; the table of ratios and the
 * per-run table come out well-formed, with deliveries and no errors for both servers. No
 * timing is asserted: the machine is shared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBench, runBench } from '../helpers/bench.js';

const NUMBER = '-?[0-9][0-9,]*';

describe('bench:hub', () => {
  it('runs hub-room, hub-rooms and hub-idle for the hub and Socket.IO and prints the tables', {
    timeout: 150_000,
  }, () => {
    buildBench();
    const run = runBench(
      'run.js',
      [
        '--quick',
        '--scenarios',
        'hub-room,hub-rooms,hub-idle',
        '--rounds',
        '1',
        '--duration',
        '0.5',
        '--warmup',
        '0.2',
        '--subscribers',
        '20',
        '--rooms',
        '3',
        '--room-subscribers',
        '4',
        '--idle-connections',
        '30',
      ],
      120_000,
    );
    assert.equal(run.status, 0, run.stderr);
    const out = run.stdout;
    assert.match(
      out,
      /\| scenario \| Socket\.IO 4 \| Duplex hub \| Duplex \/ Socket\.IO \| target \| met\? \|/,
    );
    assert.match(out, /generator bench\/hub-load\.ts/);
    assert.match(out, /\| one room: 20 subscribers, 1 publisher, 64 B, window 16: deliveries\/s \|/);
    assert.match(out, /\| 3 rooms of 4 subscribers, a publisher each, 64 B, window 16: deliveries\/s \|/);
    assert.match(
      out,
      /\| memory per idle connection with one subscription \(30 connections in 3 rooms\): RSS after GC \|/,
    );
    for (const server of ['duplex hub', 'socket.io']) {
      for (const scenario of ['hub-room', 'hub-rooms']) {
        // Deliveries happened (a nonzero rate), none dropped, no stall, no error.
        assert.match(
          out,
          new RegExp(
            `\\| ${scenario} \\| ${server} \\| [1-9][0-9,]* \\| [1-9][0-9,]* deliveries/s \\| [0-9,]+ \\| ${NUMBER} \\| ${NUMBER} \\| 0 \\| 0 \\| 0 \\|`,
          ),
          out,
        );
      }
      // Memory figures are numbers (tiny counts make them noisy; no sign is asserted), no error.
      assert.match(
        out,
        new RegExp(
          `\\| hub-idle \\| ${server} \\| ${NUMBER} \\| ${NUMBER} B/conn RSS \\| heap ${NUMBER} B/conn \\| n/a \\| n/a \\| 0 \\| 0 \\| 0 \\|`,
        ),
        out,
      );
    }
  });
});
