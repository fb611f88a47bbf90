/**
 * Fuzzing the server transport over real loopback sockets, differentially: random frame
 * streams (test/protocol/fuzz-arbitraries.ts), cut into random TCP writes, go to a real
 * WebSocketServer that echoes every message, and the same bytes go to the sans-I/O core
 * (`Connection`). The server must echo exactly the messages the core delivers, answer pings
 * with their payloads, and close with exactly the code the core decides; the server emits no
 * `error`, nothing escapes as an uncaught exception, and it keeps serving new clients.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'duplexjs';
import { Connection } from 'duplexjs/protocol';
import fc from 'fast-check';
import { cutAt, params } from '../helpers/fuzz.js';
import { closePayload, connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { fuzzStream } from '../protocol/fuzz-arbitraries.js';
import { feed } from '../protocol/helpers.js';

const MAX_PAYLOAD = 50_000;
/** Close codes seen, printed with FUZZ_STATS=1 (what the runs reached). */
const stats = new Map<string, number>();

interface Expected {
  messages: string[];
  pings: string[];
  /** The close code of the server's close frame; undefined for an empty one. */
  code: number | undefined;
}

/** expected runs the core over the bytes: what the server must do with them. */
function expected(bytes: Buffer): Expected | undefined {
  const conn = new Connection({ role: 'server', maxPayload: MAX_PAYLOAD });
  const { events } = feed(conn, Buffer.from(bytes));
  const out: Expected = { messages: [], pings: [], code: undefined };
  for (const e of events) {
    if (e.type === 'message') out.messages.push(`${e.binary ? 'binary' : 'text'} ${e.data.toString('hex')}`);
    else if (e.type === 'ping') out.pings.push(e.data.toString('hex'));
    else if (e.type === 'close') out.code = e.code === 1005 ? undefined : e.code;
    else if (e.type === 'error') out.code = e.error.closeCode;
  }
  // A stream that leaves a frame incomplete (a lying length) never ends: not a case for this test.
  return conn.state === 3 ? out : undefined;
}

/** isSubsequence tells whether `sub` appears in `all` in order. */
function isSubsequence(sub: string[], all: string[]): boolean {
  let i = 0;
  for (const x of all) if (i < sub.length && sub[i] === x) i++;
  return i === sub.length;
}

describe('fuzz: WebSocketServer over loopback agrees with the core (RFC 6455 5-7)', () => {
  let wss: WebSocketServer;
  let port: number;
  const serverErrors: unknown[] = [];
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);

  before(async () => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
    wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      maxPayload: MAX_PAYLOAD,
      perMessageDeflate: false,
    });
    wss.on('error', (error) => serverErrors.push(error));
    wss.on('connection', (ws) => {
      ws.addEventListener('message', (event) => ws.send(event.data as string | Buffer));
    });
    await new Promise<void>((resolve) => wss.on('listening', () => resolve()));
    port = (wss.address() as AddressInfo).port;
  });

  after(async () => {
    if (process.env.FUZZ_STATS) console.error(Object.fromEntries([...stats].sort()));
    await wss.close();
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  });

  it('any frames in any TCP chunking: the echoes, pongs and close code the core decides', async () => {
    const closeFrame = (key: Uint8Array) =>
      encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1000), mask: Buffer.from(key) });
    await fc.assert(
      fc.asyncProperty(
        fuzzStream(true),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        async (stream, raw, key) => {
          // A close frame at the end ends every stream that the core has not ended already.
          const bytes = Buffer.concat([stream.bytes, closeFrame(key)]);
          const want = expected(bytes);
          fc.pre(want !== undefined);
          const c = await connectRaw(port);
          try {
            for (const piece of cutAt(bytes, raw)) await c.send(piece);
            const { code, before: frames } = await c.readClose();
            const messages = frames
              .filter((f) => f.opcode === Op.TEXT || f.opcode === Op.BINARY)
              .map((f) => `${f.opcode === Op.BINARY ? 'binary' : 'text'} ${f.payload.toString('hex')}`);
            const pongs = frames.filter((f) => f.opcode === Op.PONG).map((f) => f.payload.toString('hex'));
            assert.deepEqual(messages, want!.messages, 'the echoed messages');
            // Pongs answer pings in order (a transport may answer only the latest of piled-up pings).
            assert.ok(isSubsequence(pongs, want!.pings), `pongs ${pongs} for pings ${want!.pings}`);
            if (want!.pings.length > 0) assert.ok(pongs.length > 0, 'pings are answered');
            assert.equal(code, want!.code, 'the close code');
            const key = `close ${code} after ${messages.length > 0 ? 'messages' : 'no message'}`;
            stats.set(key, (stats.get(key) ?? 0) + 1);
            await c.waitForTcpClose();
          } finally {
            c.destroy();
          }
          assert.deepEqual(serverErrors, [], 'the server emitted error');
          assert.deepEqual(escaped, [], 'an exception escaped the library');
        },
      ),
      params(40),
    );
    // And it still serves a well-behaved client.
    const c = await connectRaw(port);
    try {
      await c.sendFrames({ opcode: Op.TEXT, payload: 'still here' });
      const echo = await c.readFrame();
      assert.equal(echo.payload.toString(), 'still here');
    } finally {
      c.destroy();
    }
  });
});
