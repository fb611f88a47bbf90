/**
 * permessage-deflate against an independent implementation: stateful zlib streams, the way
 * stream-based WebSocket libraries keep context takeover (one DeflateRaw / InflateRaw per
 * connection, a sync flush per message). The streams are asynchronous; only this test uses
 * them. Also: the compression bomb of RFC 7692 9 and compress-once broadcast keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Connection, type DeflateParams, Opcode, PerMessageDeflate, serializeFrame } from 'duplexjs/protocol';
import { expectFailure, feed, messages, toHex } from './helpers.js';

const MiB = 1024 * 1024;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** flushThrough writes `input` to a zlib stream, sync-flushes it and resolves with what came out. */
function flushThrough(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    stream.on('data', onData);
    stream.once('error', reject);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

function corpus(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        seq: i,
        channel: `room-${i % 3}`,
        body: `update ${i % 5} `.repeat(20 + ((i * 13) % 200)),
        users: Array.from({ length: i % 9 }, (_, k) => `user-${k}`),
      }),
    ),
  );
}

describe('RFC 7692 7.2.1 compatibility with a stateful zlib stream', () => {
  for (const bits of [9, 10, 12, 15]) {
    for (const takeover of [true, false]) {
      it(`decodes what a DeflateRaw stream (${bits} bits, takeover ${takeover ? 'on' : 'off'}) sends`, async () => {
        const client = new Connection({
          role: 'client',
          extensions: [
            new PerMessageDeflate({
              role: 'client',
              params: {
                ...PARAMS,
                serverMaxWindowBits: bits,
                serverNoContextTakeover: !takeover,
              },
            }),
          ],
        });
        let deflater = zlib.createDeflateRaw({ windowBits: bits });
        for (const message of corpus(40)) {
          if (!takeover) {
            deflater.close();
            deflater = zlib.createDeflateRaw({ windowBits: bits });
          }
          const out = await flushThrough(deflater, message);
          assert.ok(out.subarray(-4).equals(TAIL), 'a sync flush ends with 00 00 ff ff');
          const frame = serializeFrame({ opcode: Opcode.TEXT, rsv: 0x40, payload: out.subarray(0, -4) });
          const got = feed(client, Buffer.concat(frame));
          assert.deepEqual(messages(got), [{ binary: false, data: toHex(message) }]);
        }
        deflater.close();
      });

      it(`produces what an InflateRaw stream limited to ${bits} bits reads (takeover ${takeover ? 'on' : 'off'})`, async () => {
        const ext = new PerMessageDeflate({
          role: 'server',
          params: { ...PARAMS, serverMaxWindowBits: bits, serverNoContextTakeover: !takeover },
          options: { threshold: 0 },
        });
        let inflater = zlib.createInflateRaw({ windowBits: bits });
        const sizes: number[] = [];
        for (const message of corpus(40)) {
          if (!takeover) {
            inflater.close();
            inflater = zlib.createInflateRaw({ windowBits: bits });
          }
          const encoded = ext.encodeMessage(message, false);
          assert.equal(encoded.rsv, 0x40);
          sizes.push(encoded.payload.length);
          const plain = await flushThrough(inflater, Buffer.concat([encoded.payload, TAIL]));
          assert.ok(plain.equals(message), 'the stream inflates the message');
        }
        inflater.close();
        // The decoder keeps only the negotiated window: a reference past it would have failed.
        assert.ok(sizes.length === 40);
      });
    }
  }
});

describe('RFC 7692 9 compression bomb: inflating stops at maxPayload', () => {
  /**
   * bomb is about 1 MiB of DEFLATE that inflates to 1 GiB of zeros: one block of 1 MiB of
   * zeros, then 1,023 copies of the block that repeats the previous 1 MiB from its window.
   */
  function bomb(): Buffer {
    const first = zlib.deflateRawSync(Buffer.alloc(MiB), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      level: 9,
    });
    const next = zlib.deflateRawSync(Buffer.alloc(MiB), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      level: 9,
      dictionary: Buffer.alloc(32 * 1024),
    });
    const all = Buffer.concat([first, ...Array<Buffer>(1023).fill(next)]);
    return all.subarray(0, all.length - 4);
  }

  for (const maxPayload of [64 * 1024, 16 * MiB]) {
    it(`a 1 MiB message that inflates to 1 GiB fails with 1009 under maxPayload ${maxPayload}, memory bounded`, () => {
      const payload = bomb();
      assert.ok(payload.length < 1.1 * MiB);
      const server = new Connection({
        role: 'server',
        maxPayload,
        extensions: [new PerMessageDeflate({ role: 'server', params: PARAMS })],
      });
      const wire = Buffer.concat(
        serializeFrame({ opcode: Opcode.BINARY, rsv: 0x40, payload, maskKey: Buffer.from([1, 2, 3, 4]) }),
      );
      const before = process.memoryUsage();
      const started = performance.now();
      const got = feed(server, wire);
      const elapsed = performance.now() - started;
      const after = process.memoryUsage();
      const error = expectFailure(server, got, 1009);
      assert.equal(error.code, 'DUPLEX_PAYLOAD_TOO_BIG');
      // zlib stopped after about maxPayload bytes: nothing near the 1 GiB the data asks for.
      const grown = Math.max(after.arrayBuffers - before.arrayBuffers, after.rss - before.rss, 0);
      assert.ok(grown < 3 * maxPayload + 32 * MiB, `memory grew by ${grown} bytes`);
      assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
    });
  }
});

describe('compress-once broadcast: sharedEncodingKey', () => {
  const stateless: DeflateParams = {
    ...PARAMS,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };

  it('is undefined with context takeover on our side', () => {
    assert.equal(new PerMessageDeflate({ role: 'server', params: PARAMS }).sharedEncodingKey, undefined);
    assert.equal(
      new PerMessageDeflate({ role: 'server', params: { ...PARAMS, clientNoContextTakeover: true } })
        .sharedEncodingKey,
      undefined,
    );
    assert.equal(
      new PerMessageDeflate({ role: 'client', params: { ...PARAMS, serverNoContextTakeover: true } })
        .sharedEncodingKey,
      undefined,
    );
  });

  it('is equal for equal outgoing settings, whatever the incoming side', () => {
    const a = new PerMessageDeflate({ role: 'server', params: stateless });
    const b = new PerMessageDeflate({
      role: 'server',
      params: {
        ...stateless,
        clientNoContextTakeover: false,
        clientMaxWindowBits: 9,
      },
    });
    assert.ok(a.sharedEncodingKey);
    assert.equal(a.sharedEncodingKey, b.sharedEncodingKey);
  });

  it('differs when the window, level, memLevel or threshold differ', () => {
    const keys = [
      new PerMessageDeflate({ role: 'server', params: stateless }).sharedEncodingKey,
      new PerMessageDeflate({ role: 'server', params: { ...stateless, serverMaxWindowBits: 12 } })
        .sharedEncodingKey,
      new PerMessageDeflate({ role: 'server', params: stateless, options: { level: 1 } }).sharedEncodingKey,
      new PerMessageDeflate({ role: 'server', params: stateless, options: { memLevel: 9 } })
        .sharedEncodingKey,
      new PerMessageDeflate({ role: 'server', params: stateless, options: { threshold: 0 } })
        .sharedEncodingKey,
    ];
    assert.equal(new Set(keys).size, keys.length);
  });

  it('equal keys encode a message to the same bytes, whatever each sent before', () => {
    const a = new PerMessageDeflate({ role: 'server', params: stateless, options: { threshold: 0 } });
    const b = new PerMessageDeflate({ role: 'server', params: stateless, options: { threshold: 0 } });
    const [first, second] = corpus(2) as [Buffer, Buffer];
    a.encodeMessage(first, false);
    const fromA = a.encodeMessage(second, false);
    const fromB = b.encodeMessage(second, false);
    assert.equal(fromA.rsv, 0x40);
    assert.deepEqual(fromA, fromB);
  });
});
