/**
 * RFC 6455 sections 5.6 and 6: text and binary messages from 0 bytes to 16 MiB, written in
 * TCP chunks from 1 byte to 64 KiB, each echoed exactly by a running `duplex echo`.
 */

import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { encodeFrame, encodeFrames, Op } from '../helpers/raw-client.js';
import { echoServer, expectEcho, expectFrame, READ_MS, TEST, withClient } from './support.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const server = echoServer();
before(server.start);
after(server.stop);

const SIZES = [0, 1, 125, 126, 127, 1000, 65535, 65536, 256 * KiB, 1 * MiB, 16 * MiB];
const CHUNKS = [1, 7, 1 * KiB, 64 * KiB];
/** At most this many writes per message, to keep the suite's time bounded. */
const MAX_WRITES = 70_000;

function label(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}

/** textPayload is valid UTF-8 of exactly `n` bytes with multi-byte characters across chunk edges. */
function textPayload(n: number): Buffer {
  const unit = Buffer.from('aé€😀'); // 1 + 2 + 3 + 4 bytes
  const out = Buffer.alloc(n, 0x61);
  const whole = Math.floor(n / unit.length) * unit.length;
  for (let i = 0; i < whole; i += unit.length) unit.copy(out, i);
  return out;
}

describe('RFC 6455 6 messages of 0 bytes to 16 MiB in TCP chunks of 1 byte to 64 KiB are echoed', () => {
  // RFC 6455 6.2: "When a data frame (Section 5.6) is received, the endpoint MUST note the
  // /type/ of the data as defined by the opcode (frame-opcode) from Section 5.2." The echo
  // server's contract: each text message comes back as text, each binary as binary, with the
  // same payload. The server's frames are unmasked with the shortest length, so the exact
  // bytes are known.
  for (const size of SIZES) {
    for (const chunk of CHUNKS) {
      if (Math.ceil((size + 14) / chunk) > MAX_WRITES) continue;
      for (const kind of ['text', 'binary'] as const) {
        test(`${kind} of ${label(size)} in ${label(chunk)} chunks`, { timeout: 60_000 }, () =>
          withClient(server.get(), async (c) => {
            const opcode = kind === 'text' ? Op.TEXT : Op.BINARY;
            const payload = kind === 'text' ? textPayload(size) : randomBytes(size);
            await c.sendChunked(encodeFrame({ opcode, payload }), chunk);
            await expectEcho(c, opcode, payload, `${kind} ${size} in ${chunk}-byte chunks`);
          }),
        );
      }
    }
  }
});

describe('RFC 6455 6 many messages on one connection', () => {
  test('100 messages of growing size in one TCP write are echoed in order', TEST, () =>
    withClient(server.get(), async (c) => {
      const payloads = Array.from({ length: 100 }, (_, i) => randomBytes(i * 37));
      await c.send(
        encodeFrames(
          payloads.map((payload, i) => ({
            opcode: i % 2 ? Op.BINARY : Op.TEXT,
            payload: i % 2 ? payload : textPayload(payload.length),
          })),
        ),
      );
      for (let i = 0; i < payloads.length; i++) {
        const frame = await c.readFrame(READ_MS);
        expectFrame(
          frame,
          i % 2 ? Op.BINARY : Op.TEXT,
          i % 2 ? payloads[i]! : textPayload(payloads[i]!.length),
          `message ${i}`,
        );
      }
    }),
  );

  test('1,000 empty messages in one TCP write', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(encodeFrames(Array.from({ length: 1000 }, () => ({ opcode: Op.BINARY }))));
      for (let i = 0; i < 1000; i++)
        expectFrame(await c.readFrame(READ_MS), Op.BINARY, Buffer.alloc(0), `empty ${i}`);
    }),
  );

  test('messages one after another, each awaited, on one connection', TEST, () =>
    withClient(server.get(), async (c) => {
      for (let i = 0; i < 200; i++) {
        const payload = Buffer.from(`message number ${i}`);
        await c.sendFrames({ opcode: Op.TEXT, payload });
        await expectEcho(c, Op.TEXT, payload, `message ${i}`);
      }
    }),
  );
});
