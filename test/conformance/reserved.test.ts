/**
 * RFC 6455 section 5.2: reserved bits (no extension negotiated) and reserved opcodes, against
 * a running `duplex echo`. The raw client never offers an extension, so no RSV bit has a meaning.
 */
import { after, before, describe, test } from 'node:test';
import { encodeFrame, encodeFrames, Op } from '../helpers/raw-client.js';
import { echoServer, expectEcho, expectFailure, failsWith, TEST, withClient } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

const RSV = { RSV1: 0x40, RSV2: 0x20, RSV3: 0x10 } as const;

describe('RFC 6455 5.2 a reserved bit without a negotiated extension fails with 1002', () => {
  // RFC 6455 5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is negotiated
  // that defines meanings for non-zero values. If a nonzero value is received and none of the
  // negotiated extensions defines the meaning of such a nonzero value, the receiving endpoint
  // MUST _Fail the WebSocket Connection_."
  test('the handshake negotiated no extension', TEST, () =>
    withClient(server.get(), async (c) => {
      if (c.response.headers['sec-websocket-extensions'] !== undefined) {
        throw new Error(
          `unexpected extension in response: ${c.response.headers['sec-websocket-extensions']}`,
        );
      }
    }),
  );

  for (const [name, bit] of Object.entries(RSV)) {
    for (const [kind, opcode] of [
      ['text', Op.TEXT],
      ['binary', Op.BINARY],
      ['ping', Op.PING],
      ['pong', Op.PONG],
      ['close', Op.CLOSE],
    ] as const) {
      test(`${name} on a ${kind} frame`, TEST, () =>
        failsWith(
          server.get(),
          encodeFrame({
            opcode,
            rsv: bit,
            payload: opcode === Op.CLOSE ? Buffer.from([0x03, 0xe8]) : 'Hello',
          }),
          1002,
          `${name} on ${kind}`,
        ),
      );
    }

    test(`${name} on a continuation frame`, TEST, () =>
      failsWith(
        server.get(),
        encodeFrames([
          { opcode: Op.TEXT, payload: 'Hel', fin: false },
          { opcode: Op.CONTINUATION, payload: 'lo', rsv: bit },
        ]),
        1002,
        `${name} on continuation`,
      ),
    );

    test(`${name} on a frame after a valid echo in the same write: the good one is echoed first`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.send(
          encodeFrames([
            { opcode: Op.TEXT, payload: 'good' },
            { opcode: Op.TEXT, payload: 'bad', rsv: bit },
          ]),
        );
        await expectEcho(c, Op.TEXT, 'good');
        await expectFailure(c, 1002, `${name} after a good frame`);
      }),
    );
  }

  test('all three reserved bits together on an empty text frame', TEST, () =>
    failsWith(server.get(), encodeFrame({ opcode: Op.TEXT, rsv: 0x70 }), 1002, 'RSV1|RSV2|RSV3'),
  );
});

describe('RFC 6455 5.2 a reserved opcode fails with 1002', () => {
  // RFC 6455 5.2: "%x3-7 are reserved for further non-control frames" and "%xB-F are reserved
  // for further control frames"; "If an unknown opcode is received, the receiving endpoint
  // MUST _Fail the WebSocket Connection_."
  const reserved = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];
  for (const opcode of reserved) {
    const name = `0x${opcode.toString(16).toUpperCase()}`;
    test(`opcode ${name} on a fresh connection`, TEST, () =>
      failsWith(server.get(), encodeFrame({ opcode, payload: 'reserved' }), 1002, `opcode ${name}`),
    );

    test(`opcode ${name} with an empty payload after a valid echo`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.sendFrames({ opcode: Op.TEXT, payload: 'before' });
        await expectEcho(c, Op.TEXT, 'before');
        await c.sendFrames({ opcode });
        await expectFailure(c, 1002, `opcode ${name} after an echo`);
      }),
    );

    test(`opcode ${name} after a valid frame in the same write: the good one is echoed first`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.send(
          encodeFrames([
            { opcode: Op.BINARY, payload: 'good' },
            { opcode, payload: 'bad' },
            { opcode: Op.TEXT, payload: 'never echoed' },
          ]),
        );
        await expectEcho(c, Op.BINARY, 'good');
        await expectFailure(c, 1002, `opcode ${name} after a good frame`);
      }),
    );
  }

  test('a reserved opcode between the fragments of a message', TEST, () =>
    failsWith(
      server.get(),
      encodeFrames([
        { opcode: Op.TEXT, payload: 'Hel', fin: false },
        { opcode: 0xb, payload: 'x' },
        { opcode: Op.CONTINUATION, payload: 'lo' },
      ]),
      1002,
      'opcode 0xB between fragments',
    ),
  );
});
