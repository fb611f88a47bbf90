/**
 * Fuzzing the Node WebSocket client over real loopback sockets, differentially: a raw fake
 * server completes the handshake, then writes random frame streams (server to client) in
 * random TCP writes; the same bytes go to the core's client `Connection`. The client must
 * deliver exactly the messages the core delivers and report exactly the close code the core
 * decides (the peer's code, or the code of the protocol error); nothing escapes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { Connection } from 'duplexjs/protocol';
import fc from 'fast-check';
import { cutAt, params } from '../helpers/fuzz.js';
import { closePayload, computeAccept, encodeFrame, Op } from '../helpers/raw-client.js';
import { fuzzStream } from '../protocol/fuzz-arbitraries.js';
import { feed } from '../protocol/helpers.js';

const MAX_PAYLOAD = 50_000;

interface Expected {
  messages: string[];
  code: number;
}

/** expected runs the core's client over the bytes; undefined when they leave it open. */
function expected(bytes: Buffer): Expected | undefined {
  const conn = new Connection({ role: 'client', maxPayload: MAX_PAYLOAD });
  const { events } = feed(conn, Buffer.from(bytes));
  const out: Expected = { messages: [], code: 1006 };
  for (const e of events) {
    if (e.type === 'message') out.messages.push(`${e.binary ? 'binary' : 'text'} ${e.data.toString('hex')}`);
    else if (e.type === 'close') out.code = e.code;
    else if (e.type === 'error') out.code = e.error.closeCode ?? 1002;
  }
  return conn.state === 3 ? out : undefined;
}

describe('fuzz: the Node WebSocket client over loopback agrees with the core (RFC 6455 5-7)', () => {
  let server: net.Server;
  let port: number;
  /** What the fake server writes after its 101 to the next connection. */
  let script: Buffer[] = [];
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);

  before(async () => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
    server = net.createServer((socket) => {
      socket.on('error', () => {});
      const pieces = script;
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.on('data', () => {}); // what the client sends after the handshake is read and dropped
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
        for (const piece of pieces) socket.write(piece);
        socket.end();
      };
      socket.on('data', onData);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  });

  it('any frames from the server in any TCP chunking: the messages and close code the core decides', async () => {
    const closeFrame = encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1000), mask: false });
    await fc.assert(
      fc.asyncProperty(fuzzStream(false), fc.array(fc.nat(), { maxLength: 12 }), async (stream, raw) => {
        const bytes = Buffer.concat([stream.bytes, closeFrame]);
        const want = expected(bytes);
        fc.pre(want !== undefined);
        script = cutAt(bytes, raw);
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
          perMessageDeflate: false,
          maxPayload: MAX_PAYLOAD,
        });
        const messages: string[] = [];
        ws.addEventListener('message', (e) => {
          const data = e.data as string | Buffer;
          messages.push(
            typeof data === 'string'
              ? `text ${Buffer.from(data).toString('hex')}`
              : `binary ${data.toString('hex')}`,
          );
        });
        ws.addEventListener('error', () => {});
        const { code } = await new Promise<{ code: number }>((resolve) =>
          ws.addEventListener('close', (e) => resolve({ code: e.code })),
        );
        assert.deepEqual(messages, want!.messages, 'the messages');
        assert.equal(code, want!.code, 'the close code');
        assert.deepEqual(escaped, [], 'an exception escaped the library');
      }),
      params(40),
    );
  });
});
