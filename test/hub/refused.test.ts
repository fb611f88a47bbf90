/**
 * The Hub passes on its WebSocketServer's `refused` event (issue 13: refusals counted by reason):
 * one event per refused upgrade, with the code and the status written on the wire.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { type HandshakeRefusal, WebSocket } from 'duplexjs';
import { startHub, type TestHub } from '../helpers/hub-client.js';

/** refusedStatus opens a Duplex WebSocket and resolves with the HTTP status it was refused with. */
async function refusedStatus(url: string, protocols?: string | string[], headers?: Record<string, string>) {
  const ws = new WebSocket(url, protocols, { headers });
  return new Promise<number>((resolve, reject) => {
    ws.addEventListener('open', () => reject(new Error('accepted')));
    ws.addEventListener('error', (event) => resolve((event.error as { status: number }).status));
  });
}

describe('Hub `refused` event', () => {
  let t: TestHub;
  afterEach(() => t?.stop());

  it('a client without duplex.v1, a foreign origin and the connection cap each emit one event', async () => {
    t = await startHub({ websocket: { maxConnections: 1 } });
    const events: { refusal: HandshakeRefusal; req: IncomingMessage }[] = [];
    t.hub.on('refused', (refusal, req) => events.push({ refusal, req }));

    assert.equal(await refusedStatus(t.url), 400);
    assert.equal(await refusedStatus(t.url, 'duplex.v1', { Origin: 'http://evil.example' }), 403);
    await t.connect();
    assert.equal(await refusedStatus(t.url, 'duplex.v1'), 503);

    assert.deepEqual(
      events.map((e) => [e.refusal.code, e.refusal.status]),
      [
        ['DUPLEX_HANDSHAKE_NO_SUBPROTOCOL', 400],
        ['DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED', 403],
        ['DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS', 503],
      ],
    );
    assert.ok(events.every((e) => e.req.url === '/hub'));
  });
});
