/**
 * Compress-once broadcast (issue 3 point 4, RFC 7692): recipients that negotiated the same
 * parameters without server context takeover get one compressed frame, serialized once and
 * written to all of them; recipients with context takeover get the message compressed for
 * each of them; recipients without deflate get the plain frame.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inflateRawSync, constants as zlib } from 'node:zlib';
import { prepareMessage, WebSocket } from 'duplexjs';
import { PerMessageDeflate, type PerMessageDeflateOptions } from 'duplexjs/protocol';
import { connectRaw, type Frame, type RawClient } from '../helpers/raw-client.js';
import { nextConnection, nextEvent, sleep, startServer, stop, withTimeout } from './util.js';

/** A JSON-like message well over the 1 KiB compression threshold. */
function jsonMessage(seq: number): string {
  const items = Array.from({ length: 40 }, (_, i) => ({
    id: seq * 100 + i,
    user: `user_${i % 7}`,
    qty: i % 5,
  }));
  return JSON.stringify({ seq, items });
}

/**
 * countCompressions wraps PerMessageDeflate#encodeMessage (the server's and the clients'
 * alike: the clients here never send) and counts the calls that compressed (RSV1 set).
 */
function countCompressions(): { count: () => number; restore: () => void } {
  const proto = PerMessageDeflate.prototype;
  const original = proto.encodeMessage;
  let n = 0;
  proto.encodeMessage = function (this: PerMessageDeflate, payload: Buffer, binary: boolean) {
    const out = original.call(this, payload, binary);
    if (out.rsv !== 0) n++;
    return out;
  };
  return {
    count: () => n,
    restore: () => {
      proto.encodeMessage = original;
    },
  };
}

async function until(what: string, done: () => boolean): Promise<void> {
  await withTimeout(
    (async () => {
      while (!done()) await sleep(5);
    })(),
    what,
  );
}

/** inflate decodes one compressed message without context (RFC 7692 7.2.2). */
function inflate(payload: Buffer): string {
  const tail = Buffer.from([0x00, 0x00, 0xff, 0xff]);
  return inflateRawSync(Buffer.concat([payload, tail]), { finishFlush: zlib.Z_SYNC_FLUSH }).toString();
}

describe('compress-once broadcast (permessage-deflate)', () => {
  it('compresses once per shared parameter set and once per recipient with context takeover', async () => {
    const { wss, url } = await startServer();
    const groups: Record<string, { deflate: false | PerMessageDeflateOptions; size: number }> = {
      plain: { deflate: false, size: 2 },
      shared: { deflate: { serverNoContextTakeover: true }, size: 3 },
      shared10: { deflate: { serverNoContextTakeover: true, serverMaxWindowBits: 10 }, size: 2 },
      takeover: { deflate: {}, size: 2 },
    };
    const clients: Record<string, WebSocket[]> = {};
    try {
      const seen = new Map<WebSocket, unknown[]>();
      for (const [name, group] of Object.entries(groups)) {
        clients[name] = [];
        for (let i = 0; i < group.size; i++) {
          const accepted = nextConnection(wss);
          const ws = new WebSocket(url, [], { perMessageDeflate: group.deflate });
          await nextEvent(ws, 'open');
          await accepted;
          const data: unknown[] = [];
          ws.addEventListener('message', (e) => data.push(e.data));
          seen.set(ws, data);
          clients[name].push(ws);
        }
      }
      assert.equal(clients['plain']![0]!.extensions, '');
      assert.match(clients['shared']![0]!.extensions, /^permessage-deflate; server_no_context_takeover/);
      assert.match(clients['shared10']![0]!.extensions, /server_max_window_bits=10/);
      assert.doesNotMatch(clients['takeover']![0]!.extensions, /server_no_context_takeover/);

      const messages = [jsonMessage(1), jsonMessage(2), jsonMessage(2)];
      const spy = countCompressions();
      const counts: number[] = [];
      try {
        for (const m of messages) {
          const before = spy.count();
          assert.equal(wss.broadcast(m), 9);
          counts.push(spy.count() - before);
        }
      } finally {
        spy.restore();
      }
      // One for the 3 "shared" recipients, one for the 2 "shared10" ones (another window),
      // one for each of the 2 recipients with context takeover; none for the plain ones.
      assert.deepEqual(counts, [4, 4, 4]);

      await until('every client got every message', () => [...seen.values()].every((d) => d.length === 3));
      for (const [ws, data] of seen) assert.deepEqual(data, messages, ws.extensions);
    } finally {
      for (const list of Object.values(clients)) for (const ws of list) ws.terminate();
      await stop(wss);
    }
  });

  it('writes byte-identical frames to the recipients without server context takeover', async () => {
    const { wss, port } = await startServer();
    const raws: Record<string, RawClient[]> = { shared: [], takeover: [], plain: [] };
    try {
      const offers: Record<string, string | undefined> = {
        shared: 'permessage-deflate; server_no_context_takeover',
        takeover: 'permessage-deflate',
        plain: undefined,
      };
      for (const [name, count] of [
        ['shared', 3],
        ['takeover', 1],
        ['plain', 1],
      ] as const) {
        for (let i = 0; i < count; i++) {
          const accepted = nextConnection(wss);
          const extensions = offers[name];
          raws[name]!.push(await connectRaw(port, extensions === undefined ? {} : { extensions }));
          await accepted;
        }
      }
      const message = jsonMessage(7);
      // The same prepared message twice: a stateless encoding gives the same bytes again, a
      // context that took the first one over compresses the second to a back-reference.
      const prepared = prepareMessage(message);
      assert.equal(wss.broadcast(prepared), 5);
      assert.equal(wss.broadcast(prepared), 5);
      const read = async (c: RawClient): Promise<Frame[]> => [await c.readFrame(), await c.readFrame()];

      const shared = await Promise.all(raws['shared']!.map(read));
      const reference = shared[0]![0]!;
      assert.equal(reference.rsv, 0x40, 'RSV1 set: compressed');
      assert.ok(reference.raw.length < message.length / 2);
      assert.equal(inflate(reference.payload), message);
      for (const frames of shared) for (const f of frames) assert.deepEqual(f.raw, reference.raw);

      const [first, second] = await read(raws['takeover']![0]!);
      assert.equal(first!.rsv, 0x40);
      assert.equal(inflate(first!.payload), message);
      assert.ok(second!.raw.length < first!.raw.length / 4, 'second message compressed against the first');

      const plain = await read(raws['plain']![0]!);
      for (const f of plain) {
        assert.equal(f.rsv, 0);
        assert.equal(f.payload.toString(), message);
      }
    } finally {
      for (const list of Object.values(raws)) for (const c of list) c.destroy();
      await stop(wss);
    }
  });
});
