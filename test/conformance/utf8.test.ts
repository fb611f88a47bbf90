/**
 * RFC 6455 sections 5.6 and 8.1: text messages must be valid UTF-8 (RFC 3629), checked over
 * the whole message whatever its fragmentation and TCP chunking, against a running `duplex echo`.
 */
import { after, before, describe, test } from 'node:test';
import { encodeFrame, encodeFrames, headerSize, Op } from '../helpers/raw-client.js';
import { echoServer, expectEcho, expectFailure, hex, TEST, withClient } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

/** Valid UTF-8 (RFC 3629): every one must be echoed unchanged. Noncharacters are valid UTF-8. */
const VALID: Array<[name: string, bytes: Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['ASCII', Buffer.from('Hello, world')],
  ['U+0000', hex('00')],
  ['U+007F (last 1-byte)', hex('7f')],
  ['U+0080 (first 2-byte)', hex('c2 80')],
  ['U+07FF (last 2-byte)', hex('df bf')],
  ['U+0800 (first 3-byte)', hex('e0 a0 80')],
  ['U+D7FF (before the surrogates)', hex('ed 9f bf')],
  ['U+E000 (after the surrogates)', hex('ee 80 80')],
  ['U+FDD0 (noncharacter)', hex('ef b7 90')],
  ['U+FEFF (BOM)', hex('ef bb bf')],
  ['U+FFFE (noncharacter)', hex('ef bf be')],
  ['U+FFFF (last 3-byte, noncharacter)', hex('ef bf bf')],
  ['U+10000 (first 4-byte)', hex('f0 90 80 80')],
  ['U+1F600', hex('f0 9f 98 80')],
  ['U+10FFFF (last code point)', hex('f4 8f bf bf')],
  ['Greek κόσμε', Buffer.from('κόσμε')],
  ['mixed 1-4 byte', Buffer.from('a\u00e9\u20ac\u{1f600}z')],
];

/** Invalid UTF-8: each must fail the connection with 1007. */
const INVALID: Array<[name: string, bytes: Buffer]> = [
  // Overlong forms. RFC 3629 3: "Implementations of the decoding algorithm above MUST protect
  // against decoding invalid sequences."
  ['overlong U+0000 in 2 bytes (C0 80)', hex('c0 80')],
  ['overlong / in 2 bytes (C0 AF)', hex('c0 af')],
  ['overlong U+007F in 2 bytes (C1 BF)', hex('c1 bf')],
  ['overlong U+0000 in 3 bytes (E0 80 80)', hex('e0 80 80')],
  ['overlong U+07FF in 3 bytes (E0 9F BF)', hex('e0 9f bf')],
  ['overlong U+0000 in 4 bytes (F0 80 80 80)', hex('f0 80 80 80')],
  ['overlong U+FFFF in 4 bytes (F0 8F BF BF)', hex('f0 8f bf bf')],
  ['5-byte form (F8 88 80 80 80)', hex('f8 88 80 80 80')],
  ['6-byte form (FC 84 80 80 80 80)', hex('fc 84 80 80 80 80')],
  // UTF-16 surrogates. RFC 3629 3: "The definition of UTF-8 prohibits encoding character
  // numbers between U+D800 and U+DFFF".
  ['high surrogate U+D800 (ED A0 80)', hex('ed a0 80')],
  ['surrogate U+DB7F (ED AD BF)', hex('ed ad bf')],
  ['low surrogate U+DFFF (ED BF BF)', hex('ed bf bf')],
  ['surrogate pair U+D800 U+DC00 (ED A0 80 ED B0 80)', hex('ed a0 80 ed b0 80')],
  [
    'surrogate after valid text',
    Buffer.concat([Buffer.from('κόσμε'), hex('ed a0 80'), Buffer.from('edited')]),
  ],
  // Above U+10FFFF.
  ['U+110000 (F4 90 80 80)', hex('f4 90 80 80')],
  ['F5 lead (F5 80 80 80)', hex('f5 80 80 80')],
  ['F7 BF BF BF', hex('f7 bf bf bf')],
  ['lone F5', hex('f5')],
  ['lone F8', hex('f8')],
  ['lone FC', hex('fc')],
  ['lone FE', hex('fe')],
  ['lone FF', hex('ff')],
  // Continuation bytes without a lead byte.
  ['lone continuation 80', hex('80')],
  ['lone continuation BF', hex('bf')],
  ['continuation after ASCII (61 80 62)', hex('61 80 62')],
  ['extra continuation after a 2-byte sequence (C2 80 80)', hex('c2 80 80')],
  ['lead byte followed by ASCII (C2 41)', hex('c2 41')],
  // Truncated sequences at the end of the message.
  ['truncated 2-byte (C2)', hex('c2')],
  ['truncated 3-byte (E0 A0)', hex('e0 a0')],
  ['truncated 4-byte (F0 90 80)', hex('f0 90 80')],
  ['text then truncated 3-byte (61 62 E2 82)', hex('61 62 e2 82')],
  ['κόσμ then truncated (.. CE)', Buffer.concat([Buffer.from('κόσμ'), hex('ce')])],
];

const text = (payload: Buffer, fin = true, opcode: number = Op.TEXT) => ({ opcode, payload, fin });

/** twoFragments splits `bytes` at `at` into a non-final text frame and a final continuation. */
function twoFragments(bytes: Buffer, at: number): Buffer {
  return encodeFrames([text(bytes.subarray(0, at), false), text(bytes.subarray(at), true, Op.CONTINUATION)]);
}

/** byteFragments sends every byte as its own fragment. */
function byteFragments(bytes: Buffer): Buffer {
  return encodeFrames(
    Array.from(bytes, (b, i) =>
      text(Buffer.from([b]), i === bytes.length - 1, i === 0 ? Op.TEXT : Op.CONTINUATION),
    ),
  );
}

/** tcpSplit writes one text frame in two TCP writes, split `at` bytes into the payload. */
function tcpSplit(bytes: Buffer, at: number): Buffer[] {
  const frame = encodeFrame(text(bytes));
  const cut = headerSize(bytes.length, true) + at;
  return [frame.subarray(0, cut), frame.subarray(cut)];
}

const DELAY_MS = 3;

describe('RFC 6455 5.6 valid UTF-8 text is echoed, whatever the fragmentation or TCP chunking', () => {
  // RFC 6455 5.6: "The "Payload data" is text data encoded as UTF-8."
  for (const [name, bytes] of VALID) {
    test(`${name}: one frame`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.sendFrames(text(bytes));
        await expectEcho(c, Op.TEXT, bytes);
      }),
    );
    if (bytes.length < 2) continue;
    test(`${name}: split across two fragments at every byte boundary`, TEST, () =>
      withClient(server.get(), async (c) => {
        for (let at = 1; at < bytes.length; at++) {
          await c.send(twoFragments(bytes, at));
          await expectEcho(c, Op.TEXT, bytes, `split at ${at}`);
        }
        await c.send(byteFragments(bytes));
        await expectEcho(c, Op.TEXT, bytes, 'one fragment per byte');
      }),
    );
    test(`${name}: split across two TCP writes at every byte boundary`, TEST, () =>
      withClient(server.get(), async (c) => {
        for (let at = 1; at < bytes.length; at++) {
          await c.sendParts(tcpSplit(bytes, at), DELAY_MS);
          await expectEcho(c, Op.TEXT, bytes, `TCP split at ${at}`);
        }
        await c.sendChunked(encodeFrame(text(bytes)), 1, 1);
        await expectEcho(c, Op.TEXT, bytes, 'one byte per write');
      }),
    );
  }

  test('all valid samples in one message, one fragment and one write per byte', { timeout: 60_000 }, () =>
    withClient(server.get(), async (c) => {
      const all = Buffer.concat(VALID.map(([, b]) => b));
      await c.sendChunked(byteFragments(all), 7);
      await expectEcho(c, Op.TEXT, all);
    }),
  );
});

describe('RFC 6455 8.1 invalid UTF-8 in a text message fails with 1007', () => {
  // RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
  // byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
  // Connection_." and 7.4.1: "1007 indicates that an endpoint is terminating the connection
  // because it has received data within a message that was not consistent with the type of
  // the message (e.g., non-UTF-8 [RFC3629] data within a text message)."
  for (const [name, bytes] of INVALID) {
    test(`${name}: one frame`, TEST, () =>
      withClient(server.get(), async (c) => {
        await c.sendFrames(text(bytes));
        await expectFailure(c, 1007, name);
      }),
    );
    if (bytes.length < 2) continue;
    test(`${name}: split across two fragments at every byte boundary`, TEST, async () => {
      for (let at = 1; at < bytes.length; at++) {
        await withClient(server.get(), async (c) => {
          await c.send(twoFragments(bytes, at));
          await expectFailure(c, 1007, `${name}, fragments split at ${at}`);
        });
      }
      await withClient(server.get(), async (c) => {
        await c.send(byteFragments(bytes));
        await expectFailure(c, 1007, `${name}, one fragment per byte`);
      });
    });
    test(`${name}: split across two TCP writes at every byte boundary`, TEST, async () => {
      for (let at = 1; at < bytes.length; at++) {
        await withClient(server.get(), async (c) => {
          await c.sendParts(tcpSplit(bytes, at), DELAY_MS);
          await expectFailure(c, 1007, `${name}, TCP split at ${at}`);
        });
      }
    });
  }

  test('a valid message is echoed, then an invalid one fails with 1007', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.sendFrames(text(Buffer.from('fine')), text(hex('ed a0 80')));
      await expectEcho(c, Op.TEXT, 'fine');
      await expectFailure(c, 1007, 'invalid after valid');
    }),
  );

  test('invalid UTF-8 in a binary message is not checked: it is echoed', TEST, () =>
    withClient(server.get(), async (c) => {
      const bytes = hex('c0 80 ed a0 80 f4 90 80 80 ff');
      await c.sendFrames({ opcode: Op.BINARY, payload: bytes });
      await expectEcho(c, Op.BINARY, bytes);
    }),
  );
});
