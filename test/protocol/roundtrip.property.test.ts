/**
 * Property: any sequence of messages (and pings) survives serialize -> arbitrary chunking ->
 * parse, from client to server and from server to client. Messages are sent whole through
 * a Connection, or fragmented through serializeFrame with pings between the fragments.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection, type ConnectionEvent, Opcode, type Role, serializeFrame } from 'duplexjs/protocol';
import fc from 'fast-check';
import { FIXED_KEY, feed, frame, maskedFrame, toHex } from './helpers.js';

const KiB = 1024;

/** bytesOf fills n bytes from a seed with xorshift32, so big payloads cost fast-check one integer. */
function bytesOf(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const interestingSize = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 65537) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 * KiB }) },
);

const binaryPayload = fc
  .tuple(interestingSize, fc.integer())
  .map(([n, seed]) => ({ binary: true, data: bytesOf(n, seed) }));

/** Text from arbitrary code points, sometimes repeated to reach the 16- and 64-bit lengths. */
const textPayload = fc
  .tuple(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(1) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 4000 }) },
    ),
  )
  .map(([s, times]) => ({ binary: false, data: Buffer.from(s.repeat(times)) }));

interface Item {
  kind: 'message' | 'ping';
  binary: boolean;
  data: Buffer;
  /** Cut points inside the payload for fragmentation; [] sends one frame through Connection. */
  cuts: number[];
  /** Index of the fragment boundary after which a ping is injected (fragmented messages only). */
  pingAt: number | undefined;
}

const item: fc.Arbitrary<Item> = fc
  .oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(
          fc.oneof(binaryPayload, textPayload),
          fc.array(fc.nat(), { maxLength: 4 }),
          fc.option(fc.nat()),
        )
        .map(([p, raw, pingAt]) => {
          const cuts = [...new Set(raw.map((c) => c % (p.data.length + 1)))].sort((a, b) => a - b);
          return {
            kind: 'message' as const,
            binary: p.binary,
            data: p.data,
            cuts,
            pingAt: pingAt === null || cuts.length === 0 ? undefined : pingAt % cuts.length,
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 125 }).map((d) => ({
        kind: 'ping' as const,
        binary: true,
        data: Buffer.from(d),
        cuts: [],
        pingAt: undefined,
      })),
    },
  )
  .map(withSummary);

/** withSummary renders an item briefly for counterexamples (payloads can be 200 KiB). */
function withSummary(it: Item): Item {
  const head = it.data.subarray(0, 8).toString('hex');
  const text = `${it.kind} ${it.binary ? 'binary' : 'text'} ${it.data.length} bytes (${head}...) cuts=[${it.cuts}] pingAt=${it.pingAt}`;
  return Object.defineProperty(it, fc.toStringMethod, { value: () => text, enumerable: false });
}

/** wire serializes the items as `sender` would put them on the wire. */
function wire(sender: Connection, items: Item[], key: () => Buffer): Buffer {
  const out: Buffer[] = [];
  const maskKey = sender.role === 'client' ? key : () => undefined;
  for (const it of items) {
    if (it.kind === 'ping') {
      out.push(...sender.ping(it.data));
    } else if (it.cuts.length === 0) {
      out.push(...(it.binary ? sender.sendBinary(it.data) : sender.sendText(it.data)));
    } else {
      // RFC 6455 5.4: a fragmented message is a first frame with FIN clear, zero or more
      // continuation frames with FIN clear, and a last continuation frame with FIN set.
      const bounds = [0, ...it.cuts, it.data.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        out.push(
          ...serializeFrame({
            opcode: i === 0 ? (it.binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION,
            payload: it.data.subarray(bounds[i], bounds[i + 1]),
            fin: i + 2 === bounds.length,
            maskKey: maskKey(),
          }),
        );
        // RFC 6455 5.4: "Control frames MAY be injected in the middle of a fragmented message."
        if (it.pingAt === i) out.push(...sender.ping(`p${i}`));
      }
    }
  }
  return Buffer.concat(out);
}

/** expected lists the events the receiver must report, in order, and the pongs it must send. */
function expected(items: Item[], receiverRole: Role) {
  const events: Array<{ type: string; binary?: boolean; data: string }> = [];
  const pongs: Buffer[] = [];
  const ping = (data: Buffer) => {
    events.push({ type: 'ping', data: toHex(data) });
    pongs.push(receiverRole === 'client' ? maskedFrame(0x8a, data) : frame(0x8a, data));
  };
  for (const it of items) {
    if (it.kind === 'ping') {
      ping(it.data);
      continue;
    }
    if (it.pingAt !== undefined) ping(Buffer.from(`p${it.pingAt}`));
    events.push({ type: 'message', binary: it.binary, data: toHex(it.data) });
  }
  return { events, output: toHex(pongs) };
}

function summarize(events: ConnectionEvent[]) {
  return events.map((e) => {
    switch (e.type) {
      case 'message':
        return { type: e.type, binary: e.binary, data: toHex(e.data) };
      case 'ping':
      case 'pong':
        return { type: e.type, data: toHex(e.data) };
      case 'close':
        return { type: e.type, data: `${e.code} ${e.reason}` };
      case 'error':
        return { type: e.type, data: `${e.error.code} ${e.error.message}` };
      default:
        return { type: e.type, data: '' };
    }
  });
}

/** chunks cuts `bytes` at the given raw positions (taken modulo the length). */
function chunk(bytes: Buffer, raw: number[], byteByByte: boolean): Buffer[] {
  if (byteByByte && bytes.length <= 4 * KiB) {
    return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  }
  const cuts = [...new Set(raw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(start, c));
    start = c;
  }
  return out;
}

for (const [from, to] of [
  ['client', 'server'],
  ['server', 'client'],
] as const) {
  describe(`RFC 6455 5.4 and 5.6 round trip, ${from} to ${to}`, () => {
    it('any messages survive serialize -> arbitrary chunking -> parse', () => {
      fc.assert(
        fc.property(
          fc.array(item, { minLength: 1, maxLength: 5 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          fc.boolean(),
          (items, key, rawCuts, byteByByte) => {
            const sender = new Connection({ role: from, maskKey: () => Buffer.from(key) });
            const receiver = new Connection({ role: to, maskKey: FIXED_KEY });
            const bytes = wire(sender, items, () => Buffer.from(key));
            const { events, output } = feed(receiver, ...chunk(bytes, rawCuts, byteByByte));
            const want = expected(items, to);
            assert.deepEqual(summarize(events), want.events);
            assert.equal(toHex(output), want.output);
            assert.equal(receiver.state, 1);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('the close handshake completes after any messages', () => {
      fc.assert(
        fc.property(
          fc.array(item, { maxLength: 3 }),
          fc.constantFrom(1000, 1001, 1011, 3000, 4999),
          fc.string({ unit: 'binary', maxLength: 30 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          (items, code, reason, rawCuts) => {
            const sender = new Connection({ role: from, maskKey: FIXED_KEY });
            const receiver = new Connection({ role: to, maskKey: FIXED_KEY });
            const bytes = Buffer.concat([wire(sender, items, FIXED_KEY), ...sender.close(code, reason)]);
            const { events, output } = feed(receiver, ...chunk(bytes, rawCuts, false));
            assert.deepEqual(events.at(-1), { type: 'close', code, reason });
            assert.equal(receiver.state, 3);
            // The echo goes back and completes the sender's handshake.
            const back = feed(sender, Buffer.concat(output));
            assert.deepEqual(back.events.at(-1), { type: 'close', code, reason: '' });
            assert.deepEqual(back.output, []);
            assert.equal(sender.state, 3);
          },
        ),
        { numRuns: 100 },
      );
    });
  });
}
