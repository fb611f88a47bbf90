// The exchanges every interop pair goes through, each on a fresh connection: subprotocol
// negotiation, text with multi-byte UTF-8, binary, empty messages, 1 MiB messages, ping/pong both
// ways (when the peer can ping), and a close with code and reason initiated by each side.

import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { DuplexServerFixture, type DuplexServerFixtureOptions } from './duplex-peer.js';
import { type Endpoint, type Observed, sha256, withTimeout } from './endpoint.js';
import {
  ALL_BYTES,
  bigBinary,
  bigText,
  CHOSEN_PROTOCOL,
  MIB,
  OFFERED_PROTOCOLS,
  UTF8_TEXT,
} from './payloads.js';

/** One connection between Duplex and an independent implementation. */
export interface Pair {
  duplex: Endpoint;
  peer: Endpoint;
  /** The subprotocols the server side (whichever it is) saw in the client's request. */
  offeredSeenByServer: string[];
}

export interface PairSpec {
  /** Opens a fresh connection, the client offering OFFERED_PROTOCOLS; undefined when skipped. */
  connect(t: TestContext): Promise<Pair | undefined>;
  /** Whether the peer's API can send a ping (a browser's cannot). */
  peerCanPing: boolean;
}

const TEST_TIMEOUT = 60_000;

/** interopScenarios registers the shared exchanges as tests of the enclosing describe(). */
export function interopScenarios(spec: PairSpec): void {
  const scenario = (name: string, body: (pair: Pair, t: TestContext) => Promise<void>) =>
    it(name, { timeout: TEST_TIMEOUT }, async (t) => {
      const pair = await spec.connect(t);
      if (!pair) return;
      try {
        await body(pair, t);
        assertNoErrors(pair.duplex);
        assertNoErrors(pair.peer);
      } finally {
        await Promise.allSettled([pair.duplex.dispose(), pair.peer.dispose()]);
      }
    });

  scenario('negotiates the subprotocol the server picks', async ({ duplex, peer, offeredSeenByServer }) => {
    assert.deepEqual(offeredSeenByServer, OFFERED_PROTOCOLS);
    assert.equal(duplex.protocol, CHOSEN_PROTOCOL, `${duplex.name} protocol`);
    assert.equal(peer.protocol, CHOSEN_PROTOCOL, `${peer.name} protocol`);
  });

  scenario('text with multi-byte UTF-8, both ways', async ({ duplex, peer }) => {
    await duplex.sendText(UTF8_TEXT);
    await expectMessage(peer, 'text', UTF8_TEXT);
    await peer.sendText(UTF8_TEXT);
    await expectMessage(duplex, 'text', UTF8_TEXT);
  });

  scenario('binary with every byte value, both ways', async ({ duplex, peer }) => {
    await duplex.sendBinary(ALL_BYTES);
    await expectMessage(peer, 'binary', ALL_BYTES);
    await peer.sendBinary(ALL_BYTES);
    await expectMessage(duplex, 'binary', ALL_BYTES);
  });

  scenario('empty text and empty binary messages keep their type and order, both ways', async (pair) => {
    for (const [from, to] of [
      [pair.duplex, pair.peer],
      [pair.peer, pair.duplex],
    ] as const) {
      await from.sendText('');
      await from.sendBinary(Buffer.alloc(0));
      await from.sendText('after');
      await expectMessage(to, 'text', '');
      await expectMessage(to, 'binary', Buffer.alloc(0));
      await expectMessage(to, 'text', 'after');
    }
  });

  scenario('1 MiB text and 1 MiB binary messages, both ways', async ({ duplex, peer }) => {
    const text = bigText(MIB);
    const binary = bigBinary(MIB);
    assert.equal(Buffer.byteLength(text), MIB);
    await duplex.sendText(text);
    await duplex.sendBinary(binary);
    await expectMessage(peer, 'text', text);
    await expectMessage(peer, 'binary', binary);
    await peer.sendText(text);
    await peer.sendBinary(binary);
    await expectMessage(duplex, 'text', text);
    await expectMessage(duplex, 'binary', binary);
  });

  scenario('messages at the frame-length boundaries keep content and order, both ways', async (pair) => {
    // RFC 6455 5.2: 7-bit lengths up to 125, 16-bit up to 65535, 64-bit above.
    const sizes = [1, 125, 126, 127, 65535, 65536, 65537];
    const messages = sizes.flatMap((n, i) => [
      { type: 'binary' as const, data: bigBinary(n + i).subarray(i) },
      { type: 'text' as const, data: bigText(n) },
    ]);
    for (const [from, to] of [
      [pair.duplex, pair.peer],
      [pair.peer, pair.duplex],
    ] as const) {
      for (const m of messages) {
        if (m.type === 'text') await from.sendText(m.data);
        else await from.sendBinary(m.data);
      }
      for (const m of messages) await expectMessage(to, m.type, m.data);
    }
  });

  scenario('a ping from Duplex gets a pong with the same payload', async ({ duplex }) => {
    assert.ok(duplex.ping, `${duplex.name} has ping()`);
    const payload = Buffer.from('ping from Duplex ✓');
    await duplex.ping(payload);
    const pong = await duplex.events.take((e) => e.kind === 'pong', `${duplex.name}: pong`);
    assert.deepEqual(pong, { kind: 'pong', data: payload });
  });

  if (spec.peerCanPing) {
    scenario(
      'a ping from the peer gets a pong from Duplex with the same payload',
      async ({ peer, duplex }) => {
        const payload = Buffer.from([0, 1, 2, 0xfe, 0xff, ...Buffer.from('ping from peer')]);
        await peer.ping!(payload);
        const pong = await peer.events.take((e) => e.kind === 'pong', `${peer.name}: pong`);
        assert.deepEqual(pong, { kind: 'pong', data: payload });
        // The ping is answered by the protocol layer; no message surfaces on Duplex's side.
        await duplex.sendText('still open');
        await expectMessage(peer, 'text', 'still open');
      },
    );
  }

  scenario('close with code and reason initiated by Duplex', async ({ duplex, peer }) => {
    const reason = 'bye from Duplex ✓';
    await duplex.close(4001, reason);
    const seen = await takeClose(peer);
    assert.equal(seen.code, 4001, `${peer.name} close code`);
    assert.equal(seen.reason, reason, `${peer.name} close reason`);
    if (seen.wasClean !== undefined) assert.equal(seen.wasClean, true, `${peer.name} wasClean`);
    const own = await takeClose(duplex);
    // RFC 6455 5.5.1: the peer echoes the status code it received.
    assert.equal(own.code, 4001, `${duplex.name} close code (the peer's echo)`);
    if (own.wasClean !== undefined) assert.equal(own.wasClean, true, `${duplex.name} wasClean`);
  });

  scenario('close with code and reason initiated by the peer', async ({ duplex, peer }) => {
    const reason = 'bye from the peer ✓';
    await peer.close(4002, reason);
    const seen = await takeClose(duplex);
    assert.equal(seen.code, 4002, `${duplex.name} close code`);
    assert.equal(seen.reason, reason, `${duplex.name} close reason`);
    if (seen.wasClean !== undefined) assert.equal(seen.wasClean, true, `${duplex.name} wasClean`);
    const own = await takeClose(peer);
    assert.equal(own.code, 4002, `${peer.name} close code (Duplex's echo)`);
    if (own.wasClean !== undefined) assert.equal(own.wasClean, true, `${peer.name} wasClean`);
  });
}

/**
 * serverShutdownScenario registers a test of a graceful `WebSocketServer.close()` with a foreign
 * client: the client gets a clean close with 1001 (going away) and close() resolves.
 */
export function serverShutdownScenario(
  options: () => Promise<DuplexServerFixtureOptions>,
  openPeer: (t: TestContext, url: string) => Promise<Endpoint | undefined>,
): void {
  it('WebSocketServer.close() closes the peer with 1001 and resolves', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await DuplexServerFixture.start(await options());
    let peer: Endpoint | undefined;
    try {
      peer = await openPeer(t, server.url);
      if (!peer) return;
      const { endpoint: duplex } = await server.nextConnection();
      await duplex.sendText(UTF8_TEXT);
      await expectMessage(peer, 'text', UTF8_TEXT);
      await withTimeout(server.wss.close(), 20_000, 'WebSocketServer.close()');
      const seen = await takeClose(peer);
      assert.equal(seen.code, 1001, `${peer.name} close code`);
      if (seen.wasClean !== undefined) assert.equal(seen.wasClean, true, `${peer.name} wasClean`);
      const own = await takeClose(duplex);
      assert.equal(own.code, 1001, `${duplex.name} close code (the peer's echo)`);
      assertNoErrors(peer);
      assertNoErrors(duplex);
    } finally {
      await peer?.dispose();
      await server.close();
    }
  });
}

/** expectMessage takes the next message the endpoint received and checks type and exact bytes. */
export async function expectMessage(
  ep: Endpoint,
  type: 'text' | 'binary',
  payload: string | Buffer,
): Promise<void> {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const what = `${ep.name}: ${type} message of ${bytes.length} bytes`;
  const ev = await ep.events.take((e) => e.kind === 'message', what);
  assert.ok(ev.kind === 'message');
  assert.equal(ev.type, type, `${what}: type`);
  assert.equal(ev.length, bytes.length, `${what}: length`);
  if (bytes.length <= 4096) {
    if (ev.bytes) assert.deepEqual(ev.bytes, bytes, `${what}: bytes`);
    if (typeof payload === 'string' && ev.text !== undefined) assert.equal(ev.text, payload, `${what}: text`);
  }
  assert.equal(ev.sha256, sha256(bytes), `${what}: SHA-256`);
}

async function takeClose(ep: Endpoint): Promise<Extract<Observed, { kind: 'close' }>> {
  const ev = await ep.events.take((e) => e.kind === 'close', `${ep.name}: close`);
  assert.ok(ev.kind === 'close');
  return ev;
}

function assertNoErrors(ep: Endpoint): void {
  const errors = ep.events.history.filter((e) => e.kind === 'error');
  assert.deepEqual(errors, [], `${ep.name} reported errors`);
}
