/**
 * Slow and silent clients (issue 2: "a client that sends the request one byte a second
 * (closed at the handshake timeout)"). A WebSocketServer with `handshakeTimeout: 1000` must
 * end such connections long before their request could complete, never answer them with
 * 101, and keep serving good clients meanwhile, also with 200 half-open connections pending.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { goodRoundTrip, handshakeRequest, Peer } from './peer.js';
import { type ServerTarget, startServerTarget } from './targets.js';

const HANDSHAKE_TIMEOUT = 1_000;
/** The latest a connection may end after its handshake timeout (timer granularity and scheduling). */
const GRACE = 2_000;

function assertNoUpgrade(peer: Peer): void {
  const got = peer.received.toString('latin1');
  assert.ok(
    !got.startsWith('HTTP/1.1 101'),
    `the server upgraded a connection it should have dropped:\n${got}`,
  );
}

describe('handshake timeout (WebSocketServer with handshakeTimeout 1000 ms)', { timeout: 60_000 }, () => {
  let target: ServerTarget;
  before(async () => {
    target = await startServerTarget({ handshakeTimeout: HANDSHAKE_TIMEOUT });
  });
  after(async () => {
    await target?.stop();
  });

  test('a client sending its request one byte a second is closed at the handshake timeout, without 101', async () => {
    const request = Buffer.from(handshakeRequest(target.port), 'latin1');
    const peer = await Peer.connect(target.port);
    let sent = 0;
    try {
      const deadline = peer.openedAt + HANDSHAKE_TIMEOUT + GRACE;
      while (!peer.ended && sent < request.length && Date.now() < deadline) {
        await peer.write(request.subarray(sent, sent + 1));
        sent++;
        await peer.waitEnded(1_000);
      }
      const ended = peer.ended || (await peer.waitEnded(Math.max(1, deadline - Date.now())));
      assert.ok(
        ended,
        `still open ${Date.now() - peer.openedAt} ms after connecting, ${sent} of ${request.length} bytes sent`,
      );
      assert.ok(sent < request.length, 'the whole request was sent before the server closed');
      assert.ok(
        peer.endedAt! - peer.openedAt <= HANDSHAKE_TIMEOUT + GRACE,
        `closed ${peer.endedAt! - peer.openedAt} ms after connecting`,
      );
      assertNoUpgrade(peer);
    } finally {
      peer.destroy();
    }
    await goodRoundTrip(target.port);
  });

  test('a client that connects and sends nothing is closed at the handshake timeout', async () => {
    const peer = await Peer.connect(target.port);
    try {
      assert.ok(
        await peer.waitEnded(HANDSHAKE_TIMEOUT + GRACE),
        `an idle connection was still open after ${HANDSHAKE_TIMEOUT + GRACE} ms`,
      );
      assert.equal(peer.received.toString('latin1').startsWith('HTTP/1.1 101'), false);
    } finally {
      peer.destroy();
    }
    await goodRoundTrip(target.port);
  });

  test('a client that sends all but the final CRLF is closed at the handshake timeout', async () => {
    const peer = await Peer.connect(target.port);
    try {
      await peer.write(handshakeRequest(target.port).slice(0, -2));
      assert.ok(
        await peer.waitEnded(HANDSHAKE_TIMEOUT + GRACE),
        `an unfinished request was still open after ${HANDSHAKE_TIMEOUT + GRACE} ms`,
      );
      assertNoUpgrade(peer);
    } finally {
      peer.destroy();
    }
    await goodRoundTrip(target.port);
  });

  test('an authenticate hook that never settles: closed at the handshake timeout, without 101', async () => {
    const hanging = await startServerTarget({
      handshakeTimeout: HANDSHAKE_TIMEOUT,
      authenticate: (req) => {
        // Only the test's marked request hangs; the good client after it is accepted.
        if (req.headers['x-hang'] !== undefined) return new Promise<boolean>(() => {});
        return true;
      },
    });
    try {
      const peer = await Peer.connect(hanging.port);
      try {
        await peer.write(handshakeRequest(hanging.port, { headers: { 'X-Hang': '1' } }));
        assert.ok(
          await peer.waitEnded(HANDSHAKE_TIMEOUT + GRACE),
          `a connection waiting on authenticate was still open after ${HANDSHAKE_TIMEOUT + GRACE} ms`,
        );
        assertNoUpgrade(peer);
      } finally {
        peer.destroy();
      }
      await goodRoundTrip(hanging.port);
    } finally {
      await hanging.stop();
    }
  });
});

describe('many half-open connections', { timeout: 60_000 }, () => {
  let target: ServerTarget;
  before(async () => {
    // The default-sized handshake timeout keeps the half-open connections pending during the check.
    target = await startServerTarget({ handshakeTimeout: 10_000 });
  });
  after(async () => {
    await target?.stop();
  });

  test('200 concurrent half-open connections do not stop a good client from being served', async () => {
    const halfOpen: Peer[] = [];
    try {
      const partial = handshakeRequest(target.port).slice(0, 40);
      const opened = await Promise.all(Array.from({ length: 200 }, () => Peer.connect(target.port)));
      halfOpen.push(...opened);
      await Promise.all(halfOpen.map((p, i) => (i % 2 === 0 ? p.write(partial) : Promise.resolve())));
      await goodRoundTrip(target.port);
      await goodRoundTrip(target.port);
      const upgraded = halfOpen.filter((p) => p.received.toString('latin1').startsWith('HTTP/1.1 101'));
      assert.equal(upgraded.length, 0, 'a half-open connection was upgraded');
    } finally {
      for (const p of halfOpen) p.destroy();
    }
    await goodRoundTrip(target.port);
  });
});
