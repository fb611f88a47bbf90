/**
 * RFC 6455 section 5.4: fragmentation, against a running `duplex echo`: message of 1 to
 * 1,000,000 fragments, control frames between fragments, and every misuse of continuation.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { closePayload, encodeFrame, encodeFrames, Op } from '../helpers/raw-client.js';
import {
  echoServer,
  expectEcho,
  expectFailure,
  expectFrame,
  failsWith,
  readSplit,
  TEST,
  withClient,
} from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

/**
 * fragmented builds the bytes of one message split into fragments of `size` bytes (the last
 * one may be shorter), each masked with its own key, in one buffer. Fragment sizes must be
 * at most 125 so every header is 6 bytes; it writes bytes directly so a million fragments
 * cost one allocation.
 */
function fragmented(opcode: number, payload: Buffer, size: number): Buffer {
  if (size < 1 || size > 125) throw new Error('fragment size must be 1..125');
  const count = Math.max(1, Math.ceil(payload.length / size));
  const out = Buffer.allocUnsafe(count * 6 + payload.length);
  const keys = randomBytes(count * 4);
  let o = 0;
  for (let i = 0; i < count; i++) {
    const start = i * size;
    const end = Math.min(payload.length, start + size);
    const last = i === count - 1;
    out[o++] = (last ? 0x80 : 0) | (i === 0 ? opcode : Op.CONTINUATION);
    out[o++] = 0x80 | (end - start);
    const k = i * 4;
    keys.copy(out, o, k, k + 4);
    o += 4;
    for (let j = start; j < end; j++) out[o++] = payload[j]! ^ keys[k + ((j - start) & 3)]!;
  }
  return out;
}

/** emptyFlood builds `count` empty non-final fragments of a text message (6 bytes each). */
function emptyFlood(count: number): Buffer {
  const out = Buffer.alloc(count * 6);
  const keys = randomBytes(count * 4);
  for (let i = 0, o = 0; i < count; i++, o += 6) {
    out[o] = i === 0 ? Op.TEXT : Op.CONTINUATION;
    out[o + 1] = 0x80;
    keys.copy(out, o + 2, i * 4, i * 4 + 4);
  }
  return out;
}

function ascii(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = 0x61 + (i % 26);
  return out;
}

describe('RFC 6455 5.4 fragmented messages are reassembled', () => {
  // RFC 6455 5.4: "A fragmented message consists of a single frame with the FIN bit clear and
  // an opcode other than 0, followed by zero or more frames with the FIN bit clear and the
  // opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0."
  for (const count of [1, 2, 10, 1_000, 100_000, 1_000_000]) {
    test(`a text message of ${count.toLocaleString('en')} one-byte fragments`, { timeout: 60_000 }, () =>
      withClient(server.get(), async (c) => {
        const payload = ascii(count);
        await c.send(fragmented(Op.TEXT, payload, 1));
        await expectEcho(c, Op.TEXT, payload, `${count} fragments reassembled`);
      }),
    );
  }

  for (const count of [2, 10, 1_000]) {
    test(`a binary message of ${count} fragments of 100 bytes`, TEST, () =>
      withClient(server.get(), async (c) => {
        const payload = randomBytes(count * 100);
        await c.send(fragmented(Op.BINARY, payload, 100));
        await expectEcho(c, Op.BINARY, payload);
      }),
    );
  }

  test('a 4 MiB binary message in 64-byte fragments (65,536 fragments) passes', { timeout: 60_000 }, () =>
    withClient(server.get(), async (c) => {
      // DESIGN: the limit counts the bytes a message really retains, so conformant traffic
      // under maxPayload is never refused.
      const payload = randomBytes(4 * 1024 * 1024);
      await c.send(fragmented(Op.BINARY, payload, 64));
      await expectEcho(c, Op.BINARY, payload);
    }),
  );

  test(
    'a 16 MiB binary message (exactly maxPayload) in 16 fragments of 1 MiB passes',
    { timeout: 60_000 },
    () =>
      withClient(server.get(), async (c) => {
        const payload = randomBytes(16 * 1024 * 1024);
        const parts: Buffer[] = [];
        for (let i = 0; i < 16; i++) {
          parts.push(
            encodeFrame({
              opcode: i === 0 ? Op.BINARY : Op.CONTINUATION,
              payload: payload.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024),
              fin: i === 15,
            }),
          );
        }
        await c.send(Buffer.concat(parts));
        await expectEcho(c, Op.BINARY, payload);
      }),
  );

  test('a 16 MiB text message (exactly maxPayload) in 125-byte fragments passes', { timeout: 60_000 }, () =>
    withClient(server.get(), async (c) => {
      // 134,218 fragments: the per-fragment bookkeeping must not count against the payload limit.
      const payload = ascii(16 * 1024 * 1024);
      await c.send(fragmented(Op.TEXT, payload, 125));
      await expectEcho(c, Op.TEXT, payload);
    }),
  );

  test('empty fragments at the start, middle and end', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, fin: false },
          { opcode: Op.CONTINUATION, payload: 'ab', fin: false },
          { opcode: Op.CONTINUATION, fin: false },
          { opcode: Op.CONTINUATION, payload: 'cd', fin: false },
          { opcode: Op.CONTINUATION },
        ]),
      );
      await expectEcho(c, Op.TEXT, 'abcd');
    }),
  );

  test('a message of only empty fragments is an empty message', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.BINARY, fin: false },
          { opcode: Op.CONTINUATION, fin: false },
          { opcode: Op.CONTINUATION },
        ]),
      );
      await expectEcho(c, Op.BINARY, Buffer.alloc(0));
    }),
  );

  test('fragments sent one per TCP write with pauses', TEST, () =>
    withClient(server.get(), async (c) => {
      const parts = ['Hel', 'lo, ', 'wor', 'ld'].map((p, i, all) => ({
        opcode: i === 0 ? Op.TEXT : Op.CONTINUATION,
        payload: p,
        fin: i === all.length - 1,
      }));
      await c.sendParts(
        parts.map((p) => encodeFrames([p])),
        10,
      );
      await expectEcho(c, Op.TEXT, 'Hello, world');
    }),
  );

  test('two fragmented messages back to back are echoed in order', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'one-', fin: false },
          { opcode: Op.CONTINUATION, payload: 'a' },
          { opcode: Op.BINARY, payload: 'two-', fin: false },
          { opcode: Op.CONTINUATION, payload: 'b' },
        ]),
      );
      await expectEcho(c, Op.TEXT, 'one-a');
      await expectEcho(c, Op.BINARY, 'two-b');
    }),
  );
});

describe('RFC 6455 5.4 control frames between fragments are handled', () => {
  // RFC 6455 5.4: "Control frames (see Section 5.5) MAY be injected in the middle of a
  // fragmented message." and "An endpoint MUST be capable of handling control frames in the
  // middle of a fragmented message."
  test('several pings and pongs between fragments', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'frag', fin: false },
          { opcode: Op.PING, payload: 'p1' },
          { opcode: Op.CONTINUATION, payload: 'ment', fin: false },
          { opcode: Op.PONG, payload: 'ignored' },
          { opcode: Op.PING, payload: 'p2' },
          { opcode: Op.CONTINUATION, payload: 'ed' },
        ]),
      );
      const { pongs, others } = await readSplit(c, 3);
      assert.equal(pongs.length, 2, 'two pongs');
      expectFrame(pongs[0]!, Op.PONG, 'p1');
      expectFrame(pongs[1]!, Op.PONG, 'p2');
      expectFrame(others[0]!, Op.TEXT, 'fragmented');
    }),
  );

  test('a close between fragments closes the connection and the partial message is not echoed', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'partial', fin: false },
          { opcode: Op.CLOSE, payload: closePayload(1000) },
        ]),
      );
      await expectFailure(c, 1000, 'close between fragments');
    }),
  );
});

describe('RFC 6455 5.4 misuse of fragmentation fails with 1002', () => {
  // RFC 6455 5.4: "The fragments of one message MUST NOT be interleaved between the fragments
  // of another message unless an extension has been negotiated that can interpret the
  // interleaving." and 5.2: a continuation frame continues a message, so one with no message
  // in progress is a protocol error.
  test('a continuation frame with FIN on a fresh connection', TEST, () =>
    failsWith(server.get(), encodeFrames([{ opcode: Op.CONTINUATION, payload: 'orphan' }]), 1002, 'orphan'),
  );
  test('a continuation frame without FIN on a fresh connection', TEST, () =>
    failsWith(
      server.get(),
      encodeFrames([
        { opcode: Op.CONTINUATION, payload: 'orphan', fin: false },
        { opcode: Op.CONTINUATION, payload: '!' },
      ]),
      1002,
      'orphan non-final',
    ),
  );
  test('a continuation frame after a complete message: the message is echoed first', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'whole' },
          { opcode: Op.CONTINUATION, payload: 'orphan' },
        ]),
      );
      await expectEcho(c, Op.TEXT, 'whole');
      await expectFailure(c, 1002, 'continuation after a complete message');
    }),
  );
  test('a continuation after a fragmented message completed', TEST, () =>
    withClient(server.get(), async (c) => {
      await c.send(
        encodeFrames([
          { opcode: Op.TEXT, payload: 'a', fin: false },
          { opcode: Op.CONTINUATION, payload: 'b' },
          { opcode: Op.CONTINUATION, payload: 'c' },
        ]),
      );
      await expectEcho(c, Op.TEXT, 'ab');
      await expectFailure(c, 1002, 'continuation after a completed fragmented message');
    }),
  );

  for (const [first, second] of [
    ['text', 'text'],
    ['text', 'binary'],
    ['binary', 'text'],
    ['binary', 'binary'],
  ] as const) {
    const op = (k: string) => (k === 'text' ? Op.TEXT : Op.BINARY);
    test(`a new ${second} start inside a fragmented ${first} message`, TEST, () =>
      failsWith(
        server.get(),
        encodeFrames([
          { opcode: op(first), payload: 'first', fin: false },
          { opcode: op(second), payload: 'second' },
        ]),
        1002,
        `${second} inside ${first}`,
      ),
    );
  }

  test('a new start (non-final) inside a fragmented message', TEST, () =>
    failsWith(
      server.get(),
      encodeFrames([
        { opcode: Op.TEXT, payload: 'first', fin: false },
        { opcode: Op.TEXT, payload: 'second', fin: false },
        { opcode: Op.CONTINUATION, payload: 'end' },
      ]),
      1002,
      'non-final start inside a message',
    ),
  );

  // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
  // NOT be fragmented." and 5.4: "Control frames themselves MUST NOT be fragmented."
  for (const [name, opcode, payload] of [
    ['ping', Op.PING, Buffer.from('ping')],
    ['pong', Op.PONG, Buffer.from('pong')],
    ['close', Op.CLOSE, closePayload(1000)],
  ] as const) {
    test(`a ${name} frame with FIN clear`, TEST, () =>
      failsWith(server.get(), encodeFrames([{ opcode, payload, fin: false }]), 1002, `fragmented ${name}`),
    );
    test(`a ${name} frame with FIN clear followed by a continuation`, TEST, () =>
      failsWith(
        server.get(),
        encodeFrames([
          { opcode, payload, fin: false },
          { opcode: Op.CONTINUATION, payload: 'x' },
        ]),
        1002,
        `fragmented ${name} + continuation`,
      ),
    );
  }

  test('a ping with FIN clear between the fragments of a text message', TEST, () =>
    failsWith(
      server.get(),
      encodeFrames([
        { opcode: Op.TEXT, payload: 'a', fin: false },
        { opcode: Op.PING, payload: 'p', fin: false },
        { opcode: Op.CONTINUATION, payload: 'b' },
      ]),
      1002,
      'fragmented ping inside a message',
    ),
  );
});

describe('RFC 6455 10.4 a flood of empty fragments is stopped with 1009', () => {
  // RFC 6455 10.4: "implementations SHOULD impose a limit on frame sizes and the total message
  // size after reassembly from multiple frames." Duplex counts the bytes a fragmented message
  // retains, with per-fragment overhead, so endless empty fragments hit maxPayload (1009).
  test('3,000,000 empty non-final fragments draw a 1009 before the end', { timeout: 60_000 }, () =>
    withClient(server.get(), async (c) => {
      // The message is never finished: if the server does not stop it, no close comes and the
      // read times out, failing the test.
      void c.send(emptyFlood(3_000_000));
      await expectFailure(c, 1009, 'flood of empty fragments');
    }),
  );
});
