/**
 * checkLentReads: on the handle path every connection of a kind (plain TCP, TLS) reads into
 * one buffer, lent to the parser for each read (src/node/handle-wire.ts SharedRead). What a
 * message keeps must be a copy, and so must an incomplete frame, the frames behind a message
 * and the bytes held while reading is paused, before the next read (of any connection)
 * overwrites the buffer. Two connections: A's listeners keep everything they get, B echoes so
 * that its reads overwrite the buffer between A's.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'duplexjs';
import { encodeFrame, type FrameSocket, Op } from '../helpers/raw-client.js';
import { nextEmit, sleep, withTimeout } from './util.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const text = (payload: string) => encodeFrame({ opcode: Op.TEXT, payload: Buffer.from(payload), mask: true });
const bin = (payload: Buffer) => encodeFrame({ opcode: Op.BINARY, payload, mask: true });

/** until waits (bounded) for `ready()`. */
async function until(ready: () => boolean, what: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!ready()) await sleep(10);
    })(),
    what,
  );
}

/** checkLentReads runs the scenario on `wss` (maxPayload >= 64 KiB), `open` opening a client after the handshake. */
export async function checkLentReads(wss: WebSocketServer, open: () => Promise<FrameSocket>): Promise<void> {
  const kept: Buffer[] = [];
  const pings: Buffer[] = [];
  const first = nextEmit<[WebSocket, IncomingMessage]>(wss, 'connection');
  const a = await open();
  const [wsA] = await first;
  wsA.on('message', (data) => kept.push(data as Buffer));
  wsA.on('ping', (data) => pings.push(data));
  const second = nextEmit<[WebSocket, IncomingMessage]>(wss, 'connection');
  const b = await open();
  const [wsB] = await second;
  wsB.on('message', (data, isBinary) => wsB.send(data, { binary: isBinary }));
  try {
    /** noise: B sends and gets back n messages, so the shared buffer is overwritten n times. */
    const noise = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const payload = randomBytes(30 + i * 50);
        await b.send(bin(payload));
        assert.deepEqual((await b.readFrame()).payload, payload);
      }
    };
    const expected = [randomBytes(200), Buffer.from('two: text of forty bytes, more or less..')];
    // Two messages and a ping in one write: the parser stops at the first message, and the
    // rest of the read must outlive the listener that runs next.
    await a.send(
      Buffer.concat([
        bin(expected[0]!),
        encodeFrame({ opcode: Op.PING, payload: Buffer.from('p1'), mask: true }),
        text(expected[1]!.toString()),
      ]),
    );
    assert.equal((await a.readFrame()).opcode, Op.PONG);
    await noise(3);
    // A frame cut in two writes, with the other connection's reads in between.
    expected.push(randomBytes(100));
    const split = bin(expected[2]!);
    await a.send(split.subarray(0, 40));
    await sleep(20);
    await noise(3);
    await a.send(split.subarray(40));
    // A message larger than one read (a TLS record is 16 KiB; a plain read up to 64 KiB).
    expected.push(randomBytes(200_000));
    await a.send(bin(expected[3]!));
    await noise(2);
    await until(() => kept.length >= 4, 'the first four messages');
    // Bytes that arrive while the application paused reading are held for later.
    wsA.pause();
    expected.push(Buffer.from('five'), randomBytes(70));
    await a.send(Buffer.concat([text('five'), bin(expected[5]!)]));
    await sleep(100);
    await noise(3);
    assert.equal(kept.length, 4, 'nothing is delivered while paused');
    wsA.resume();
    await until(() => kept.length >= 6, 'all six messages');
    assert.equal(kept.length, 6);
    for (let i = 0; i < 6; i++) assert.equal(sha(kept[i]!), sha(expected[i]!), `message ${i + 1}`);
    assert.deepEqual(pings.map(String), ['p1']);
  } finally {
    a.destroy();
    b.destroy();
  }
}
