/**
 * Fuzzing the Connection state machine (RFC 6455 5 to 7) in both roles, with and without
 * permessage-deflate: any byte stream in any chunking gives events and bytes to send, never
 * an exception out of receive(); the result does not depend on the chunking; each receive
 * stops at a message and says how many bytes it consumed; a failure is one documented error
 * event, last, with our close frame carrying its documented code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  type ConnectionEvent,
  isValidUtf8,
  isValidWireCloseCode,
  PerMessageDeflate,
  ProtocolError,
  type Role,
} from 'duplexjs/protocol';
import fc from 'fast-check';
import { cutAt, params, protocolErrors } from '../helpers/fuzz.js';
import { encodeFrame } from '../helpers/raw-client.js';
import { chunked, cuts, fuzzStream } from './fuzz-arbitraries.js';
import { FIXED_KEY, KEY, naiveMask } from './helpers.js';

const DOCUMENTED = protocolErrors();

interface Setup {
  role: Role;
  maxPayload: number;
  deflate: boolean;
}

function connection(s: Setup): Connection {
  const extensions = s.deflate
    ? [
        new PerMessageDeflate({
          role: s.role,
          params: {
            serverNoContextTakeover: false,
            clientNoContextTakeover: false,
            serverMaxWindowBits: 15,
            clientMaxWindowBits: 15,
          },
        }),
      ]
    : [];
  return new Connection({
    role: s.role,
    maskKey: FIXED_KEY,
    maxPayload: s.maxPayload,
    extensions,
  });
}

function describeEvent(e: ConnectionEvent): string {
  switch (e.type) {
    case 'message':
      return `message ${e.binary ? 'binary' : 'text'} ${e.data.toString('hex')}`;
    case 'ping':
    case 'pong':
      return `${e.type} ${e.data.toString('hex')}`;
    case 'close':
      return `close ${e.code} ${JSON.stringify(e.reason)}`;
    case 'error':
      return `error ${e.error.code} ${e.error.closeCode}`;
    case 'decode':
      // Only with asyncDecode, which these connections do not set.
      return 'decode';
  }
}

/** closeCodeOf reads the code of a close frame that `role` sent (masked with KEY by a client). */
function closeCodeOf(role: Role, frame: Buffer): number | undefined {
  assert.equal(frame[0], 0x88, `a close frame: ${frame.toString('hex')}`);
  const len = frame[1]! & 0x7f;
  const body = role === 'client' ? naiveMask(frame.subarray(6, 6 + len), KEY) : frame.subarray(2, 2 + len);
  return body.length >= 2 ? body.readUInt16BE(0) : undefined;
}

/**
 * run feeds the chunks, going on from where receive stopped after every message (half of
 * the time by offset, half with the rest as a new chunk), and checks every result as it
 * comes. Returns the events and output as text.
 *
 * `borrowed`: each chunk is lent (receive's third argument) from a scratch buffer that is
 * overwritten with garbage as soon as receive returns, as a TLS wire's shared read buffer is
 * by the next read; the rest of a chunk is copied first, as the transport does. Events and
 * output that kept a view of the lent bytes then come out different.
 */
function run(s: Setup, chunks: Buffer[], borrowed = false): { events: string[]; output: string } {
  const conn = connection(s);
  const events: ConnectionEvent[] = [];
  const output: Buffer[] = [];
  let byOffset = false;
  for (let chunk of chunks) {
    let from = 0;
    // Bounded: each pass consumes at least the frame of a message.
    for (let i = 0; i < 100_000; i++) {
      let r: ReturnType<Connection['receive']>;
      try {
        if (borrowed) {
          const lent = Buffer.from(chunk);
          r = conn.receive(lent, from, true);
          chunk = Buffer.from(chunk);
          lent.fill(0xa5);
        } else r = conn.receive(chunk, from);
      } catch (e) {
        throw new assert.AssertionError({ message: `receive() threw ${(e as Error)?.stack ?? e}` });
      }
      events.push(...r.events);
      output.push(...r.output);
      const messages = r.events.filter((e) => e.type === 'message').length;
      assert.ok(messages <= 1, 'at most one message per receive');
      if (r.consumed === chunk.length) break;
      assert.ok(
        r.consumed > from && r.consumed < chunk.length,
        `consumed up to ${r.consumed} of ${chunk.length}`,
      );
      assert.equal(r.events.at(-1)?.type, 'message', 'receive stops only at a message');
      byOffset = !byOffset;
      if (byOffset) from = r.consumed;
      else {
        chunk = chunk.subarray(r.consumed);
        from = 0;
      }
    }
  }
  checkEvents(s, conn, events, output);
  return { events: events.map(describeEvent), output: Buffer.concat(output).toString('hex') };
}

function checkEvents(s: Setup, conn: Connection, events: ConnectionEvent[], output: Buffer[]): void {
  const last = events.findIndex((e) => e.type === 'close' || e.type === 'error');
  if (last >= 0) {
    assert.equal(last, events.length - 1, 'nothing after close or error');
    assert.equal(conn.state, 3, 'CLOSED after close or error');
  }
  for (const e of events) {
    if (e.type === 'message') {
      assert.ok(e.data.length <= s.maxPayload, 'message within maxPayload');
      if (!e.binary) assert.ok(isValidUtf8(e.data), 'text is UTF-8');
    } else if (e.type === 'ping' || e.type === 'pong') {
      assert.ok(e.data.length <= 125);
    } else if (e.type === 'close') {
      assert.ok(e.code === 1005 || isValidWireCloseCode(e.code), `close code ${e.code}`);
      const echo = output.at(-1);
      assert.ok(echo !== undefined, 'the close is echoed');
      const echoed = closeCodeOf(s.role, echo);
      assert.equal(echoed, e.code === 1005 ? undefined : e.code, 'the echo carries the code');
    } else if (e.type === 'decode') {
      assert.fail('a decode event without asyncDecode');
    } else {
      assert.ok(e.error instanceof ProtocolError, 'a ProtocolError');
      assert.ok(DOCUMENTED.has(e.error.code), `undocumented code ${e.error.code}`);
      assert.equal(e.error.closeCode, DOCUMENTED.get(e.error.code), `close code of ${e.error.code}`);
      const frame = output.at(-1);
      assert.ok(frame !== undefined, 'a close frame is sent on failure');
      assert.equal(closeCodeOf(s.role, frame), e.error.closeCode, 'our close frame carries the code');
    }
  }
}

const setups = (role: Role) =>
  fc.record({
    role: fc.constant(role),
    maxPayload: fc.oneof(
      { weight: 3, arbitrary: fc.constant(16 * 1024 * 1024) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
    ),
    deflate: fc.boolean(),
  });

for (const role of ['server', 'client'] as const) {
  describe(`fuzz: Connection as ${role} (RFC 6455 5-7, RFC 7692)`, () => {
    it('any byte stream: events or a documented close, the same for any chunking, never a throw', () => {
      fc.assert(
        fc.property(setups(role), fuzzStream(role === 'server', true), cuts, (setup, stream, how) => {
          const whole = run(setup, [Buffer.from(stream.bytes)]);
          const pieces = run(setup, chunked(stream.bytes, how));
          assert.deepEqual(pieces, whole, 'chunking changed the result');
        }),
        params(400),
      );
    });

    it('a borrowed chunk: the same events and output although the lent bytes are overwritten after each receive', () => {
      fc.assert(
        fc.property(setups(role), fuzzStream(role === 'server', true), cuts, (setup, stream, how) => {
          // Each run gets its own pieces: an owned chunk is unmasked in place.
          const owned = run(setup, chunked(Buffer.from(stream.bytes), how));
          const lent = run(setup, chunked(Buffer.from(stream.bytes), how), true);
          assert.deepEqual(lent, owned, 'a lent chunk changed the result');
        }),
        params(400),
      );
    });

    it('a huge declared length over a tiny maxPayload closes with 1009 at the header', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1024 }),
          fc.bigInt({ min: 1n, max: 2n ** 63n - 1n - 1024n }),
          fc.constantFrom(0x1, 0x2),
          fc.boolean(),
          fc.array(fc.nat(), { maxLength: 6 }),
          (maxPayload, extra, opcode, deflate, raw) => {
            const declared = BigInt(maxPayload) + extra;
            // With an extension the wire budget has a small margin for data that does not compress.
            if (deflate && declared <= BigInt(maxPayload + Math.ceil(maxPayload / 1024) + 1024)) return;
            const head = encodeFrame({
              opcode,
              mask: role === 'server' ? Buffer.from(KEY) : false,
              lengthBits: declared > 0xffffn ? 64 : declared > 125n ? 16 : 7,
              declaredLength: declared,
            });
            const got = run({ role, maxPayload, deflate }, cutAt(head, raw));
            assert.deepEqual(got.events, ['error DUPLEX_PAYLOAD_TOO_BIG 1009']);
          },
        ),
        params(200),
      );
    });
  });
}
