/**
 * src/node/stream-wire.ts applies the wire's own HIGH_WATER_MARK (src/node/wire.ts), the one
 * the handle path uses, whatever high-water mark the Duplex under it was built with: write
 * answers false at the mark and wireDrain comes once when the bytes fell below it.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import type * as StreamWireModule from '../../dist/node/stream-wire.js';
import type * as WireModule from '../../dist/node/wire.js';

const { StreamWire } = (await import(
  new URL('../../../dist/node/stream-wire.js', import.meta.url).href
)) as typeof StreamWireModule;
const { HIGH_WATER_MARK } = (await import(
  new URL('../../../dist/node/wire.js', import.meta.url).href
)) as typeof WireModule;

/** slowDuplex holds every write until release() is called, with the given high-water mark. */
function slowDuplex(writableHighWaterMark: number) {
  const pending: Array<() => void> = [];
  const socket = new Duplex({
    writableHighWaterMark,
    read() {},
    write(_chunk, _encoding, callback) {
      pending.push(callback);
    },
  });
  const release = () => {
    for (const callback of pending.splice(0)) callback();
  };
  return { socket, release, pending };
}

function listener() {
  const seen = { drains: 0, errors: [] as Error[] };
  return {
    seen,
    wire: {
      wireData() {},
      wireEnd() {},
      wireError: (error: Error) => seen.errors.push(error),
      wireClose() {},
      wireDrain: () => seen.drains++,
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('StreamWire high-water mark', () => {
  for (const duplexMark of [1024, HIGH_WATER_MARK, 1024 * 1024]) {
    it(`answers false at the wire's mark over a Duplex whose own mark is ${duplexMark}`, async () => {
      const { socket, release, pending } = slowDuplex(duplexMark);
      const { seen, wire: l } = listener();
      const wire = new StreamWire(socket, l);
      wire.start(undefined);
      const half = Buffer.alloc(HIGH_WATER_MARK / 2 - 1);
      assert.equal(wire.write([half]), true);
      assert.equal(wire.write([half]), true, 'below the mark');
      assert.equal(wire.write([Buffer.alloc(2)]), false, 'at the mark');
      assert.equal(wire.write([Buffer.alloc(10)]), false, 'above the mark');
      assert.equal(wire.buffered, HIGH_WATER_MARK + 10);
      for (let i = 0; i < 20 && (pending.length > 0 || wire.buffered > 0); i++) {
        await tick();
        release();
      }
      await tick();
      assert.equal(wire.buffered, 0);
      assert.equal(seen.drains, 1, 'one drain once below the mark');
      assert.equal(wire.write([Buffer.alloc(1)]), true);
      wire.destroy();
      assert.deepEqual(seen.errors, []);
    });
  }
});
