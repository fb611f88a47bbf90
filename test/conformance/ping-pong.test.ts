/**
 * RFC 6455 sections 5.5, 5.5.2 and 5.5.3: ping and pong against a running `duplex echo`.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { encodeFrame, encodeFrames, Op } from '../helpers/raw-client.js';
import {
  echoServer,
  expectEcho,
  expectFrame,
  failsWith,
  READ_MS,
  readSplit,
  TEST,
  withClient,
} from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

describe('RFC 6455 5.5.2 a ping is answered by a pong with identical payload', () => {
  // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
  // response" and 5.5.3: "A Pong frame sent in response to a Ping frame must have identical
  // "Application data" as found in the message body of the Ping frame being replied to."
  test('every payload length from 0 to 125 bytes, one connection', TEST, () =>
    withClient(server.get(), async (c) => {
      for (let length = 0; length <= 125; length++) {
        const payload = randomBytes(length);
        await c.sendFrames({ opcode: Op.PING, payload });
        expectFrame(await c.readFrame(READ_MS), Op.PONG, payload, `pong for a ${length}-byte ping`);
      }
    }),
  );

  test('a ping with a text payload', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendFrames({ opcode: Op.PING, payload: 'Hello, κόσμε' });
      expectFrame(await c.readFrame(READ_MS), Op.PONG, 'Hello, κόσμε');
    }),
  );

  test('a ping with bytes that are not UTF-8 (ping data is binary)', TEST, () =>
    withClient(server.get(), async (c) => {
      const payload = Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0x80]);
      await c.sendFrames({ opcode: Op.PING, payload });
      expectFrame(await c.readFrame(READ_MS), Op.PONG, payload);
    }),
  );

  test('a 125-byte ping sent one byte per write', TEST, () =>
    withClient(server.get(), async (c) => {
      const payload = randomBytes(125);
      await c.sendChunked(encodeFrame({ opcode: Op.PING, payload }), 1);
      expectFrame(await c.readFrame(READ_MS), Op.PONG, payload);
    }),
  );

  test('ten pings in one TCP write are answered by ten pongs in order', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 5.5.3 allows answering only the most recent of several pings ("MAY elect to
      // send a Pong frame for only the most recently processed Ping frame"); Duplex answers
      // every ping, in order, and this test pins that choice.
      const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`ping-${i}`));
      await c.send(encodeFrames(payloads.map((payload) => ({ opcode: Op.PING, payload }))));
      const frames = await c.readFrames(10, READ_MS);
      frames.forEach((f, i) => {
        expectFrame(f, Op.PONG, payloads[i]!, `pong ${i}`);
      });
    }),
  );

  test('pings and messages in one write: pongs in order, echoes in order', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'one' },
          { opcode: Op.PING, payload: 'p1' },
          { opcode: Op.BINARY, payload: 'two' },
          { opcode: Op.PING, payload: 'p2' },
        ]),
      );
      const { pongs, others } = await readSplit(c, 4);
      assert.equal(pongs.length, 2, 'two pongs');
      expectFrame(pongs[0]!, Op.PONG, 'p1');
      expectFrame(pongs[1]!, Op.PONG, 'p2');
      expectFrame(others[0]!, Op.TEXT, 'one');
      expectFrame(others[1]!, Op.BINARY, 'two');
    }),
  );

  test('a ping between the fragments of a message is answered and the message echoed', TEST, () =>
    withClient(server.get(), async (c) => {
      // RFC 6455 5.4: "An endpoint MUST be capable of handling control frames in the middle of
      // a fragmented message."
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'Hel', fin: false },
          { opcode: Op.PING, payload: 'mid' },
          { opcode: Op.CONTINUATION, payload: 'lo' },
        ]),
      );
      const { pongs, others } = await readSplit(c, 2);
      assert.equal(pongs.length, 1, 'one pong');
      expectFrame(pongs[0]!, Op.PONG, 'mid', 'pong for the ping between fragments');
      expectFrame(others[0]!, Op.TEXT, 'Hello', 'echo of the fragmented message');
    }),
  );
});

describe('RFC 6455 5.5 a control frame over 125 bytes fails with 1002', () => {
  // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
  // NOT be fragmented."
  test('a ping of 126 bytes', TEST, () =>
    failsWith(
      server.get(),
      encodeFrame({ opcode: Op.PING, payload: Buffer.alloc(126, 1) }),
      1002,
      '126-byte ping',
    ),
  );
  test('a ping of 65536 bytes (64-bit length)', TEST, () =>
    failsWith(
      server.get(),
      encodeFrame({ opcode: Op.PING, payload: Buffer.alloc(65536, 1) }),
      1002,
      '65536-byte ping',
    ),
  );
  test('a pong of 126 bytes', TEST, () =>
    failsWith(
      server.get(),
      encodeFrame({ opcode: Op.PONG, payload: Buffer.alloc(126, 1) }),
      1002,
      '126-byte pong',
    ),
  );
  test('a 126-byte ping after a valid echo in the same write: the good one is echoed first', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'ok' },
          { opcode: Op.PING, payload: Buffer.alloc(126) },
        ]),
      );
      await expectEcho(c, Op.TEXT, 'ok');
      const res = await c.readClose(READ_MS);
      assert.deepEqual(res.before, []);
      assert.equal(res.code, 1002);
      await c.waitForTcpClose(READ_MS);
    }),
  );
});

describe('RFC 6455 5.5.3 an unsolicited pong is ignored', () => {
  // RFC 6455 5.5.3: "A Pong frame MAY be sent unsolicited. This serves as a unidirectional
  // heartbeat. A response to an unsolicited Pong frame is not expected."
  test('unsolicited pongs get no answer and the next echo works', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.PONG, payload: 'unsolicited' },
          { opcode: Op.PONG },
          { opcode: Op.PONG, payload: randomBytes(125) },
          { opcode: Op.TEXT, payload: 'after pongs' },
        ]),
      );
      // The first frame back must be the echo: nothing was sent for the pongs.
      await expectEcho(c, Op.TEXT, 'after pongs', 'first frame after unsolicited pongs');
    }),
  );

  test('an unsolicited pong between fragments is ignored', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.BINARY, payload: 'ab', fin: false },
          { opcode: Op.PONG, payload: 'x' },
          { opcode: Op.CONTINUATION, payload: 'cd' },
        ]),
      );
      await expectEcho(c, Op.BINARY, 'abcd');
    }),
  );
});
