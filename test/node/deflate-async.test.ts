/**
 * Large permessage-deflate messages on zlib's thread pool (asyncThreshold), Duplex to
 * Duplex over loopback: a 16 MiB compressible message round-trips; messages, pings and the
 * close keep their order when a large compressed message is followed by small ones, in both
 * directions (received messages are delivered in order, sent frames are written in order);
 * and a compression bomb is refused with 1009 on the async path without being inflated
 * whole (the test process's peak RSS grows far less than the bomb's inflated size).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { WebSocket, type WebSocketServerOptions } from 'duplexjs';
import type { PerMessageDeflateOptions } from 'duplexjs/protocol';
import { connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { bombPayload } from '../helpers/raw-deflate.js';
import { nextEmit, nextEvent, startServer, stop, withTimeout } from './util.js';

const MiB = 1024 * 1024;
const T = { timeout: 120_000 } as const;

async function pair(
  serverOptions: Omit<WebSocketServerOptions, 'port'>,
  clientDeflate: boolean | PerMessageDeflateOptions = true,
) {
  const started = await startServer(serverOptions);
  const connection = nextEmit<[WebSocket, IncomingMessage]>(started.wss, 'connection');
  const client = new WebSocket(started.url, undefined, { perMessageDeflate: clientDeflate });
  await nextEvent(client, 'open');
  const [server] = await connection;
  return { ...started, client, server };
}

/** compressible is `bytes` bytes of JSON-like text (deflate brings it to about a tenth), varied by `seed`. */
function compressible(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; at < bytes; i++) {
    at += out.write(`{"id":${seed * 1_000_000 + i},"user":"user${i % 89}","n":${(i * 7919) % 10007}},`, at);
  }
  return out;
}

/** Log is what one end saw, in order: messages (as their sizes and first bytes), pings, the close. */
type Entry = string;
function describeData(data: unknown): Entry {
  const b = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
  return `${typeof data === 'string' ? 'text' : 'binary'} ${b.length} ${b.subarray(0, 12).toString('hex')}`;
}

function record(ws: WebSocket, log: Entry[], keep?: (data: unknown) => void): Promise<void> {
  ws.addEventListener('message', (e) => {
    log.push(describeData(e.data));
    keep?.(e.data);
  });
  ws.addEventListener('ping', () => log.push('ping'));
  return new Promise((resolve) =>
    ws.addEventListener('close', (e) => {
      log.push(`close ${(e as unknown as { code: number }).code}`);
      resolve();
    }),
  );
}

for (const [name, options] of [
  ['asyncThreshold default (256 KiB)', {}],
  ['asyncThreshold 0 (every message)', { asyncThreshold: 0 }],
] as Array<[string, PerMessageDeflateOptions]>) {
  describe(`deflate on zlib's thread pool, ${name}`, () => {
    test('a 16 MiB compressible message round-trips', T, async () => {
      const p = await pair({ perMessageDeflate: options }, options);
      try {
        p.server.addEventListener('message', (e) => p.server.send(e.data as Buffer));
        const data = compressible(16 * MiB, 1);
        const echoed = new Promise<Buffer>((resolve) =>
          p.client.addEventListener('message', (e) => resolve(e.data as Buffer), { once: true }),
        );
        p.client.send(data);
        const back = await withTimeout(echoed, 'the 16 MiB echo', 60_000);
        assert.equal(back.length, data.length);
        assert.ok(back.equals(data), 'the same bytes');
      } finally {
        await stop(p.wss);
      }
    });

    test(
      'a large compressed message followed by small ones, a ping and the close keeps its order both ways',
      T,
      async () => {
        const p = await pair({ perMessageDeflate: options }, options);
        try {
          const large = compressible(2 * MiB, 2);
          const smalls = [compressible(4096, 3), Buffer.from('tiny'), compressible(300 * 1024, 4)];
          const serverLog: Entry[] = [];
          const clientLog: Entry[] = [];
          const serverClosed = record(p.server, serverLog, (data) => {
            // Echo each message at once: the large echo is compressed off the thread, the small
            // ones behind it must wait for it.
            p.server.send(data as Buffer);
            if (Buffer.isBuffer(data) && data.equals(Buffer.from('tiny'))) {
              p.server.ping('after tiny');
              p.server.send('text after the ping');
            }
          });
          const clientClosed = record(p.client, clientLog);
          p.client.send(large);
          for (const s of smalls) p.client.send(s);
          p.client.send('last');
          p.client.ping('from the client');
          // The close goes after everything sent before it.
          const echoes = 1 + smalls.length + 2;
          await withTimeout(
            (async () => {
              while (clientLog.filter((e) => !e.startsWith('ping')).length < echoes)
                await nextEvent(p.client, 'message', 60_000);
            })(),
            'the echoes',
            60_000,
          );
          p.client.close(1000);
          await withTimeout(Promise.all([serverClosed, clientClosed]), 'both closes', 30_000);
          const expectedServer = [
            describeData(large),
            ...smalls.map(describeData),
            describeData('last'),
            'ping',
            'close 1000',
          ];
          assert.deepEqual(serverLog, expectedServer, 'the server saw everything in the order sent');
          const expectedClient = [
            describeData(large),
            describeData(smalls[0]),
            describeData(smalls[1]),
            'ping',
            describeData('text after the ping'),
            describeData(smalls[2]),
            describeData('last'),
            'close 1000',
          ];
          assert.deepEqual(clientLog, expectedClient, 'the client saw the echoes in the order sent');
        } finally {
          await stop(p.wss);
        }
      },
    );
  });
}

/** peakKiB is this process's peak resident set size so far (Linux VmHWM). */
function peakKiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  assert.ok(m, 'VmHWM in /proc/self/status');
  return Number(m[1]);
}

describe('the inflate size limit on the async path', () => {
  test(
    'a 256 KiB bomb that inflates to 256 MiB closes with 1009; peak RSS grows by under 96 MiB',
    T,
    async () => {
      const bomb = await bombPayload(256 * MiB);
      // 256 KiB compressed counts as 2 MiB against asyncThreshold: this goes to the thread pool.
      assert.ok(bomb.length * 8 >= 256 * 1024, `bomb is ${bomb.length} bytes`);
      const started = await startServer({});
      const closed = new Promise<number>((resolve) =>
        started.wss.on('connection', (ws: WebSocket) =>
          ws.addEventListener('close', (e) => resolve((e as unknown as { code: number }).code)),
        ),
      );
      const before = peakKiB();
      const c = await connectRaw(started.port, { extensions: 'permessage-deflate' });
      try {
        void c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: bomb }));
        const res = await c.readClose(30_000);
        assert.equal(res.code, 1009, 'the server closes with 1009');
        assert.equal(await withTimeout(closed, 'the server-side close', 30_000), 1009);
        const grown = (peakKiB() - before) / 1024;
        assert.ok(grown < 96, `peak RSS grew by ${grown.toFixed(1)} MiB`);
      } finally {
        c.destroy();
        await stop(started.wss);
      }
    },
  );
});
