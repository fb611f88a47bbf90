/**
 * One way to call the core: `receive(chunk, from)` stops at each message and says where it
 * stopped; the caller goes on from there when it is ready for the next message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection } from 'duplexjs/protocol';
import { assertBytes, hex } from './helpers.js';

// Two messages and a close frame in one chunk, as a client (unmasked server frames) sees them.
const CHUNK = '81 01 61  81 01 62  88 02 03e8';

describe('RFC 6455 5.5.1 answering a message before a close that arrived with it', () => {
  // "After sending a Close frame, the application MUST NOT send any more data frames."
  // receive stops at each message, so the application sees it while the connection is
  // still OPEN and can answer before the close frame is processed.
  it('stops after each message, consuming exactly its frame; the next call goes on from there', () => {
    const conn = new Connection({ role: 'client', maskKey: () => Buffer.from([0, 0, 0, 0]) });
    const chunk = hex(CHUNK);
    const first = conn.receive(chunk);
    assert.deepEqual(
      first.events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['a'],
    );
    assert.equal(first.consumed, 3);
    assert.equal(conn.state, 1);
    assertBytes(conn.sendText('A'), '81 81 00000000 41');
    const second = conn.receive(chunk, 3);
    assert.deepEqual(
      second.events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['b'],
    );
    assert.equal(second.consumed, 6);
    const third = conn.receive(chunk, 6);
    assert.deepEqual(
      third.events.map((e) => e.type),
      ['close'],
    );
    assert.equal(third.consumed, 10);
    assertBytes(third.output, '88 82 00000000 03e8');
    assert.equal(conn.state, 3);
    assert.deepEqual(conn.receive(hex('81 01 63')), { events: [], output: [], consumed: 3 });
  });

  it('control frames before a message are handled in the same call; the stop is at the message', () => {
    const conn = new Connection({ role: 'client', maskKey: () => Buffer.from([0, 0, 0, 0]) });
    const chunk = hex('89 00  8a 00  81 01 61  81 01 62');
    const got = conn.receive(chunk);
    assert.deepEqual(
      got.events.map((e) => e.type),
      ['ping', 'pong', 'message'],
    );
    assert.equal(got.consumed, 7);
    assertBytes(got.output, '8a 80 00000000');
  });

  it('the rest may also come as a new chunk (a copy, or after more bytes were appended)', () => {
    const conn = new Connection({ role: 'client' });
    const chunk = hex(CHUNK);
    assert.equal(conn.receive(chunk).consumed, 3);
    const rest = Buffer.concat([chunk.subarray(3), hex('81 01 63')]);
    const got = conn.receive(rest);
    assert.deepEqual(
      got.events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['b'],
    );
    assert.equal(got.consumed, 3);
  });

  it('a message split over chunks: the partial frame is consumed (kept inside), the stop is where it ends', () => {
    const conn = new Connection({ role: 'client' });
    assert.deepEqual(conn.receive(hex('81 03 61')), { events: [], output: [], consumed: 3 });
    const got = conn.receive(hex('62 63  81 01 64'));
    assert.deepEqual(
      got.events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['abc'],
    );
    assert.equal(got.consumed, 2);
  });

  it('bytes after the peer\u2019s close frame or a failure are consumed and ignored', () => {
    const conn = new Connection({ role: 'client' });
    const got = conn.receive(hex('88 02 03e8  81 01 61'));
    assert.deepEqual(
      got.events.map((e) => e.type),
      ['close'],
    );
    assert.equal(got.consumed, 7);
  });
});
