import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection } from 'duplexjs/protocol';
import { assertBytes, hex } from './helpers.js';

// Two messages and a close frame in one chunk, as a client (unmasked server frames) sees them.
const CHUNK = '81 01 61  81 01 62  88 02 03e8';

describe('RFC 6455 5.5.1 answering a message before a close that arrived with it', () => {
  // "After sending a Close frame, the application MUST NOT send any more data frames."
  // With yieldAfterMessage the application sees each message while the connection is
  // still OPEN, so it can answer before the close frame is processed.
  it('stops after each message and continues with receive()', () => {
    const conn = new Connection({
      role: 'client',
      maskKey: () => Buffer.from([0, 0, 0, 0]),
      yieldAfterMessage: true,
    });
    const first = conn.receive(hex(CHUNK));
    assert.deepEqual(
      first.events.map((e) => e.type),
      ['message'],
    );
    assert.equal(conn.state, 1);
    assertBytes(conn.sendText('A'), '81 81 00000000 41');
    const second = conn.receive();
    assert.deepEqual(
      second.events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)),
      ['b'],
    );
    const third = conn.receive();
    assert.deepEqual(
      third.events.map((e) => e.type),
      ['close'],
    );
    assertBytes(third.output, '88 82 00000000 03e8');
    assert.equal(conn.state, 3);
    assert.deepEqual(conn.receive().events, []);
  });

  it('without the option, one receive() handles the whole chunk', () => {
    const conn = new Connection({ role: 'client' });
    const all = conn.receive(hex(CHUNK));
    assert.deepEqual(
      all.events.map((e) => e.type),
      ['message', 'message', 'close'],
    );
    assert.equal(conn.state, 3);
  });
});
