/**
 * Connection between messages: a connection that has received nothing holds no receive-side
 * state (its FrameParser comes with the first bytes, a MessageBuffer and Utf8Validator exist
 * only while a fragmented message is reassembled), so that a server's idle connections cost
 * a few fields each. The behaviour around that laziness first, then a heap bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Connection } from 'duplexjs/protocol';
import { client, expectFailure, feed, hex, maskClientFrame, messages, server } from './helpers.js';

describe('a Connection that has received nothing yet', () => {
  it('answers an empty chunk with nothing, then parses the bytes that come', () => {
    const conn = server();
    assert.deepEqual(conn.receive(Buffer.alloc(0)), { events: [], output: [], consumed: 0 });
    assert.deepEqual(messages(feed(conn, maskClientFrame('81 02 6869'))), [{ binary: false, data: '6869' }]);
  });

  it('closes: close() moves to CLOSING, the peer\u2019s close then to CLOSED with no echo', () => {
    const conn = client();
    assert.equal(conn.close(1000).length, 1);
    assert.equal(conn.state, 2);
    const got = conn.receive(hex('88 02 03e8'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1000, reason: '' }]);
    assert.deepEqual(got.output, []);
    assert.equal(conn.state, 3);
  });
});

describe('per-message state', () => {
  it('each fragmented text message is UTF-8 checked on its own, also after a message in one frame', () => {
    const conn = client();
    const got = feed(conn, hex('01 01 c3  80 01 a9  81 01 61  01 01 e2  80 02 82ac'));
    assert.deepEqual(messages(got), [
      { binary: false, data: 'c3a9' },
      { binary: false, data: '61' },
      { binary: false, data: 'e282ac' },
    ]);
  });

  it('a fragmented message that fails leaves nothing behind: later bytes are ignored', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('01 01 c3  80 01 41')), 1007);
    assert.deepEqual(conn.receive(hex('81 01 61')), { events: [], output: [], consumed: 3 });
  });
});

describe('idle footprint', () => {
  it('an idle server Connection holds under 200 bytes of heap (was 392 with its parser and validator)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const count = 20_000;
    const keep: Connection[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i++) {
      keep.push(new Connection({ role: 'server', maxPayload: 100 * 1024 * 1024 }));
    }
    gc();
    const perConnection = (process.memoryUsage().heapUsed - before) / count;
    assert.equal(keep.length, count);
    assert.ok(perConnection < 200, `${perConnection.toFixed(0)} B per idle Connection`);
  });
});
