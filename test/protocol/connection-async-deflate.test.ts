/**
 * Large permessage-deflate messages off the caller's thread, through Connection: with
 * `asyncDecode` a compressed message at or above `asyncThreshold` comes out as a `decode`
 * event, nothing behind it is read until its `done` resolves, and the next `receive`
 * delivers it, then what followed, in order; `sendData` returns a Promise of the frames of
 * a large message while the state moves on at once; the size limit holds there too (1009).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import {
  Connection,
  type ConnectionEvent,
  type DeflateParams,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  serializeFrame,
} from 'duplexjs/protocol';
import { expectFailure, FIXED_KEY, feed, frame, toHex } from './helpers.js';

const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function deflater(role: 'client' | 'server', options: PerMessageDeflateOptions = {}) {
  return new PerMessageDeflate({ role, params: PARAMS, options });
}

/** compressedFrame is a server frame (unmasked) carrying `data` deflated on its own, RSV1 set. */
function compressedFrame(data: Buffer, opcode = 0x2): Buffer {
  const out = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return Buffer.concat(serializeFrame({ opcode, rsv: 0x40, payload: out.subarray(0, out.length - 4) }));
}

function big(bytes: number, seed: number): Buffer {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `{"n":${seed * 100000 + i},"text":"item ${i % 50}"},`;
  return Buffer.from(out.slice(0, bytes));
}

const kinds = (events: ConnectionEvent[]): string[] => events.map((e) => e.type);

describe('asyncDecode: a large compressed message is decoded off the thread, in order', () => {
  it('decode event, nothing read behind it, then the message, the ping and the next message', async () => {
    const conn = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      asyncDecode: true,
      extensions: [deflater('client', { asyncThreshold: 64 * 1024 })],
    });
    const large = big(1024 * 1024, 1);
    const small = Buffer.from('after');
    const compressed = compressedFrame(large);
    const chunk = Buffer.concat([compressed, frame(0x89, 'p'), frame(0x82, small)]);
    const first = conn.receive(chunk);
    assert.deepEqual(kinds(first.events), ['decode']);
    assert.equal(first.consumed, compressed.length, "the frames behind it are the caller's to pass again");
    assert.deepEqual(first.output, [], 'the ping behind it is not answered yet');
    // While decoding, receive consumes nothing.
    const text = frame(0x81, 'text');
    assert.deepEqual(conn.receive(text), { events: [], output: [], consumed: 0 });
    const decode = first.events[0]!;
    assert.ok(decode.type === 'decode');
    await decode.done;
    const rest = feed(conn, Buffer.concat([chunk.subarray(first.consumed), text]));
    assert.deepEqual(kinds(rest.events), ['message', 'ping', 'message', 'message']);
    const [m1, , m2, m3] = rest.events;
    assert.ok(m1?.type === 'message' && m2?.type === 'message' && m3?.type === 'message');
    assert.ok(m1.data.equals(large));
    assert.equal(toHex(m2.data), toHex(small));
    assert.equal(m3.data.toString(), 'text');
    assert.equal(rest.output.length > 0, true, 'the pong follows');
  });

  it('a small compressed message is still decoded at once', () => {
    const conn = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      asyncDecode: true,
      extensions: [deflater('client')],
    });
    const got = feed(conn, compressedFrame(big(4096, 2)));
    assert.deepEqual(kinds(got.events), ['message']);
  });

  it('without asyncDecode the same message is decoded synchronously', () => {
    const conn = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      extensions: [deflater('client', { asyncThreshold: 0 })],
    });
    assert.deepEqual(kinds(feed(conn, compressedFrame(big(1024 * 1024, 3))).events), ['message']);
  });

  it('a bomb past maxPayload fails with 1009 on the async path', async () => {
    const conn = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      maxPayload: 1024 * 1024,
      asyncDecode: true,
      extensions: [deflater('client', { asyncThreshold: 0 })],
    });
    const first = conn.receive(compressedFrame(Buffer.alloc(64 * 1024 * 1024)));
    const decode = first.events[0]!;
    assert.ok(decode.type === 'decode');
    await decode.done;
    expectFailure(conn, feed(conn, Buffer.alloc(0)), 1009);
  });

  it('invalid compressed data fails with 1007 on the async path', async () => {
    const conn = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      asyncDecode: true,
      extensions: [deflater('client', { asyncThreshold: 0 })],
    });
    const first = conn.receive(frame(0xc2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
    const decode = first.events[0]!;
    assert.ok(decode.type === 'decode');
    await decode.done;
    expectFailure(conn, feed(conn, Buffer.alloc(0)), 1007);
  });
});

describe('sendData: a large message is compressed off the thread', () => {
  it('returns a Promise for a large message, frames for a small one; the peer reads them in call order', async () => {
    const server = new Connection({
      role: 'server',
      extensions: [deflater('server', { asyncThreshold: 64 * 1024 })],
    });
    const client = new Connection({ role: 'client', maskKey: FIXED_KEY, extensions: [deflater('client')] });
    const large = big(512 * 1024, 4);
    const small = big(2048, 5);
    const pending = server.sendData(large, true);
    assert.ok(pending instanceof Promise);
    const now = server.sendData(small, false);
    assert.ok(Array.isArray(now));
    const closing = server.close(1000);
    assert.equal(server.state, 2, 'CLOSING at once');
    const got = feed(client, Buffer.concat(await pending), Buffer.concat(now), Buffer.concat(closing));
    assert.deepEqual(kinds(got.events), ['message', 'message', 'close']);
    const [a, b] = got.events;
    assert.ok(a?.type === 'message' && b?.type === 'message');
    assert.ok(a.data.equals(large), 'the large message (its context comes before the small one)');
    assert.ok(b.data.equals(small));
  });
});
