/**
 * RFC 7692 7.1.1 and 7.1.2: every LZ77 window size from 8 to 15, with and without context
 * takeover, in both directions, against a running `duplex echo` (default options). The raw
 * client offers client_max_window_bits=N and server_max_window_bits=N, compresses with a
 * window of N, and inflates the echoes with a window of N through 64-byte output chunks,
 * so that an echo compressed with a larger window than agreed fails to inflate. Several
 * messages go over each connection, so that context takeover (or its absence) matters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectRaw, Op } from '../helpers/raw-client.js';
import { DeflateSession, jsonLike, parseDeflateResponse, windowProbe } from '../helpers/raw-deflate.js';
import { echoServer, READ_MS, TEST } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

for (let bits = 8; bits <= 15; bits++) {
  for (const takeover of [true, false]) {
    const offer =
      `permessage-deflate; client_max_window_bits=${bits}; server_max_window_bits=${bits}` +
      (takeover ? '' : '; client_no_context_takeover; server_no_context_takeover');
    describe(`window ${bits} bits, ${takeover ? 'with' : 'without'} context takeover`, () => {
      test(offer, TEST, async () => {
        const c = await connectRaw(server.get().port, { extensions: offer });
        const header = c.response.headers['sec-websocket-extensions'];
        try {
          assert.ok(header !== undefined, 'permessage-deflate negotiated');
          const params = parseDeflateResponse(header);
          // RFC 7692 7.1.2.1: an accepted server_max_window_bits comes back with a value <= the offer's.
          assert.ok(
            params.serverMaxWindowBits !== undefined && params.serverMaxWindowBits <= bits,
            `server_max_window_bits in ${header}`,
          );
          // RFC 7692 7.1.2.2: client_max_window_bits in a response is no larger than offered.
          assert.ok(params.clientMaxWindowBits === undefined || params.clientMaxWindowBits <= bits, header);
          // RFC 7692 7.1.1.1: an accepted server_no_context_takeover is in the response.
          assert.equal(params.serverNoContextTakeover, !takeover, `server_no_context_takeover in ${header}`);
          const session = new DeflateSession(c, params, bits, { strictWindow: true });
          try {
            const probe = windowProbe(bits);
            const text = jsonLike(20_000);
            const messages: Array<[number, Buffer]> = [
              [Op.BINARY, probe],
              [Op.TEXT, Buffer.from(text)],
              [Op.BINARY, probe],
              [Op.TEXT, Buffer.from(text)],
              [Op.TEXT, Buffer.from(jsonLike(3000))],
            ];
            for (const [i, [opcode, data]] of messages.entries()) {
              await session.sendCompressed(opcode, data);
              let echo: Awaited<ReturnType<DeflateSession['receive']>>;
              try {
                echo = await session.receive(READ_MS);
              } catch (error) {
                throw new Error(
                  `message ${i}: echo did not inflate with a ${bits}-bit window: ${String(error)}`,
                );
              }
              assert.equal(echo.opcode, opcode, `message ${i} opcode`);
              // zlib cannot deflate within a 256-byte window, so Duplex sends uncompressed when
              // server_max_window_bits=8 (RFC 7692 allows any message to go uncompressed); a
              // compressed echo is still checked against the 8-bit window.
              if (bits > 8) {
                assert.equal(echo.compressed, true, `message ${i} (${data.length} bytes) echoed compressed`);
              }
              assert.ok(echo.data.equals(data), `message ${i} bytes`);
            }
          } finally {
            session.close();
          }
        } finally {
          c.destroy();
        }
      });
    });
  }
}
