import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../helpers/fake-clock.js';

// Heartbeat is internal (src/node/heartbeat.ts): its unit tests load it from the build.
type HeartbeatModule = typeof import('../../dist/node/heartbeat.js');
const { Heartbeat } = (await import(
  new URL('../../../dist/node/heartbeat.js', import.meta.url).href
)) as HeartbeatModule;

/** Peer records what a Heartbeat did to it. */
class Peer {
  pings = 0;
  terminated = 0;
  paused = false;
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated++;
  }
  isPaused(): boolean {
    return this.paused;
  }
}

const options = { interval: 1_000, timeout: 400 };

describe('Heartbeat on a fake clock', () => {
  it('pings after interval without a byte, terminates when nothing comes within timeout', () => {
    const clock = new FakeClock();
    const peer = new Peer();
    new Heartbeat(options, peer, clock);
    clock.advance(999);
    assert.deepEqual([peer.pings, peer.terminated], [0, 0]);
    // Sweeps run every quarter of the shorter period (100 ms): the ping goes at 1,000.
    clock.advance(1);
    assert.deepEqual([peer.pings, peer.terminated], [1, 0]);
    clock.advance(399);
    assert.deepEqual([peer.pings, peer.terminated], [1, 0]);
    clock.advance(1);
    assert.deepEqual([peer.pings, peer.terminated], [1, 1]);
    assert.equal(clock.pending, 0, 'a terminated heartbeat leaves no timer');
  });

  it('any byte counts as life: a touch after the ping keeps the connection', () => {
    const clock = new FakeClock();
    const peer = new Peer();
    const heartbeat = new Heartbeat(options, peer, clock);
    clock.advance(1_000);
    assert.equal(peer.pings, 1);
    heartbeat.touch();
    clock.advance(400);
    assert.equal(peer.terminated, 0);
    // Idle again from the sweep that saw the byte: the next ping comes one interval later.
    clock.advance(1_000);
    assert.deepEqual([peer.pings, peer.terminated], [2, 0]);
    heartbeat.stop();
  });

  it('a peer busy sending is never pinged', () => {
    const clock = new FakeClock();
    const peer = new Peer();
    const heartbeat = new Heartbeat(options, peer, clock);
    for (let i = 0; i < 50; i++) {
      heartbeat.touch();
      clock.advance(100);
    }
    assert.deepEqual([peer.pings, peer.terminated], [0, 0]);
    heartbeat.stop();
  });

  it('a paused connection is neither pinged nor terminated', () => {
    const clock = new FakeClock();
    const peer = new Peer();
    const heartbeat = new Heartbeat(options, peer, clock);
    peer.paused = true;
    clock.advance(10_000);
    assert.deepEqual([peer.pings, peer.terminated], [0, 0]);
    peer.paused = false;
    clock.advance(1_000);
    assert.equal(peer.pings, 1);
    heartbeat.stop();
  });

  it('connections with the same settings share one timer; stop removes it with the last one', () => {
    const clock = new FakeClock();
    const a = new Heartbeat(options, new Peer(), clock);
    const b = new Heartbeat(options, new Peer(), clock);
    assert.equal(clock.pending, 1);
    a.stop();
    assert.equal(clock.pending, 1);
    b.stop();
    assert.equal(clock.pending, 0);
  });
});
