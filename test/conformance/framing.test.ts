/**
 * RFC 6455 section 5.1-5.3: base framing, payload length encodings, masking, and the
 * maxPayload limit (16 MiB by default), against a running `duplex echo`.
 */

import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { encodeFrame, Op } from '../helpers/raw-client.js';
import { echoServer, expectEcho, expectFailure, failsWith, TEST, withClient } from './support.js';

const MiB = 1024 * 1024;
const server = echoServer();
before(server.start);
after(server.stop);

describe('RFC 6455 5.2 payload length: every length form is echoed exactly', () => {
  // RFC 6455 5.2: "Payload length: 7 bits, 7+16 bits, or 7+64 bits ... if 0-125, that is the
  // payload length. If 126, the following 2 bytes ... are the payload length. If 127, the
  // following 8 bytes ... are the payload length."
  for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
    test(`binary payload of ${length} bytes`, TEST, () =>
      withClient(server.get(), async (c) => {
        const payload = randomBytes(length);
        await c.sendFrames({ opcode: Op.BINARY, payload });
        await expectEcho(c, Op.BINARY, payload);
      }),
    );
    test(`text payload of ${length} bytes`, TEST, () =>
      withClient(server.get(), async (c) => {
        const payload = Buffer.alloc(length, 'a');
        await c.sendFrames({ opcode: Op.TEXT, payload });
        await expectEcho(c, Op.TEXT, payload);
      }),
    );
  }

  test('binary payload of 16 MiB (exactly the default maxPayload) is echoed', { timeout: 60_000 }, () =>
    withClient(server.get(), async (c) => {
      const payload = randomBytes(16 * MiB);
      await c.sendFrames({ opcode: Op.BINARY, payload });
      await expectEcho(c, Op.BINARY, payload);
    }),
  );

  test('a masking key of all zeros is still a masked frame and is echoed', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendFrames({ opcode: Op.TEXT, payload: 'zero key', mask: Buffer.alloc(4) });
      await expectEcho(c, Op.TEXT, 'zero key');
    }),
  );
});

describe('RFC 6455 5.2 payload length not in its shortest form fails with 1002 (documented choice)', () => {
  // RFC 6455 5.2: "Note that in all cases, the minimal number of bytes MUST be used to encode
  // the length, for example, the length of a 124-byte-long string can't be encoded as the
  // sequence 126, 0, 124." Duplex's documented choice: such a frame fails the connection with 1002.
  const cases: Array<{ name: string; length: number; bits: 16 | 64 }> = [
    { name: '16-bit form for length 5', length: 5, bits: 16 },
    { name: '16-bit form for length 124', length: 124, bits: 16 },
    { name: '16-bit form for length 125', length: 125, bits: 16 },
    { name: '64-bit form for length 5', length: 5, bits: 64 },
    { name: '64-bit form for length 200', length: 200, bits: 64 },
    { name: '64-bit form for length 65535', length: 65535, bits: 64 },
  ];
  for (const { name, length, bits } of cases) {
    test(name, TEST, () =>
      failsWith(
        server.get(),
        encodeFrame({ opcode: Op.BINARY, payload: Buffer.alloc(length, 7), lengthBits: bits }),
        1002,
        name,
      ),
    );
  }

  test(
    'a non-minimal length after a valid echo in the same write: the good frame is echoed first',
    TEST,
    () =>
      withClient(server.get(), async (c) => {
        await c.send(
          Buffer.concat([
            encodeFrame({ opcode: Op.TEXT, payload: 'good' }),
            encodeFrame({ opcode: Op.TEXT, payload: 'bad', lengthBits: 16 }),
          ]),
        );
        await expectEcho(c, Op.TEXT, 'good');
        await expectFailure(c, 1002, '16-bit length 3 after a good frame');
      }),
  );
});

describe('RFC 6455 5.2 64-bit length with the most significant bit set fails with 1002', () => {
  // RFC 6455 5.2: "If 127, the following 8 bytes interpreted as a 64-bit unsigned integer (the
  // most significant bit MUST be 0) are the payload length."
  for (const declared of [2n ** 63n + 5n, 2n ** 64n - 1n, 2n ** 63n + 65536n]) {
    test(`declared length 0x${declared.toString(16)}`, TEST, () =>
      failsWith(
        server.get(),
        encodeFrame({
          opcode: Op.BINARY,
          payload: Buffer.alloc(5),
          lengthBits: 64,
          declaredLength: declared,
        }),
        1002,
        `64-bit length with MSB set (${declared})`,
      ),
    );
  }
});

describe('RFC 6455 5.1 an unmasked client frame fails with 1002', () => {
  // RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not
  // masked. In this case, a server MAY send a Close frame with a status code of 1002
  // (protocol error) as defined in Section 7.4.1."
  for (const [name, opcode, payload] of [
    ['text', Op.TEXT, 'hello'],
    ['binary', Op.BINARY, 'hello'],
    ['empty text', Op.TEXT, ''],
    ['ping', Op.PING, 'hello'],
    ['pong', Op.PONG, 'hello'],
  ] as const) {
    test(`unmasked ${name} frame`, TEST, () =>
      failsWith(server.get(), encodeFrame({ opcode, payload, mask: false }), 1002, `unmasked ${name}`),
    );
  }

  test('an unmasked continuation inside a masked message', TEST, () =>
    failsWith(
      server.get(),
      Buffer.concat([
        encodeFrame({ opcode: Op.TEXT, payload: 'he', fin: false }),
        encodeFrame({ opcode: Op.CONTINUATION, payload: 'llo', mask: false }),
      ]),
      1002,
      'unmasked continuation',
    ),
  );

  test('an unmasked frame after a valid echo', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendFrames({ opcode: Op.TEXT, payload: 'first' });
      await expectEcho(c, Op.TEXT, 'first');
      await c.sendFrames({ opcode: Op.TEXT, payload: 'second', mask: false });
      await expectFailure(c, 1002, 'unmasked frame after an echo');
    }),
  );
});

describe('RFC 6455 10.4 a message over maxPayload (16 MiB) fails with 1009', () => {
  // RFC 6455 7.4.1: "1009 indicates that an endpoint is terminating the connection because it
  // has received a message that is too big for it to process." 10.4: "implementations SHOULD
  // impose a limit on frame sizes and the total message size after reassembly from multiple
  // frames."
  test('one frame of 16 MiB + 1 byte, fully sent', { timeout: 60_000 }, () =>
    failsWith(
      server.get(),
      encodeFrame({ opcode: Op.BINARY, payload: Buffer.alloc(16 * MiB + 1, 0x5a) }),
      1009,
      '16 MiB + 1 in one frame',
    ),
  );

  test('a header declaring 16 MiB + 1 bytes is refused before its payload arrives', TEST, () =>
    withClient(server.get(), async (c) => {
      // Only the header and 1 KiB of payload are sent: the limit must be checked on the header.
      const frame = encodeFrame({
        opcode: Op.BINARY,
        payload: Buffer.alloc(1024),
        declaredLength: 16 * MiB + 1,
      });
      await c.send(frame);
      await expectFailure(c, 1009, 'declared 16 MiB + 1');
    }),
  );

  test('a header declaring 2^63 - 1 bytes is refused with 1009', TEST, () =>
    failsWith(
      server.get(),
      encodeFrame({
        opcode: Op.BINARY,
        payload: Buffer.alloc(16),
        lengthBits: 64,
        declaredLength: 2n ** 63n - 1n,
      }),
      1009,
      'declared 2^63 - 1',
    ),
  );

  test(
    'a text message of two 8 MiB fragments plus 1 byte (16 MiB + 1 after reassembly)',
    { timeout: 60_000 },
    () =>
      failsWith(
        server.get(),
        Buffer.concat([
          encodeFrame({ opcode: Op.TEXT, payload: Buffer.alloc(8 * MiB, 'a'), fin: false }),
          encodeFrame({ opcode: Op.CONTINUATION, payload: Buffer.alloc(8 * MiB, 'b'), fin: false }),
          encodeFrame({ opcode: Op.CONTINUATION, payload: 'c' }),
        ]),
        1009,
        '16 MiB + 1 in three fragments',
      ),
  );

  test('the server still echoes on a new connection after a 1009', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendFrames({ opcode: Op.TEXT, payload: 'still here' });
      await expectEcho(c, Op.TEXT, 'still here');
    }),
  );
});
