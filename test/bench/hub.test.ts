/**
 * The hub benchmark (issue 9: `npm run bench:hub`) works end to end on a tiny, short run: the
 * Duplex hub and Socket.IO 4 each serve one room, several rooms and idle subscribed
 * connections, driven by bench/hub-load.ts in both protocols; the table of ratios and the
 * per-run table come out well-formed, with deliveries and no errors for both servers. No
 * timing is asserted: the machine is shared.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildBench, runBench } from '../helpers/bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** HubWire is the part of build/bench/lib/hub-wire.js checked here (bench/ is compiled apart). */
interface HubWire {
  STAMP: number;
  stampedData(size: number, tsUs: number, seq: number, filler: string): string;
  fillerFor(size: number): string;
  classify(protocol: string, buf: Buffer, length: number, total: number, stamp: Stamp): string;
  deliveryStamp(protocol: string, buf: Buffer, start: number, end: number, stamp: Stamp): boolean;
}
interface Stamp {
  tsUs: number;
  seq: number;
  hint?: number;
}

const NUMBER = '-?[0-9][0-9,]*';

describe('bench:hub', () => {
  it('reads both protocols as the generator must: stamps, deliveries, replies, pings', async () => {
    buildBench();
    const wire = (await import(
      pathToFileURL(path.join(root, 'build', 'bench', 'lib', 'hub-wire.js')).href
    )) as HubWire;
    const data = wire.stampedData(64, 123_456_789.4, 0xabcdef, wire.fillerFor(64));
    assert.equal(data.length, 64);
    const stamp: Stamp = { tsUs: 0, seq: 0 };
    const check = (protocol: string, text: string, kind: string, fast: boolean) => {
      const buf = Buffer.from(text);
      stamp.tsUs = 0;
      stamp.seq = 0;
      assert.equal(wire.classify(protocol, buf, buf.length, buf.length, stamp), kind, `${protocol}: ${text}`);
      if (kind === 'delivery') assert.deepEqual([stamp.tsUs, stamp.seq], [123_456_789, 0xabcdef]);
      // The fast path finds the same stamp in the middle of a larger chunk.
      const chunk = Buffer.concat([Buffer.from('xx'), buf, Buffer.from('"@0000')]);
      assert.equal(wire.deliveryStamp(protocol, chunk, 2, 2 + buf.length, stamp), fast, text);
    };
    const pub = `{"type":"pub","channel":"room-0","offset":7,"epoch":"e@1","data":"${data}"}`;
    check('duplex', pub, 'delivery', true);
    // The next pubs, found where the last one had its data (or one further: offset 10).
    check('duplex', pub.replace('"offset":7', '"offset":8'), 'delivery', true);
    check('duplex', pub.replace('"offset":7', '"offset":10'), 'delivery', true);
    check('duplex', pub.replace('"epoch":"e@1"', '"epoch":"a-longer-epoch"'), 'delivery', true);
    check(
      'duplex',
      '{"type":"connected","id":1,"client":"c","user":"","pingIntervalMs":25000}',
      'connected',
      false,
    );
    check('duplex', '{"type":"subscribed","id":2,"channel":"room-0","recovered":false}', 'subscribed', false);
    check('duplex', '{"type":"published","id":9,"channel":"room-0","offset":8,"epoch":"e1"}', 'ack', false);
    check('duplex', '{"type":"ping"}', 'ping', false);
    check('duplex', '{"type":"error","id":9,"code":"DUPLEX_HUB_FORBIDDEN","message":"no"}', 'error', false);
    check('socketio', `42["msg","${data}"]`, 'delivery', true);
    check('socketio', '0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000}', 'open', false);
    check('socketio', '40{"sid":"y"}', 'connected', false);
    check('socketio', '2', 'ping', false);
    check('socketio', '4312[]', 'ack', false);
    check('socketio', '44{"message":"refused"}', 'error', false);
  });

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
    assert.match(out, /\| scenario \| measure \| compared \| peer \| subject \| ratio \| target \| met\? \|/);
    assert.match(
      out,
      /\| hub-room \| one room: .* \| Duplex hub \/ Socket\.IO 4 \| [0-9,]+ \| [0-9,]+ \| \*\*[0-9.]+x\*\* \| >= 10x \|/,
    );
    assert.match(out, /generator bench\/hub-load\.ts/);
    assert.match(out, /\| one room: 20 subscribers, 1 publisher, 64 B, window 64: deliveries\/s \|/);
    assert.match(out, /\| 3 rooms of 4 subscribers, a publisher each, 64 B, window 64: deliveries\/s \|/);
    // Both servers' CPU and the load generator's, beside the ratios (issue 9: "show its CPU").
    assert.match(
      out,
      /\| same: CPU used, server \/ load generator [^|]*\| Duplex hub \/ Socket\.IO 4 \| [0-9,]+ % \/ [0-9,]+ % \| [0-9,]+ % \/ [0-9,]+ % \|/,
    );
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
