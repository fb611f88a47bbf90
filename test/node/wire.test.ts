import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { encodeFrame, Op, openTcp, upgradeRequest } from '../helpers/raw-client.js';
import { checkLentReads } from './lent-reads.js';
import { nextEmit, nextEvent, sleep, startServer, stop } from './util.js';

// src/node/wire.ts: plain TCP connections move from node:net's Socket to their libuv
// handle after the upgrade (the handle path); everything else, or DUPLEX_STREAM_IO=1,
// stays on the stream path. Both must behave the same.

const streamIo = process.env.DUPLEX_STREAM_IO === '1';

describe('connection wire', () => {
  it('releases the upgraded Socket on the handle path; its peer address stays readable', async () => {
    const { wss, url } = await startServer();
    const connected = nextEmit<[WebSocket, import('node:http').IncomingMessage]>(wss, 'connection');
    const client = new WebSocket(url);
    const [server, request] = await connected;
    server.addEventListener('message', (e) => server.send(e.data));
    assert.equal(request.socket.remoteAddress, '127.0.0.1');
    assert.equal(typeof request.socket.remotePort, 'number');
    assert.equal(request.socket.destroyed, !streamIo, 'the Socket is destroyed once its handle moved');
    await nextEvent(client, 'open');
    const echoed = nextEvent<{ type: string; data: unknown }>(client, 'message');
    client.send('through the wire');
    assert.equal((await echoed).data, 'through the wire');
    client.close();
    await nextEvent(client, 'close');
    await stop(wss);
  });

  it('keeps intact what it read from the read buffer all plain connections share: messages, pings, split frames, bytes held while paused', async () => {
    const { wss, port } = await startServer({ maxPayload: 1024 * 1024 });
    try {
      await checkLentReads(wss, async () => {
        const peer = await openTcp(port);
        await peer.send(Buffer.from(upgradeRequest(`127.0.0.1:${port}`), 'latin1'));
        assert.match((await peer.readHead()).startLine, /^HTTP\/1\.1 101 /);
        return peer;
      });
    } finally {
      await stop(wss);
    }
  });

  it('delivers frames sent with the handshake and during a slow authenticate, in order', async () => {
    const { wss, port } = await startServer({
      authenticate: async () => {
        await sleep(150);
        return true;
      },
    });
    wss.on('connection', (ws) => ws.addEventListener('message', (e) => ws.send(e.data)));
    const peer = await openTcp(port);
    try {
      const request = upgradeRequest(`127.0.0.1:${port}`);
      const frame = (text: string) =>
        encodeFrame({ opcode: Op.TEXT, payload: Buffer.from(text), mask: true });
      // The first frame rides in the handshake's own segment (the upgrade's `head`), the
      // next ones arrive while authenticate is pending (held by the Socket until the 101).
      await peer.send(Buffer.concat([Buffer.from(request, 'latin1'), frame('one')]));
      await sleep(40);
      await peer.send(frame('two'));
      await sleep(40);
      await peer.send(frame('three'));
      const head = await peer.readHead();
      assert.match(head.startLine, /^HTTP\/1\.1 101 /);
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await peer.readFrame()).payload.toString());
      assert.deepEqual(got, ['one', 'two', 'three']);
    } finally {
      peer.destroy();
      await stop(wss);
    }
  });
});
