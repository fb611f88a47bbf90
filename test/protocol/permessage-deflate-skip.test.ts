/**
 * permessage-deflate that never hurts (skipIncompressible, docs/design/deflate-skip.md):
 * RFC 7692 6 lets a sender put any message on the wire uncompressed (RSV1 clear), and
 * 7.1.1 keeps such a message out of the compression context. Bytes that look random go out
 * uncompressed without being compressed; JSON stays compressed; a message predicted to
 * gain nothing is compressed anyway every so often (a probe) and a paying probe corrects
 * the prediction; and the receiver reads every mix of compressed and plain messages with
 * context takeover. Frames are read through a client Connection, so every check is also a
 * round trip.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  Connection,
  type DeflateParams,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
} from 'duplexjs/protocol';
import { FIXED_KEY, feed, messages, toHex } from './helpers.js';

const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function ends(options: PerMessageDeflateOptions = {}, params: Partial<DeflateParams> = {}) {
  const agreed = { ...PARAMS, ...params };
  const server = new Connection({
    role: 'server',
    extensions: [new PerMessageDeflate({ role: 'server', params: agreed, options })],
  });
  const client = new Connection({
    role: 'client',
    maskKey: FIXED_KEY,
    extensions: [new PerMessageDeflate({ role: 'client', params: agreed })],
  });
  return { server, client };
}

/**
 * send has the server send each payload (binary) and the client read it: returns whether
 * each went out compressed (RSV1), after checking that the client got the same bytes.
 */
function send(server: Connection, client: Connection, payloads: Buffer[]): boolean[] {
  return payloads.map((payload, i) => {
    const frames = server.sendBinary(payload);
    const wire = Buffer.concat(frames);
    const got = messages(feed(client, wire));
    assert.deepEqual(got, [{ binary: true, data: toHex(payload) }], `message ${i} read back`);
    return (wire[0]! & 0x40) !== 0;
  });
}

/** json is compressible text of about `bytes` bytes, different for each seed. */
function json(bytes: number, seed: number): Buffer {
  let out = '[';
  for (let i = 0; out.length < bytes; i++)
    out += `{"id":${seed * 1000 + i},"user":"user${(seed + i) % 17}","ok":true},`;
  return Buffer.from(`${out.slice(0, bytes - 1)}]`);
}

/** repeatedRandom is one random KiB repeated: every sample looks random, yet deflate shrinks it 8 times. */
function repeatedRandom(): Buffer {
  const block = randomBytes(1024);
  return Buffer.concat(Array.from({ length: 8 }, () => block));
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe('RFC 7692 6: messages that do not compress go out uncompressed', () => {
  it('random bytes are sent with RSV1 clear, probes included', () => {
    const { server, client } = ends();
    const sent = send(
      server,
      client,
      times(40, () => randomBytes(4096)),
    );
    assert.deepEqual(
      sent,
      times(40, () => false),
    );
  });

  it('JSON stays compressed, also right after random bytes', () => {
    const { server, client } = ends();
    const before = send(
      server,
      client,
      times(10, (i) => json(4096, i)),
    );
    const random = send(
      server,
      client,
      times(5, () => randomBytes(4096)),
    );
    const after = send(
      server,
      client,
      times(10, (i) => json(4096, i + 10)),
    );
    assert.deepEqual(
      before,
      times(10, () => true),
    );
    assert.deepEqual(
      random,
      times(5, () => false),
    );
    assert.deepEqual(
      after,
      times(10, () => true),
    );
  });

  it('JSON right after a probe of random bytes that did not pay is compressed', () => {
    const { server, client } = ends();
    // The 8th random message is a probe; it fails, which the estimate explains.
    assert.deepEqual(
      send(
        server,
        client,
        times(8, () => randomBytes(4096)),
      ),
      times(8, () => false),
    );
    assert.deepEqual(
      send(
        server,
        client,
        times(3, (i) => json(4096, i)),
      ),
      [true, true, true],
    );
  });

  it('after a message that looked compressible and did not pay, the next ones wait for a probe', () => {
    const { server, client } = ends();
    // Random bytes over 190 values: about 7.6 bits per byte, under what the estimate calls
    // random for a 1 KiB sample, yet deflate saves only about 5 %: less than 1/16.
    const skewed = Buffer.from(randomBytes(8192).map((b) => b % 190));
    const sent = send(server, client, [skewed, ...times(10, (i) => json(4096, i))]);
    // JSON after it is skipped 7 times; the 8th is the probe, it pays, and JSON is compressed again.
    assert.deepEqual(sent, [false, ...times(7, () => false), true, true, true]);
  });

  it('a small message that compression would make larger goes out as is', () => {
    const { server, client } = ends({ threshold: 0 });
    assert.deepEqual(send(server, client, [Buffer.from('Hello')]), [false]);
    // Without the rule, it is compressed as before (7 bytes for 5).
    const off = ends({ threshold: 0, skipIncompressible: false });
    assert.deepEqual(send(off.server, off.client, [Buffer.from('Hello')]), [true]);
  });

  it('messages under the threshold are never compressed', () => {
    const { server, client } = ends();
    assert.deepEqual(
      send(
        server,
        client,
        times(5, (i) => json(1023, i)),
      ),
      times(5, () => false),
    );
  });

  it('skipIncompressible: false compresses random bytes as before', () => {
    const { server, client } = ends({ skipIncompressible: false });
    assert.deepEqual(
      send(
        server,
        client,
        times(3, () => randomBytes(4096)),
      ),
      times(3, () => true),
    );
  });
});

describe('re-probing', () => {
  it('the 8th message predicted random is compressed anyway; a paying probe stops the prediction', () => {
    const { server, client } = ends();
    const data = repeatedRandom();
    const sent = send(
      server,
      client,
      times(12, () => data),
    );
    // 7 skipped, the 8th is the probe: it pays, and from then on such data is compressed.
    assert.deepEqual(sent, [...times(7, () => false), true, true, true, true, true]);
  });

  it('a probe that does not pay doubles the wait for the next one', () => {
    const { server, client } = ends();
    // 8 random messages: the 8th is a probe that fails, so the next comes 16 messages later.
    assert.deepEqual(
      send(
        server,
        client,
        times(8, () => randomBytes(4096)),
      ),
      times(8, () => false),
    );
    const data = repeatedRandom();
    const sent = send(
      server,
      client,
      times(18, () => data),
    );
    assert.deepEqual(sent, [...times(15, () => false), true, true, true]);
  });

  it('data called random stops being compressed again when it no longer pays', () => {
    const { server, client } = ends();
    const data = repeatedRandom();
    send(
      server,
      client,
      times(8, () => data),
    ); // the probe pays: the estimate is set aside
    const sent = send(
      server,
      client,
      times(3, () => randomBytes(4096)),
    );
    // The first is compressed (and found not to pay: sent plain); the next ones are skipped.
    assert.deepEqual(sent, [false, false, false]);
    assert.deepEqual(send(server, client, [data]), [false], 'the estimate is trusted again');
  });
});

describe('RFC 7692 7.1.1: skipped messages stay out of the context', () => {
  for (const takeover of [true, false]) {
    it(`a mix of compressed and plain messages reads back, ${takeover ? 'with' : 'without'} context takeover`, () => {
      const params = takeover ? {} : { serverNoContextTakeover: true, clientNoContextTakeover: true };
      const { server, client } = ends({}, params);
      const shared = json(6000, 99);
      const payloads = times(30, (i) =>
        i % 3 === 0 ? randomBytes(2048 + i) : i % 3 === 1 ? shared : json(3000, i),
      );
      const sent = send(server, client, payloads);
      assert.deepEqual(
        sent,
        payloads.map((_, i) => i % 3 !== 0),
      );
    });
  }
});
