/**
 * Connection: bytes in, events and bytes out, for both roles. Inputs from the server are
 * unmasked hex; inputs from a client are the same frames masked with KEY (maskClientFrame).
 * Client output is masked with the injected key 01 02 03 04, so every output is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  InvalidArgumentError,
  InvalidStateError,
  PayloadTooBigError,
  ProtocolError,
} from 'duplexjs/protocol';
import {
  assertBytes,
  bytewise,
  client,
  closePayload,
  expectedClose,
  expectFailure,
  feed,
  frame,
  header,
  hex,
  maskClientFrame,
  maskedFrame,
  messages,
  server,
  toHex,
} from './helpers.js';

const MiB = 1024 * 1024;

describe('RFC 6455 5.2 base framing', () => {
  it('starts OPEN with no close frame sent or received', () => {
    for (const conn of [client(), server()]) {
      assert.equal(conn.state, 1);
      assert.equal(conn.closeSent, false);
      assert.equal(conn.closeReceived, false);
    }
    assert.equal(client().role, 'client');
    assert.equal(server().role, 'server');
  });

  it('partial input is "not yet": 81 gives nothing, then 05 48656c6c6f gives the text frame', () => {
    const conn = client();
    const first = conn.receive(hex('81'));
    assert.deepEqual(first, { events: [], output: [], consumed: 1 });
    const second = conn.receive(hex('05 48656c6c6f'));
    assert.deepEqual(second.events, [{ type: 'message', binary: false, data: Buffer.from('Hello') }]);
    assert.deepEqual(second.output, []);
  });

  it('a frame fed one byte at a time gives exactly one message, at the last byte', () => {
    const conn = client();
    const chunks = bytewise(hex('81 05 48656c6c6f'));
    for (const c of chunks.slice(0, -1))
      assert.deepEqual(conn.receive(c), { events: [], output: [], consumed: 1 });
    const last = conn.receive(chunks.at(-1)!);
    assert.deepEqual(last.events, [{ type: 'message', binary: false, data: Buffer.from('Hello') }]);
  });

  it('a masked client frame fed one byte at a time reaches the server unmasked', () => {
    // RFC 6455 5.3 example: a single-frame masked text message "Hello"
    const conn = server();
    const got = feed(conn, ...bytewise(hex('81 85 37fa213d 7f9f4d5158')));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(Buffer.from('Hello')) }]);
    assert.deepEqual(got.output, []);
  });

  it('several frames in one chunk give several events, in order', () => {
    const conn = client();
    const got = feed(conn, hex('81 01 61  82 02 0102  81 00  82 00'));
    assert.deepEqual(messages(got), [
      { binary: false, data: '61' },
      { binary: true, data: '0102' },
      { binary: false, data: '' },
      { binary: true, data: '' },
    ]);
  });

  it('7-bit length: 0 and 125 bytes', () => {
    const conn = client();
    const p125 = Buffer.alloc(125, 0x61);
    const got = feed(conn, hex('82 00'), Buffer.concat([hex('82 7d'), p125]));
    assert.deepEqual(messages(got), [
      { binary: true, data: '' },
      { binary: true, data: toHex(p125) },
    ]);
  });

  it('16-bit length: 126 and 65535 bytes', () => {
    const conn = client();
    const p126 = Buffer.alloc(126, 0x62);
    const p65535 = Buffer.alloc(65535, 0x63);
    const got = feed(
      conn,
      Buffer.concat([hex('82 7e 007e'), p126]),
      Buffer.concat([hex('82 7e ffff'), p65535]),
    );
    assert.deepEqual(
      messages(got).map((m) => m.data.length / 2),
      [126, 65535],
    );
    assert.deepEqual(messages(got)[0]!.data, toHex(p126));
  });

  it('64-bit length: 65536 bytes', () => {
    const conn = client();
    const p = Buffer.alloc(65536, 0x64);
    p[0] = 1;
    p[65535] = 2;
    const got = feed(conn, hex('82 7f 0000000000010000'), p.subarray(0, 1000), p.subarray(1000));
    assert.equal(got.events.length, 1);
    const ev = got.events[0]!;
    assert.ok(ev.type === 'message' && ev.binary);
    assert.ok(ev.data.equals(p));
  });

  // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
  // Duplex's documented choice: a non-minimal length is a protocol error (1002).
  for (const [name, input] of [
    ['5 in the 16-bit form', '82 7e 0005 0102030405'],
    ['125 in the 16-bit form', `82 7e 007d ${'00'.repeat(125)}`],
    ['5 in the 64-bit form', '82 7f 0000000000000005 0102030405'],
    ['65535 in the 64-bit form', '82 7f 000000000000ffff'],
    ['0 in the 16-bit form', '82 7e 0000'],
  ] as const) {
    it(`a length not in its shortest form is rejected with 1002: ${name}`, () => {
      const conn = client();
      expectFailure(conn, feed(conn, hex(input)), 1002);
    });
  }

  it('a non-minimal length is rejected as soon as the length is read, before the payload', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('82 7e 0005')), 1002);
  });

  it('a 64-bit length with the most significant bit set is rejected with 1002', () => {
    // RFC 6455 5.2: "the most significant bit MUST be 0"
    const conn = client();
    expectFailure(conn, feed(conn, hex('82 7f 8000000000000000')), 1002);
    const conn2 = client();
    expectFailure(conn2, feed(conn2, hex('82 7f ffffffffffffffff')), 1002);
  });

  it('a header announcing 2^53-1 bytes is refused with 1009 at once, without allocating', () => {
    const conn = server();
    const before = process.memoryUsage().arrayBuffers;
    const err = expectFailure(conn, feed(conn, hex('82 ff 001fffffffffffff 01020304')), 1009);
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.code, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.equal(err.size, 2 ** 53 - 1);
    assert.equal(err.limit, 16 * MiB);
    // A coarse guard only: an allocation from the untrusted length would be petabytes (or throw).
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * MiB);
  });

  it('a header announcing 0x7fffffffffffffff bytes is refused with 1009 at once', () => {
    const conn = client({ maxPayload: 1000 });
    const err = expectFailure(conn, feed(conn, hex('82 7f 7fffffffffffffff')), 1009);
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.code, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.equal(err.limit, 1000);
    assert.equal(err.size, Number(0x7fffffffffffffffn));
  });

  it('a single frame one byte over maxPayload is refused with 1009 from its header alone', () => {
    const conn = client({ maxPayload: 100 });
    const err = expectFailure(conn, feed(conn, hex('82 65')), 1009);
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.size, 101);
    assert.equal(err.limit, 100);
  });

  it('a message of exactly maxPayload bytes is accepted', () => {
    const conn = client({ maxPayload: 100 });
    const p = Buffer.alloc(100, 0x41);
    const got = feed(conn, Buffer.concat([hex('81 64'), p]));
    assert.deepEqual(messages(got), [{ binary: false, data: toHex(p) }]);
    assert.equal(conn.state, 1);
  });

  // RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not
  // masked." ... "A client MUST close a connection if it detects a masked frame."
  it('a server fails the connection with 1002 on an unmasked frame', () => {
    const conn = server();
    expectFailure(conn, feed(conn, hex('81 05 48656c6c6f')), 1002);
  });

  it('a client fails the connection with 1002 on a masked frame', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('81 85 37fa213d 7f9f4d5158')), 1002);
  });

  it('a server fails on an unmasked control frame too', () => {
    const conn = server();
    expectFailure(conn, feed(conn, hex('89 00')), 1002);
  });

  // RFC 6455 5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is negotiated
  // that defines meanings for non-zero values. If a nonzero value is received and none of the
  // negotiated extensions defines the meaning of such a nonzero value, the receiving endpoint
  // MUST _Fail the WebSocket Connection_."
  for (const [bit, first] of [
    ['RSV1', 'c1'],
    ['RSV2', 'a1'],
    ['RSV3', '91'],
    ['all RSV bits', 'f1'],
  ] as const) {
    it(`${bit} without an extension is rejected with 1002`, () => {
      const conn = client();
      expectFailure(conn, feed(conn, hex(`${first} 05 48656c6c6f`)), 1002);
    });
  }

  it('RSV bits on a control frame are rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('c9 00')), 1002);
  });

  it('an RSV bit claimed by no negotiated extension is rejected with 1002', () => {
    const ext = {
      name: 'x-test',
      rsvBits: 0x40,
      decodeMessage: (payload: Buffer) => payload,
      encodeMessage: (payload: Buffer) => ({ payload, rsv: 0 }),
    };
    const conn = client({ extensions: [ext] });
    expectFailure(conn, feed(conn, hex('a1 01 61')), 1002);
  });

  // RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
  // WebSocket Connection_."
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`reserved opcode 0x${op.toString(16)} is rejected with 1002`, () => {
      const conn = client();
      expectFailure(conn, feed(conn, Buffer.from([0x80 | op, 0])), 1002);
      const conn2 = server();
      expectFailure(conn2, feed(conn2, maskedFrame(0x80 | op, 'a')), 1002);
    });
  }

  it('messages before a bad frame in the same chunk are still delivered', () => {
    const conn = client();
    const got = feed(conn, hex('81 01 61  83 00'));
    assert.deepEqual(got.events[0], { type: 'message', binary: false, data: Buffer.from('a') });
    expectFailure(conn, got, 1002);
  });

  it('bytes after a failure are ignored', () => {
    const conn = client();
    feed(conn, hex('83 00'));
    assert.deepEqual(conn.receive(hex('81 01 61 89 00')), { events: [], output: [], consumed: 5 });
  });

  it('the close frame names the broken rule, never an internal error', () => {
    const conn = server();
    const got = feed(conn, hex('81 05 48656c6c6f'));
    const err = expectFailure(conn, got, 1002);
    assert.equal(err.code, 'DUPLEX_UNMASKED_FRAME');
    assertBytes(
      got.output,
      toHex(
        Buffer.concat([
          hex('88'),
          Buffer.from([2 + err.message.length]),
          hex('03ea'),
          Buffer.from(err.message),
        ]),
      ),
    );
  });
});

describe('RFC 6455 5.3 client-to-server masking (output)', () => {
  it('a client masks its frames with the injected key', () => {
    // "Hello" XOR 01020304... = 49 67 6f 68 6e
    assertBytes(client().sendText('Hello'), '81 85 01020304 49676f686e');
  });

  it('a server does not mask its frames', () => {
    assertBytes(server().sendText('Hello'), '81 05 48656c6c6f');
    assertBytes(server().sendBinary(hex('0102')), '82 02 0102');
  });

  it('a client uses a fresh crypto-random key per frame by default', () => {
    const conn = new Connection({ role: 'client' });
    const a = Buffer.concat(conn.sendBinary(Buffer.alloc(8)));
    const b = Buffer.concat(conn.sendBinary(Buffer.alloc(8)));
    assert.equal(a[1], 0x88);
    assert.equal(b[1], 0x88);
    // With an all-zero payload, the masked payload is the key repeated.
    assert.ok(a.subarray(6, 10).equals(a.subarray(2, 6)));
    assert.notEqual(toHex(a.subarray(2, 6)), toHex(b.subarray(2, 6)), 'two frames, two keys');
  });

  it('calls maskKey once per frame', () => {
    let calls = 0;
    const conn = client({
      maskKey: () => {
        calls++;
        return Buffer.from([calls, 0, 0, 0]);
      },
    });
    assertBytes(conn.sendText('a'), '81 81 01000000 60');
    assertBytes(conn.sendText('a'), '81 81 02000000 63');
    assertBytes(conn.ping('a'), '89 81 03000000 62');
    assert.equal(calls, 3);
  });

  it('sendBinary accepts a Uint8Array and sendText a Buffer', () => {
    assertBytes(server().sendBinary(new Uint8Array([1, 2, 3])), '82 03 010203');
    assertBytes(server().sendText(Buffer.from('é')), '81 02 c3a9');
  });

  it('sending does not modify the caller\u2019s buffer', () => {
    const data = Buffer.from('Hello');
    client().sendBinary(data);
    assert.equal(data.toString(), 'Hello');
  });

  it('the header uses the shortest length form: 125, 126, 65535, 65536', () => {
    const s = server();
    assert.equal(toHex(Buffer.concat(s.sendBinary(Buffer.alloc(125)))).slice(0, 4), '827d');
    assert.equal(toHex(Buffer.concat(s.sendBinary(Buffer.alloc(126)))).slice(0, 8), '827e007e');
    assert.equal(toHex(Buffer.concat(s.sendBinary(Buffer.alloc(65535)))).slice(0, 8), '827effff');
    assert.equal(
      toHex(Buffer.concat(s.sendBinary(Buffer.alloc(65536)))).slice(0, 20),
      '827f0000000000010000',
    );
    assert.equal(Buffer.concat(s.sendBinary(Buffer.alloc(65536))).length, 10 + 65536);
  });
});

describe('RFC 6455 5.4 fragmentation', () => {
  it('a fragmented text message is delivered once, reassembled', () => {
    // RFC 6455 5.6 example: "A fragmented unmasked text message": 01 03 48656c  80 02 6c6f
    const conn = client();
    const got = feed(conn, hex('01 03 48656c'), hex('80 02 6c6f'));
    assert.deepEqual(got.events, [{ type: 'message', binary: false, data: Buffer.from('Hello') }]);
  });

  it('a fragmented binary message with empty fragments is delivered once', () => {
    const conn = server();
    const got = feed(
      conn,
      maskClientFrame('02 00'),
      maskClientFrame('00 02 0102'),
      maskClientFrame('00 00'),
      maskClientFrame('80 01 03'),
    );
    assert.deepEqual(got.events, [{ type: 'message', binary: true, data: hex('010203') }]);
  });

  it('a message of 1,000 one-byte fragments is reassembled', () => {
    const conn = client();
    const parts = [hex('01 01 30')];
    for (let i = 1; i < 999; i++) parts.push(Buffer.from([0x00, 0x01, 0x30 + (i % 10)]));
    parts.push(hex('80 01 39'));
    const got = feed(conn, Buffer.concat(parts));
    assert.equal(got.events.length, 1);
    const ev = got.events[0]!;
    assert.ok(ev.type === 'message');
    assert.equal(ev.data.length, 1000);
    assert.equal(ev.data.toString().slice(0, 12), '012345678901');
  });

  // RFC 6455 5.4: "Control frames (see Section 5.5) MAY be injected in the middle of a
  // fragmented message."
  it('control frames between fragments are delivered, and the ping answered', () => {
    const conn = client();
    const got = feed(conn, hex('01 01 61  89 02 7069  8a 00  80 01 62'));
    assert.deepEqual(got.events, [
      { type: 'ping', data: Buffer.from('pi') },
      { type: 'pong', data: Buffer.alloc(0) },
      { type: 'message', binary: false, data: Buffer.from('ab') },
    ]);
    // the pong, masked: 70 69 XOR 01 02 = 71 6b
    assertBytes(got.output, '8a 82 01020304 716b');
  });

  it('a close frame between fragments closes the connection; the partial message is dropped', () => {
    const conn = client();
    const got = feed(conn, hex('01 01 61  88 02 03e8'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1000, reason: '' }]);
    assert.equal(conn.state, 3);
  });

  // RFC 6455 5.4: "The fragments of one message MUST NOT be interleaved between the
  // fragments of another message unless an extension has been negotiated"
  it('a continuation frame without a start is rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('80 01 61')), 1002);
    const conn2 = client();
    expectFailure(conn2, feed(conn2, hex('00 01 61')), 1002);
  });

  it('a continuation after a complete message is rejected with 1002', () => {
    const conn = client();
    const got = feed(conn, hex('81 01 61  80 01 62'));
    assert.deepEqual(messages(got), [{ binary: false, data: '61' }]);
    expectFailure(conn, got, 1002);
  });

  it('a new text start inside a fragmented message is rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('01 01 61  01 01 62')), 1002);
  });

  it('a final text frame inside a fragmented message is rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('01 01 61  81 01 62')), 1002);
  });

  it('a binary start inside a fragmented text message is rejected with 1002', () => {
    const conn = server();
    expectFailure(conn, feed(conn, maskClientFrame('01 01 61'), maskClientFrame('82 01 62')), 1002);
  });

  // Limits count the bytes a message retains, per fragment too.
  it('maxPayload is enforced across fragments with 1009', () => {
    const conn = client({ maxPayload: 10 });
    const got = feed(conn, hex('02 06 010203040506'), hex('00 05 0708090a0b'));
    const err = expectFailure(conn, got, 1009);
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.code, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.equal(err.limit, 10);
    // 6 bytes retained from the first fragment plus the 5 announced by the second.
    assert.equal(err.size, 11);
  });

  it('the 1009 across fragments comes from the header of the fragment, before its payload', () => {
    const conn = client({ maxPayload: 10 });
    const got = feed(conn, hex('02 06 010203040506'), hex('80 05'));
    expectFailure(conn, got, 1009);
  });

  it('a fragmented message of exactly maxPayload bytes is accepted', () => {
    const conn = client({ maxPayload: 10 });
    const got = feed(conn, hex('02 06 010203040506'), hex('80 04 0708090a'));
    assert.deepEqual(messages(got), [{ binary: true, data: '0102030405060708090a' }]);
  });

  it('a flood of empty fragments is stopped with 1009', () => {
    const maxPayload = 64 * 1024;
    const conn = server({ maxPayload });
    const empty = maskClientFrame('00 00');
    const batch = Buffer.concat(Array.from({ length: 1024 }, () => empty));
    let got = feed(conn, maskClientFrame('02 00'));
    let frames = 1;
    // Each empty fragment must cost at least one byte of the budget, so at most maxPayload+1 of them pass.
    while (got.events.length === 0 && frames <= maxPayload + 1024) {
      got = feed(conn, batch);
      frames += 1024;
    }
    const err = expectFailure(conn, got, 1009);
    assert.ok(err instanceof PayloadTooBigError);
    assert.equal(err.limit, maxPayload);
  });

  it('a 1 MB message in 1,000,000 one-byte fragments is accepted with the default maxPayload', () => {
    // docs/design/protocol-choices.md: "A 1 MB message in 1,000,000 one-byte fragments and a
    // 4 MiB message in 64-byte fragments both pass under the default"
    const n = 1_000_000;
    const wire = Buffer.alloc(3 * n);
    for (let i = 0; i < n; i++) {
      wire[3 * i] = (i === n - 1 ? 0x80 : 0) | (i === 0 ? 0x02 : 0x00);
      wire[3 * i + 1] = 1;
      wire[3 * i + 2] = i & 0xff;
    }
    const conn = client();
    const got = feed(conn, wire);
    assert.equal(got.events.length, 1);
    const ev = got.events[0]!;
    assert.ok(ev.type === 'message' && ev.binary);
    assert.equal(ev.data.length, n);
    assert.equal(ev.data[n - 1], (n - 1) & 0xff);
  });

  it('a flood of empty fragments is stopped with 1009 under the default maxPayload', () => {
    const conn = client();
    const batch = Buffer.alloc(2 * 65536);
    for (let i = 0; i < batch.length; i += 2) batch[i] = 0x00;
    let got = feed(conn, hex('02 00'));
    let fragments = 1;
    while (got.events.length === 0 && fragments < 64 * 1024 * 1024) {
      got = feed(conn, batch);
      fragments += 65536;
    }
    expectFailure(conn, got, 1009);
    assert.ok(fragments <= 16 * 1024 * 1024 + 65536, `stopped after about ${fragments} fragments`);
  });

  it('a 4 MiB message in 64-byte fragments is accepted with the default maxPayload', () => {
    const conn = client();
    const total = 4 * MiB;
    const n = total / 64;
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) payload.writeUInt32BE(i, i);
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const first = (i === n - 1 ? 0x80 : 0) | (i === 0 ? 0x02 : 0x00);
      parts.push(Buffer.from([first, 64]), payload.subarray(i * 64, i * 64 + 64));
    }
    const wire = Buffer.concat(parts);
    const got = feed(conn, wire.subarray(0, 1_000_003), wire.subarray(1_000_003));
    assert.equal(got.events.length, 1);
    const ev = got.events[0]!;
    assert.ok(ev.type === 'message' && ev.binary);
    assert.ok(ev.data.equals(payload));
    assert.equal(conn.state, 1);
  });
});

describe('RFC 6455 5.5 control frames', () => {
  // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and
  // MUST NOT be fragmented."
  it('a ping of 125 bytes is accepted and answered', () => {
    const conn = client();
    const p = Buffer.alloc(125, 0x70);
    const got = feed(conn, Buffer.concat([hex('89 7d'), p]));
    assert.deepEqual(got.events, [{ type: 'ping', data: p }]);
    assert.equal(Buffer.concat(got.output).length, 2 + 4 + 125);
  });

  for (const [name, first] of [
    ['ping', 0x89],
    ['pong', 0x8a],
    ['close', 0x88],
  ] as const) {
    it(`a ${name} of 126 bytes is rejected with 1002`, () => {
      const conn = client();
      const body = name === 'close' ? closePayload(1000, 'x'.repeat(124)) : Buffer.alloc(126, 0x61);
      expectFailure(conn, feed(conn, Buffer.concat([header(first, 126, false), body])), 1002);
    });
  }

  it('a control frame announcing 126 bytes is rejected from its header alone', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('89 7e 007e')), 1002);
  });

  it('a fragmented ping is rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('09 01 61')), 1002);
  });

  it('a fragmented close is rejected with 1002', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('08 02 03e8')), 1002);
  });

  // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
  // response" ... "A Pong frame sent in response to a Ping frame must have identical
  // "Application data" as found in the message body of the Ping frame being replied to."
  it('a server answers a ping with a pong carrying the same payload', () => {
    const conn = server();
    const got = feed(conn, maskClientFrame('89 05 48656c6c6f'));
    assert.deepEqual(got.events, [{ type: 'ping', data: Buffer.from('Hello') }]);
    assertBytes(got.output, '8a 05 48656c6c6f');
  });

  it('a client answers an empty ping with a masked empty pong', () => {
    const conn = client();
    const got = feed(conn, hex('89 00'));
    assert.deepEqual(got.events, [{ type: 'ping', data: Buffer.alloc(0) }]);
    assertBytes(got.output, '8a 80 01020304');
  });

  it('pings are answered in order', () => {
    const conn = server();
    const got = feed(conn, maskClientFrame('89 01 31'), maskClientFrame('89 01 32'));
    assertBytes(got.output, '8a 01 31  8a 01 32');
  });

  // RFC 6455 5.5.3: "A Pong frame MAY be sent unsolicited. ... A response to an unsolicited
  // Pong frame is not expected."
  it('an unsolicited pong is reported and not answered', () => {
    const conn = client();
    const got = feed(conn, hex('8a 03 616263'));
    assert.deepEqual(got, { events: [{ type: 'pong', data: Buffer.from('abc') }], output: [] });
  });

  it('ping() and pong() build control frames', () => {
    assertBytes(server().ping('Hello'), '89 05 48656c6c6f');
    assertBytes(server().pong(hex('0102')), '8a 02 0102');
    assertBytes(server().ping(), '89 00');
    assertBytes(client().ping('Hello'), '89 85 01020304 49676f686e');
    assertBytes(server().ping(Buffer.alloc(125)), `89 7d ${'00'.repeat(125)}`);
  });
});

describe('RFC 6455 5.6 UTF-8 text', () => {
  // RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
  // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
  // WebSocket Connection_."
  const invalid: Array<[string, string]> = [
    ['lone continuation byte', '80'],
    ['overlong NUL (c0 80)', 'c0 80'],
    ['overlong c1 bf', 'c1 bf'],
    ['overlong 3-byte', 'e0 80 af'],
    ['overlong 4-byte', 'f0 80 80 af'],
    ['high surrogate U+D800', 'ed a0 80'],
    ['low surrogate U+DFFF', 'ed bf bf'],
    ['above U+10FFFF', 'f4 90 80 80'],
    ['f5 lead byte', 'f5 80 80 80'],
    ['byte fe', 'fe'],
    ['byte ff', 'ff'],
    ['truncated 2-byte at the end', '61 c3'],
    ['truncated 4-byte at the end', 'f0 9f 98'],
    ['κόσμε, a surrogate, then "edited"', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'],
  ];
  const valid: Array<[string, string]> = [
    ['U+0000', '00'],
    ['U+007F', '7f'],
    ['U+0080', 'c2 80'],
    ['U+07FF', 'df bf'],
    ['U+0800', 'e0 a0 80'],
    ['U+D7FF', 'ed 9f bf'],
    ['U+E000', 'ee 80 80'],
    ['U+FFFF', 'ef bf bf'],
    ['U+10000', 'f0 90 80 80'],
    ['U+10FFFF', 'f4 8f bf bf'],
    ['κόσμε', 'ce ba e1 bd b9 cf 83 ce bc ce b5'],
  ];

  for (const [name, bytes] of invalid) {
    it(`invalid text is rejected with 1007: ${name}`, () => {
      const p = hex(bytes);
      const conn = client();
      expectFailure(conn, feed(conn, frame(0x81, p)), 1007);
    });

    it(`invalid text split across two fragments at every byte boundary gives 1007: ${name}`, () => {
      const p = hex(bytes);
      for (let i = 0; i <= p.length; i++) {
        const conn = client();
        const got = feed(conn, frame(0x01, p.subarray(0, i)), frame(0x80, p.subarray(i)));
        expectFailure(conn, got, 1007);
      }
    });

    it(`invalid text fed one byte at a time gives 1007: ${name}`, () => {
      const conn = server();
      expectFailure(conn, feed(conn, ...bytewise(maskedFrame(0x81, hex(bytes)))), 1007);
    });
  }

  for (const [name, bytes] of valid) {
    it(`valid text is delivered, also split at every byte boundary: ${name}`, () => {
      const p = hex(bytes);
      for (let i = 0; i <= p.length; i++) {
        const conn = client();
        const got = feed(conn, frame(0x01, p.subarray(0, i)), frame(0x80, p.subarray(i)));
        assert.deepEqual(got.events, [{ type: 'message', binary: false, data: p }], `split at ${i}`);
      }
    });
  }

  it('invalid UTF-8 in a non-final fragment fails at once, before the message ends', () => {
    // Autobahn 6.4.x: fail fast on the first invalid byte.
    const conn = client();
    const got = feed(conn, hex('01 0c ce ba e1 bd b9 cf 83 ce bc ce b5 f4'), hex('00 03 90 80 80'));
    expectFailure(conn, got, 1007);
  });

  it('invalid UTF-8 is found in the first fragment already', () => {
    const conn = client();
    expectFailure(conn, feed(conn, hex('01 02 61 ff')), 1007);
  });

  it('binary messages are not UTF-8 checked', () => {
    const conn = client();
    const got = feed(conn, hex('82 02 c0 80'));
    assert.deepEqual(messages(got), [{ binary: true, data: 'c080' }]);
  });

  it('the UTF-8 state is reset between messages', () => {
    const conn = client();
    const got = feed(conn, hex('81 02 c3a9  81 01 61'));
    assert.deepEqual(messages(got), [
      { binary: false, data: 'c3a9' },
      { binary: false, data: '61' },
    ]);
  });

  it('the error is an InvalidUtf8Error with code DUPLEX_INVALID_UTF8', () => {
    const conn = client();
    const err = expectFailure(conn, feed(conn, hex('81 01 ff')), 1007);
    assert.equal(err.code, 'DUPLEX_INVALID_UTF8');
    assert.ok(err instanceof ProtocolError);
  });
});

describe('RFC 6455 5.5.1 and 7 closing the connection', () => {
  it('after the peer\u2019s close, the echo is in output and the state is CLOSED', () => {
    const conn = server();
    const got = feed(conn, maskClientFrame('88 02 03e8'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1000, reason: '' }]);
    assertBytes(got.output, '88 02 03e8');
    assert.equal(conn.state, 3);
    assert.equal(conn.closeReceived, true);
    assert.equal(conn.closeSent, true);
  });

  it('a client echoes the close masked', () => {
    const conn = client();
    const got = feed(conn, hex('88 02 03e9'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1001, reason: '' }]);
    assertBytes(got.output, expectedClose('client', 1001));
    assert.equal(conn.state, 3);
  });

  it('an empty close is reported as 1005 and answered with a close', () => {
    const conn = client();
    const got = feed(conn, hex('88 00'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1005, reason: '' }]);
    // RFC 6455 7.4.1: 1005 "MUST NOT be set as a status code in a Close control frame";
    // the echo is an empty close frame.
    assertBytes(got.output, '88 80 01020304');
    assert.equal(conn.state, 3);
  });

  it('the reason is reported as a string', () => {
    const conn = client();
    const got = feed(conn, frame(0x88, closePayload(4000, 'bye ☃')));
    assert.deepEqual(got.events, [{ type: 'close', code: 4000, reason: 'bye ☃' }]);
  });

  it('a close payload of 1 byte is rejected with 1002', () => {
    // RFC 6455 5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
    // unsigned integer ... representing a status code"
    const conn = client();
    expectFailure(conn, feed(conn, hex('88 01 03')), 1002);
  });

  // RFC 6455 7.4.1/7.4.2 and the IANA registry: the codes that may appear on the wire.
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    it(`close code ${code} received is rejected with 1002`, () => {
      const conn = client();
      expectFailure(conn, feed(conn, frame(0x88, closePayload(code))), 1002);
    });
  }

  for (const code of [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
  ]) {
    it(`close code ${code} received is accepted and echoed`, () => {
      const conn = server();
      const got = feed(conn, maskedFrame(0x88, closePayload(code)));
      assert.deepEqual(got.events, [{ type: 'close', code, reason: '' }]);
      assertBytes(got.output, expectedClose('server', code));
    });
  }

  it('a close reason that is not UTF-8 is rejected with 1007', () => {
    // RFC 6455 5.5.1: "the data MAY contain a reason ... it is not guaranteed to be human
    // readable" but is UTF-8-encoded; Autobahn 7.5.1 expects a failure.
    const conn = client();
    expectFailure(conn, feed(conn, hex('88 06 03e8 ce ba e1 bd')), 1007);
    const conn2 = client();
    expectFailure(conn2, feed(conn2, hex('88 04 03e8 ff fe')), 1007);
  });

  it('bytes after the peer\u2019s close are ignored', () => {
    const conn = client();
    feed(conn, hex('88 02 03e8'));
    assert.deepEqual(conn.receive(hex('81 01 61  89 00  88 02 03e8')), {
      events: [],
      output: [],
      consumed: 9,
    });
    assert.equal(conn.state, 3);
  });

  it('bytes in the same chunk after the peer\u2019s close are ignored', () => {
    const conn = client();
    const got = feed(conn, hex('88 02 03e8  81 01 61  89 00'));
    assert.deepEqual(got.events, [{ type: 'close', code: 1000, reason: '' }]);
    assertBytes(got.output, expectedClose('client', 1000));
  });

  it('close() sends a close frame and moves to CLOSING; the peer\u2019s close moves to CLOSED with no echo', () => {
    const conn = server();
    assertBytes(conn.close(1000, 'bye'), '88 05 03e8 627965');
    assert.equal(conn.state, 2);
    assert.equal(conn.closeSent, true);
    assert.equal(conn.closeReceived, false);
    const got = feed(conn, maskClientFrame('88 02 03e8'));
    assert.deepEqual(got, { events: [{ type: 'close', code: 1000, reason: '' }], output: [] });
    assert.equal(conn.state, 3);
    assert.equal(conn.closeReceived, true);
  });

  it('a client close is masked with the injected key', () => {
    // 03 e8 62 79 65 XOR 01 02 03 04 01 = 02 ea 61 7d 64
    assertBytes(client().close(1000, 'bye'), '88 85 01020304 02ea617d64');
  });

  it('while CLOSING, messages from the peer are still delivered', () => {
    const conn = client();
    conn.close(1000);
    const got = feed(conn, hex('81 01 61'));
    assert.deepEqual(messages(got), [{ binary: false, data: '61' }]);
  });

  // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
  // response, unless it already received a Close frame."
  it('while CLOSING (our close sent, the peer\u2019s not yet received), a ping is still answered', () => {
    const conn = client();
    conn.close(1000);
    const got = feed(conn, hex('89 01 61'));
    assert.deepEqual(got.events, [{ type: 'ping', data: Buffer.from('a') }]);
    // 61 XOR 01 = 60
    assertBytes(got.output, '8a 81 01020304 60');
  });

  it('a protocol error while CLOSING fails the connection without a second close frame', () => {
    const conn = server();
    conn.close(1001);
    const got = feed(conn, hex('81 01 61'));
    assert.equal(got.events.length, 1);
    const ev = got.events[0]!;
    assert.ok(ev.type === 'error');
    assert.equal(ev.error.closeCode, 1002);
    assert.deepEqual(got.output, []);
    assert.equal(conn.state, 3);
  });

  it('a reason of 123 UTF-8 bytes is accepted', () => {
    const out = Buffer.concat(server().close(1000, 'é'.repeat(61) + 'a'));
    assert.equal(out.length, 2 + 125);
    assertBytes(out.subarray(0, 4), '88 7d 03e8');
  });
});

describe('RFC 6455 9 extensions (the Extension hook)', () => {
  // RFC 6455 5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines meanings
  // for non-zero values". A test extension on RSV1 that reverses payloads.
  const reverse = {
    name: 'x-reverse',
    rsvBits: 0x40,
    decodeMessage: (payload: Buffer, rsv: number) => {
      assert.equal(rsv, 0x40);
      return Buffer.from(payload).reverse();
    },
    encodeMessage: (payload: Buffer) => ({ payload: Buffer.from(payload).reverse(), rsv: 0x40 }),
  };

  it('a message whose first frame has the RSV bit is decoded by the extension', () => {
    const conn = client({ extensions: [reverse] });
    const got = feed(conn, hex('c1 03 636261'));
    assert.deepEqual(got.events, [{ type: 'message', binary: false, data: Buffer.from('abc') }]);
  });

  it('a fragmented message is decoded once, after reassembly; the RSV bit sits on the first frame only', () => {
    const conn = client({ extensions: [reverse] });
    const got = feed(conn, hex('41 02 6463'), hex('80 02 6261'));
    assert.deepEqual(got.events, [{ type: 'message', binary: false, data: Buffer.from('abcd') }]);
  });

  it('the RSV bit on a continuation frame is rejected with 1002', () => {
    // RFC 7692 6.1: the per-message bit is set on the first frame of a message only.
    const conn = client({ extensions: [reverse] });
    expectFailure(conn, feed(conn, hex('41 02 6463  c0 02 6261')), 1002);
  });

  it('a message without the RSV bit bypasses the extension', () => {
    const conn = client({ extensions: [reverse] });
    assert.deepEqual(messages(feed(conn, hex('81 03 616263'))), [{ binary: false, data: '616263' }]);
  });

  it('decoded text is UTF-8 checked (1007)', () => {
    const conn = client({ extensions: [reverse] });
    // reversed: c3 28 is invalid
    expectFailure(conn, feed(conn, hex('c1 02 28c3')), 1007);
  });

  it('a decoded message over maxPayload is refused with 1009', () => {
    const growing = { ...reverse, decodeMessage: (p: Buffer) => Buffer.concat([p, p]) };
    const conn = client({ extensions: [growing], maxPayload: 5 });
    expectFailure(conn, feed(conn, hex('c2 03 010203')), 1009);
  });

  it('an error thrown by the extension fails the connection with its close code', () => {
    const broken = {
      ...reverse,
      decodeMessage: (): Buffer => {
        throw new ProtocolError({ code: 'DUPLEX_DEFLATE_INVALID_DATA', message: 'corrupt', closeCode: 1007 });
      },
    };
    const conn = client({ extensions: [broken] });
    expectFailure(conn, feed(conn, hex('c2 01 00')), 1007);
  });

  it('an unexpected exception in the extension fails the connection with 1011 and no reason', () => {
    const buggy = {
      ...reverse,
      decodeMessage: (): Buffer => {
        throw new TypeError('secret internal detail');
      },
    };
    const conn = server({ extensions: [buggy] });
    const got = feed(conn, maskedFrame(0xc2, hex('00')));
    expectFailure(conn, got, 1011);
    assertBytes(got.output, '88 02 03f3');
  });

  it('sending runs encodeMessage and sets its RSV bits on the frame', () => {
    assertBytes(server({ extensions: [reverse] }).sendText('abc'), 'c1 03 636261');
    assertBytes(client({ extensions: [reverse] }).sendBinary(hex('0102')), 'c2 82 01020304 0303');
  });

  it('control frames never pass through the extension', () => {
    assertBytes(server({ extensions: [reverse] }).ping('ab'), '89 02 6162');
    const conn = client({ extensions: [reverse] });
    assert.deepEqual(feed(conn, hex('89 02 6162')).events, [{ type: 'ping', data: Buffer.from('ab') }]);
  });
});

describe('Connection API misuse', () => {
  it('sendText, sendBinary and ping after close() throw InvalidStateError', () => {
    const conn = client();
    conn.close(1000);
    assert.throws(() => conn.sendText('a'), InvalidStateError);
    assert.throws(() => conn.sendBinary(Buffer.from('a')), InvalidStateError);
    assert.throws(
      () => conn.sendText('a'),
      (e: unknown) => e instanceof InvalidStateError && e.code === 'DUPLEX_INVALID_STATE',
    );
  });

  it('sendText after the connection failed throws InvalidStateError', () => {
    const conn = server();
    feed(conn, hex('81 00'));
    assert.equal(conn.state, 3);
    assert.throws(() => conn.sendText('a'), InvalidStateError);
  });

  it('sendText after the peer closed throws InvalidStateError', () => {
    const conn = client();
    feed(conn, hex('88 00'));
    assert.throws(() => conn.sendText('a'), InvalidStateError);
  });

  // RFC 6455 7.4.1: 1004, 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame"
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, -1]) {
    it(`close(${code}) throws InvalidArgumentError DUPLEX_INVALID_CLOSE_CODE`, () => {
      const conn = client();
      assert.throws(
        () => conn.close(code),
        (e: unknown) => e instanceof InvalidArgumentError && e.code === 'DUPLEX_INVALID_CLOSE_CODE',
      );
      assert.equal(conn.state, 1, 'still OPEN');
      assert.equal(conn.closeSent, false);
    });
  }

  it('close() with a reason over 123 bytes throws DUPLEX_CLOSE_REASON_TOO_LONG', () => {
    const conn = server();
    assert.throws(
      () => conn.close(1000, 'a'.repeat(124)),
      (e: unknown) => e instanceof InvalidArgumentError && e.code === 'DUPLEX_CLOSE_REASON_TOO_LONG',
    );
    // 62 two-byte characters: 62 code units, 124 bytes
    assert.throws(
      () => conn.close(1000, 'é'.repeat(62)),
      (e: unknown) => e instanceof InvalidArgumentError && e.code === 'DUPLEX_CLOSE_REASON_TOO_LONG',
    );
    assert.equal(conn.state, 1);
  });

  it('ping() and pong() over 125 bytes throw DUPLEX_CONTROL_PAYLOAD_TOO_BIG', () => {
    const conn = server();
    const isTooBig = (e: unknown) =>
      e instanceof InvalidArgumentError && e.code === 'DUPLEX_CONTROL_PAYLOAD_TOO_BIG';
    assert.throws(() => conn.ping(Buffer.alloc(126)), isTooBig);
    assert.throws(() => conn.ping('é'.repeat(63)), isTooBig);
    assert.throws(() => conn.pong(Buffer.alloc(126)), isTooBig);
  });

  it('a second close() returns []', () => {
    const conn = server();
    assert.equal(conn.close(1000).length > 0, true);
    assert.deepEqual(conn.close(1000), []);
    assert.deepEqual(conn.close(4000, 'again'), []);
  });

  it('close() after the peer\u2019s close was echoed returns []', () => {
    const conn = server();
    feed(conn, maskClientFrame('88 02 03e8'));
    assert.deepEqual(conn.close(1000), []);
  });
});
