/**
 * RFC 6455 sections 5.5.1, 7.1 and 7.4: the closing handshake, close codes of every class,
 * close reasons, and data after close, against a running `duplex echo`.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  closePayload,
  connectRaw,
  encodeFrame,
  encodeFrames,
  Op,
  serverFrame,
} from '../helpers/raw-client.js';
import { echoServer, expectFrame, failsWith, hex, READ_MS, TEST, withClient } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

const closeFrame = (payload: Buffer) => encodeFrame({ opcode: Op.CLOSE, payload });

describe('RFC 6455 7.4 close codes: valid codes are echoed, invalid ones fail with 1002', () => {
  // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a Close
  // frame, the endpoint MUST send a Close frame in response. (When sending a Close frame in
  // response, the endpoint typically echos the status code it received.)" Duplex echoes the code.
  const valid: Array<[number, string]> = [
    [1000, '1000-1003 defined: normal closure'],
    [1001, '1000-1003 defined: going away'],
    [1002, '1000-1003 defined: protocol error'],
    [1003, '1000-1003 defined: unsupported data'],
    [1007, '1007-1011 defined: invalid payload'],
    [1008, '1007-1011 defined: policy violation'],
    [1009, '1007-1011 defined: message too big'],
    [1010, '1007-1011 defined: mandatory extension'],
    [1011, '1007-1011 defined: internal error'],
    [1012, '1012-1014 IANA registered: service restart'],
    [1013, '1012-1014 IANA registered: try again later'],
    [1014, '1012-1014 IANA registered: bad gateway'],
    // RFC 6455 7.4.2: "Status codes in the range 3000-3999 are reserved for use by libraries,
    // frameworks, and applications." and "Status codes in the range 4000-4999 are reserved for
    // private use and thus can't be registered."
    [3000, '3000-3999 libraries and frameworks'],
    [3999, '3000-3999 libraries and frameworks'],
    [4000, '4000-4999 private use'],
    [4999, '4000-4999 private use'],
  ];
  for (const [code, name] of valid) {
    test(`close ${code} (${name}) is echoed with the same code`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.send(closeFrame(closePayload(code)));
        const res = await c.readClose(READ_MS);
        assert.deepEqual(res.before, []);
        // Exact bytes: FIN + close opcode, unmasked, 2-byte payload carrying the same code.
        expectFrame(res.frame, Op.CLOSE, closePayload(code), `close ${code} echo`);
        await c.waitForTcpClose(READ_MS);
      }),
    );
  }

  const invalid: Array<[number, string]> = [
    // RFC 6455 7.4.2: "Status codes in the range 0-999 are not used."
    [0, '0-999 not used'],
    [999, '0-999 not used'],
    // RFC 6455 7.4.1: "1004 Reserved. The specific meaning might be defined in the future."
    [1004, '1004 reserved'],
    // RFC 6455 7.4.1: "1005 is a reserved value and MUST NOT be set as a status code in a Close
    // control frame by an endpoint." The same sentence is written for 1006 and 1015.
    [1005, '1005 no status: never on the wire'],
    [1006, '1006 abnormal: never on the wire'],
    [1015, '1015 TLS handshake: never on the wire'],
    // RFC 6455 7.4.2: "Status codes in the range 1000-2999 are reserved for definition by this
    // protocol, its future revisions, and extensions specified in a permanent and readily
    // available public specification." None is defined in 1016-2999.
    [1016, '1016-2999 reserved for future revisions'],
    [1100, '1016-2999 reserved for future revisions'],
    [2000, '1016-2999 reserved for future revisions'],
    [2999, '1016-2999 reserved for future revisions'],
    // Above 4999: no range is defined.
    [5000, '5000+ undefined'],
    [65535, '5000+ undefined'],
  ];
  for (const [code, name] of invalid) {
    test(`close ${code} (${name}) fails with 1002`, TEST, () =>
      failsWith(server.get(), closeFrame(closePayload(code)), 1002, `close ${code}`),
    );
  }
});

describe('RFC 6455 5.5.1 close payloads', () => {
  test('an empty close is answered by an empty close (Duplex echoes the absence of a code)', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 5.5.1: "The Close frame MAY contain a body". 7.1.5: with no status code,
      // "_The WebSocket Connection Close Code_ is considered to be 1005", which "MUST NOT be
      // set as a status code in a Close control frame": Duplex answers with an empty close.
      await c.send(closeFrame(Buffer.alloc(0)));
      const res = await c.readClose(READ_MS);
      assert.deepEqual(res.before, []);
      expectFrame(res.frame, Op.CLOSE, Buffer.alloc(0), 'empty close echo');
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('a 1-byte close payload fails with 1002', TEST, () =>
    // RFC 6455 5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
    // unsigned integer (in network byte order) representing a status code".
    failsWith(server.get(), closeFrame(Buffer.from([0x03])), 1002, '1-byte close payload'),
  );

  test('a close with a 123-byte reason (the largest) is answered with the same code', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 5.5: control frame payloads are at most 125 bytes: 2 for the code, 123 for the reason.
      const reason = 'r'.repeat(123);
      await c.send(closeFrame(closePayload(1000, reason)));
      const res = await c.readClose(READ_MS);
      assert.deepEqual(res.before, []);
      assert.equal(res.code, 1000);
      // The reason of the answer is the server's own; Duplex sends either none or the same one.
      const back = res.reason.toString();
      assert.ok(back === '' || back === reason, `unexpected reason ${JSON.stringify(back)}`);
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('a close with a multi-byte UTF-8 reason is answered with the same code', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(closeFrame(closePayload(4000, 'αντίο 👋')));
      const res = await c.readClose(READ_MS);
      assert.equal(res.code, 4000);
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('a close with a 124-byte reason (126-byte payload) fails with 1002', TEST, () =>
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    failsWith(server.get(), closeFrame(closePayload(1000, 'r'.repeat(124))), 1002, '126-byte close'),
  );

  // RFC 6455 5.5.1: "Following the 2-byte integer, the body MAY contain UTF-8-encoded data with
  // value /reason/" and 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
  // that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
  // WebSocket Connection_."
  for (const [name, bytes] of [
    ['FF', hex('ff')],
    ['overlong C0 80', hex('c0 80')],
    ['surrogate ED A0 80', hex('ed a0 80')],
    ['above U+10FFFF F4 90 80 80', hex('f4 90 80 80')],
    ['truncated E2 82', hex('e2 82')],
    ['text then lone continuation', Buffer.concat([Buffer.from('bye'), hex('80')])],
  ] as const) {
    test(`a close reason that is not UTF-8 (${name}) fails with 1007`, TEST, () =>
      failsWith(server.get(), closeFrame(closePayload(1000, bytes)), 1007, `close reason ${name}`),
    );
  }
});

describe('RFC 6455 7.1 the closing handshake and what follows it', () => {
  test('the server closes TCP after its close frame without waiting for the client (7.1.1)', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 7.1.1: "The server MUST close the underlying TCP connection immediately; the
      // client SHOULD wait for the server to close the connection". The raw client never ends
      // its side: the server must.
      await c.send(closeFrame(closePayload(1000, 'done')));
      const res = await c.readClose(READ_MS);
      assert.equal(res.code, 1000);
      await c.waitForTcpClose(READ_MS);
      assert.equal(c.bufferedBytes, 0, 'bytes after the close frame');
    }),
  );

  test('data frames after a close in the same write are ignored', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 5.5.1: "The application MUST NOT send any more data frames after sending a
      // Close frame." and 1.4: after the close frame, the peer "discards any further data received".
      await c.send(
        encodeFrames([
          { opcode: Op.CLOSE, payload: closePayload(1000) },
          { opcode: Op.TEXT, payload: 'after close' },
          { opcode: Op.BINARY, payload: 'after close' },
          { opcode: Op.PING, payload: 'after close' },
        ]),
      );
      const res = await c.readClose(READ_MS);
      assert.deepEqual(res.before, []);
      expectFrame(res.frame, Op.CLOSE, closePayload(1000));
      await c.waitForTcpClose(READ_MS);
      assert.equal(c.bufferedBytes, 0, `bytes after the close frame: ${c.peekHex(32)}`);
    }),
  );

  test('invalid frames after a close are ignored too (no second close frame)', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        Buffer.concat([
          closeFrame(closePayload(1001)),
          encodeFrame({ opcode: Op.TEXT, payload: 'x', rsv: 0x40 }),
          encodeFrame({ opcode: 0x3, payload: 'x' }),
        ]),
      );
      const res = await c.readClose(READ_MS);
      expectFrame(res.frame, Op.CLOSE, closePayload(1001));
      await c.waitForTcpClose(READ_MS);
      assert.equal(c.bufferedBytes, 0, `bytes after the close frame: ${c.peekHex(32)}`);
    }),
  );

  test('a message, then close: the message is echoed before the close frame', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'last words' },
          { opcode: Op.CLOSE, payload: closePayload(1000) },
        ]),
      );
      const res = await c.readClose(READ_MS);
      assert.equal(res.before.length, 1);
      expectFrame(res.before[0]!, Op.TEXT, 'last words');
      expectFrame(res.frame, Op.CLOSE, closePayload(1000));
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('a close sent one byte per write is echoed', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendChunked(closeFrame(closePayload(3000, 'slow')), 1, 1);
      const res = await c.readClose(READ_MS);
      assert.equal(res.code, 3000);
      await c.waitForTcpClose(READ_MS);
    }),
  );

  test('the close frame the server sends is unmasked with FIN set', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(closeFrame(closePayload(1000)));
      const res = await c.readClose(READ_MS);
      assert.deepEqual(res.frame.raw, serverFrame(Op.CLOSE, closePayload(1000)));
      await c.waitForTcpClose(READ_MS);
    }),
  );
});

describe('duplex echo contract: SIGTERM closes every connection with 1001 (runs last: it stops the server)', () => {
  test('two open connections get close 1001 and the process exits 0', TEST, async () => {
    // RFC 6455 7.4.1: "1001 indicates that an endpoint is "going away", such as a server going
    // down". shared/DESIGN.md: "SIGINT and SIGTERM close every connection with 1001 and exit 0."
    const echo = server.get();
    const a = await connectRaw(echo.port);
    const b = await connectRaw(echo.port);
    try {
      const exited = echo.stop();
      for (const c of [a, b]) {
        const res = await c.readClose(READ_MS);
        assert.deepEqual(res.before, []);
        assert.equal(res.code, 1001);
        assert.equal(res.frame.masked, false);
        // Answer like a well-behaved client, then the server closes TCP.
        await c.send(encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1001) }));
        await c.waitForTcpClose(READ_MS);
      }
      assert.equal(await exited, 0, `exit code; output:\n${echo.output()}`);
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});
