/**
 * What an opening handshake leaves behind (docs/design/idle-memory.md, 2026-11-30): a
 * handshake without an `authenticate` hook is decided at once, with no promise and no
 * handshake timer; one with the hook is pending (bounded by handshakeTimeout, refused by
 * close()) until the hook answers, and leaves no timer behind either; an adopted socket
 * keeps both ends' addresses readable. Real sockets on loopback, a clock that counts timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClockTimer } from 'duplexjs';
import { FakeClock } from '../helpers/fake-clock.js';
import { connectRaw, openTcp, upgradeRequest } from '../helpers/raw-client.js';
import { nextConnection, startServer, stop } from './util.js';

/** CountingClock is a FakeClock that counts the timers set on it. */
class CountingClock extends FakeClock {
  set = 0;
  override setTimeout(callback: () => void, ms: number): ClockTimer {
    this.set++;
    return super.setTimeout(callback, ms);
  }
}

describe('what a handshake leaves behind', () => {
  it('without authenticate: decided at once, no handshake timer is set', async () => {
    const clock = new CountingClock();
    const { wss, port } = await startServer({ clock, heartbeat: false });
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const accepted = nextConnection(wss);
      const client = await connectRaw(port);
      assert.equal(client.response.status, 101);
      await accepted;
      clients.push(client);
    }
    assert.equal(clock.set, 0, 'a handshake without authenticate must not arm a timer');
    for (const client of clients) client.destroy();
    await stop(wss);
  });

  it('with authenticate: pending until the hook answers, and its timer is cleared', async () => {
    const clock = new CountingClock();
    const { wss, port } = await startServer({
      clock,
      heartbeat: false,
      authenticate: async () => true,
    });
    const accepted = nextConnection(wss);
    const client = await connectRaw(port);
    assert.equal(client.response.status, 101);
    await accepted;
    assert.equal(clock.set, 1, 'the handshake timeout is armed while authenticate decides');
    assert.equal(clock.pending, 0, 'and cleared once it answered');
    client.destroy();
    await stop(wss);
  });

  it('close() refuses a handshake still pending in authenticate with 503', async () => {
    const clock = new CountingClock();
    let asked!: () => void;
    const asking = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const { wss, port } = await startServer({
      clock,
      heartbeat: false,
      authenticate: () => {
        asked();
        return new Promise<boolean>(() => {});
      },
    });
    const raw = await openTcp(port);
    await raw.send(Buffer.from(upgradeRequest(`127.0.0.1:${port}`), 'latin1'));
    await asking;
    const closing = stop(wss);
    assert.equal((await raw.readHead()).status, 503);
    raw.destroy();
    await closing;
  });

  it("an adopted socket keeps both ends' addresses", async () => {
    const { wss, port } = await startServer({ heartbeat: false });
    const seen = new Promise<unknown[]>((resolve) => {
      wss.on('connection', (_ws, req) => {
        // Read after the adoption, on a later turn: the Socket has no handle any more.
        setImmediate(() => {
          const s = req.socket;
          resolve([s.localAddress, s.localPort, s.localFamily, s.remoteAddress, s.remoteFamily]);
        });
      });
    });
    const client = await connectRaw(port);
    assert.deepEqual(await seen, ['127.0.0.1', port, 'IPv4', '127.0.0.1', 'IPv4']);
    client.destroy();
    await stop(wss);
  });
});
