/**
 * Hostile input after the handshake (issue 2 "Handshake and bad input"): a message over
 * maxPayload is refused with 1009 (RFC 6455 7.4.1), a frame header announcing 2^40 bytes is
 * refused at once without the server allocating it, invalid UTF-8 in text fails with 1007
 * (RFC 6455 8.1), and a peer that never reads is cut off by the send-buffer policy
 * (docs: `maxBufferedAmount`, close 1008 `send buffer full`, destroyed after closeTimeout)
 * with the server's memory bounded. After each, a good client still gets its echo.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { WebSocket } from 'duplexjs';
import { clientFrame, closeBody, goodRoundTrip, openRaw, sleep, within } from './peer.js';
import {
  childPeakRssBytes,
  type ServerTarget,
  startEchoTarget,
  startServerTarget,
  type Target,
} from './targets.js';

const MiB = 1024 * 1024;

/** closesWith sends `frames`, then expects the server's close frame with `code` and the end of TCP. */
async function closesWith(port: number, frames: Buffer[], code: number, withinMs = 3_000): Promise<void> {
  const peer = await openRaw(port);
  try {
    for (const frame of frames) await peer.write(frame);
    const close = await peer.readClose(withinMs);
    assert.equal(
      close.code,
      code,
      `close frame ${close.code} ${JSON.stringify(close.reason)}, expected ${code}`,
    );
    assert.deepEqual(
      close.before.map((f) => f.opcode),
      [],
      'the server delivered frames before failing the connection',
    );
    assert.ok(await peer.waitEnded(3_000), `the server did not end TCP after sending close ${code}`);
  } finally {
    peer.destroy();
  }
}

/** drained resolves on the socket's next drain or close, or at the deadline; it leaves no listener behind. */
function drained(socket: Socket, deadline: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** A masked frame header that announces `length` bytes and carries none of them. */
const hugeHeader = (opcode: number, length: bigint) =>
  clientFrame(opcode, Buffer.alloc(0), { declaredLength: length });

describe('RFC 6455 10.4 / 7.4.1: maxPayload (WebSocketServer with maxPayload 1024)', {
  timeout: 60_000,
}, () => {
  let target: Target;
  before(async () => {
    target = await startServerTarget({ maxPayload: 1024 });
  });
  after(async () => {
    await target?.stop();
  });

  test('a message of exactly maxPayload bytes is echoed', async () => {
    const peer = await openRaw(target.port);
    try {
      const payload = Buffer.alloc(1024, 0x61);
      await peer.write(clientFrame(0x2, payload));
      const echo = await peer.readFrame();
      assert.equal(echo.opcode, 0x2);
      assert.ok(echo.payload.equals(payload), 'echoed payload differs');
      await peer.write(clientFrame(0x8, closeBody(1000)));
      assert.equal((await peer.readClose()).code, 1000);
    } finally {
      peer.destroy();
    }
  });

  test('a 1025-byte binary message: close 1009', async () => {
    await closesWith(target.port, [clientFrame(0x2, Buffer.alloc(1025))], 1009);
    await goodRoundTrip(target.port);
  });

  test('a 1025-byte text message: close 1009', async () => {
    await closesWith(target.port, [clientFrame(0x1, 'x'.repeat(1025))], 1009);
    await goodRoundTrip(target.port);
  });

  test('a fragmented message that passes maxPayload only after reassembly (600 + 600): close 1009', async () => {
    const frames = [
      clientFrame(0x2, Buffer.alloc(600), { fin: false }),
      clientFrame(0x0, Buffer.alloc(600), { fin: true }),
    ];
    await closesWith(target.port, frames, 1009);
    await goodRoundTrip(target.port);
  });

  test('a frame header announcing 2^40 bytes: close 1009 at once, nothing allocated', async () => {
    const rssBefore = process.memoryUsage().rss;
    await closesWith(target.port, [hugeHeader(0x2, 2n ** 40n)], 1009, 2_000);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 256 * MiB, `RSS grew by ${Math.round(grown / MiB)} MiB after a 2^40-byte header`);
    await goodRoundTrip(target.port);
  });

  test('a text frame header announcing 2^62 bytes (largest length with the MSB clear): close 1009', async () => {
    await closesWith(target.port, [hugeHeader(0x1, 2n ** 62n)], 1009, 2_000);
    await goodRoundTrip(target.port);
  });

  test('a 16-bit length header announcing 65535 bytes over a 1024 limit: close 1009 before the payload', async () => {
    await closesWith(target.port, [hugeHeader(0x2, 65_535n)], 1009, 2_000);
    await goodRoundTrip(target.port);
  });
});

describe('RFC 6455 8.1: invalid UTF-8 in a text message (WebSocketServer)', { timeout: 60_000 }, () => {
  let target: Target;
  before(async () => {
    target = await startServerTarget();
  });
  after(async () => {
    await target?.stop();
  });

  const cases: Array<[string, Buffer[]]> = [
    ['an overlong "/" (C0 AF)', [clientFrame(0x1, Buffer.from([0x61, 0xc0, 0xaf]))]],
    ['a lone continuation byte (80)', [clientFrame(0x1, Buffer.from([0x80]))]],
    ['a UTF-16 surrogate (ED A0 80)', [clientFrame(0x1, Buffer.from([0xed, 0xa0, 0x80]))]],
    ['a code point above U+10FFFF (F4 90 80 80)', [clientFrame(0x1, Buffer.from([0xf4, 0x90, 0x80, 0x80]))]],
    [
      'a truncated sequence at the end of the message (E2 82)',
      [clientFrame(0x1, Buffer.from([0x61, 0xe2, 0x82]))],
    ],
    [
      'an invalid byte in the second fragment',
      [
        clientFrame(0x1, Buffer.from('valid '), { fin: false }),
        clientFrame(0x0, Buffer.from([0xff, 0x61]), { fin: true }),
      ],
    ],
  ];
  for (const [name, frames] of cases) {
    test(`${name}: close 1007`, async () => {
      await closesWith(target.port, frames, 1007);
      await goodRoundTrip(target.port);
    });
  }

  test('a close frame whose reason is not UTF-8: close 1007', async () => {
    const body = Buffer.concat([closeBody(1000), Buffer.from([0xc3, 0x28])]);
    await closesWith(target.port, [clientFrame(0x8, body)], 1007);
    await goodRoundTrip(target.port);
  });
});

describe('duplex echo (child process, default maxPayload 16 MiB)', { timeout: 60_000 }, () => {
  let target: Target;
  before(async () => {
    target = await startEchoTarget();
  });
  after(async () => {
    await target?.stop();
  });

  test('a frame header announcing 2^40 bytes: close 1009 at once, the process does not allocate it', async () => {
    await closesWith(target.port, [hugeHeader(0x2, 2n ** 40n)], 1009, 2_000);
    const peak = childPeakRssBytes(target);
    if (peak !== undefined)
      assert.ok(peak < 512 * MiB, `duplex echo peak RSS is ${Math.round(peak / MiB)} MiB`);
    await goodRoundTrip(target.port);
  });

  test('a message of 16 MiB + 1 byte announced in its header: close 1009', async () => {
    await closesWith(target.port, [hugeHeader(0x2, BigInt(16 * MiB + 1))], 1009, 2_000);
    await goodRoundTrip(target.port);
  });

  test('invalid UTF-8: close 1007', async () => {
    await closesWith(target.port, [clientFrame(0x1, Buffer.from([0xce, 0xba, 0xe1, 0xbd]))], 1007);
    await goodRoundTrip(target.port);
  });
});

describe('duplex echo --max-payload 1024 (child process)', { timeout: 60_000 }, () => {
  let target: Target;
  before(async () => {
    target = await startEchoTarget(['--max-payload', '1024']);
  });
  after(async () => {
    await target?.stop();
  });

  test('1024 bytes are echoed, 1025 bytes: close 1009', async () => {
    const peer = await openRaw(target.port);
    try {
      await peer.write(clientFrame(0x2, Buffer.alloc(1024, 0x64)));
      const echo = await peer.readFrame();
      assert.equal(echo.payload.length, 1024);
    } finally {
      peer.destroy();
    }
    await closesWith(target.port, [clientFrame(0x2, Buffer.alloc(1025))], 1009);
    await goodRoundTrip(target.port);
  });
});

describe('a peer that never reads: the send-buffer policy (maxBufferedAmount)', { timeout: 90_000 }, () => {
  const limit = 256 * 1024;
  const messageSize = 64 * 1024;
  let target: ServerTarget;
  before(async () => {
    target = await startServerTarget({ maxBufferedAmount: limit, closeTimeout: 500 });
  });
  after(async () => {
    await target?.stop();
  });

  /**
   * flood makes the server send up to `maxMessages` binary messages of `messageSize` bytes to
   * the next client, either in one synchronous burst or one per macrotask, and reports the
   * largest bufferedAmount it saw and how the server side closed.
   */
  function flood(mode: 'burst' | 'paced', maxMessages: number) {
    const payload = Buffer.alloc(messageSize, 0x62);
    let maxBuffered = 0;
    let sent = 0;
    const closed = new Promise<{ code: number; at: number }>((resolve) => {
      target.onNextConnection((ws: WebSocket) => {
        ws.addEventListener('close', (e) => resolve({ code: e.code, at: Date.now() }));
        ws.addEventListener('error', () => {});
        const one = () => {
          ws.send(payload);
          sent++;
          maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
        };
        if (mode === 'burst') {
          while (ws.readyState === ws.OPEN && sent < maxMessages) one();
        } else {
          const tick = () => {
            if (ws.readyState !== ws.OPEN || sent >= maxMessages) return;
            one();
            setImmediate(tick);
          };
          tick();
        }
      });
    });
    return { closed, stats: () => ({ maxBuffered, sent }) };
  }

  for (const mode of ['burst', 'paced'] as const) {
    test(`${mode} sends to a client that never reads: closed, bufferedAmount <= limit + one message`, async () => {
      const rssBefore = process.memoryUsage().rss;
      // 4096 messages of 64 KiB would be 256 MiB: far past the limit and any socket buffer.
      const run = flood(mode, 4096);
      const peer = await openRaw(target.port);
      try {
        peer.socket.pause(); // never read: the kernel buffers fill, then the server's user-space buffer.
        const started = Date.now();
        const outcome = await within(run.closed, 20_000);
        const { maxBuffered, sent } = run.stats();
        assert.ok(
          outcome !== undefined,
          `the server never closed the slow socket (sent ${sent}, max buffered ${maxBuffered})`,
        );
        assert.ok(
          sent < 4096,
          `the server sent all ${sent} messages (${(sent * messageSize) / MiB} MiB) to a peer that never reads`,
        );
        assert.ok(
          maxBuffered <= limit + messageSize + 14,
          `server-side bufferedAmount reached ${maxBuffered}, limit ${limit} + one message ${messageSize}`,
        );
        assert.ok(outcome.at - started < 10_000, `closed only after ${outcome.at - started} ms`);
        const grown = process.memoryUsage().rss - rssBefore;
        assert.ok(grown < 128 * MiB, `RSS grew by ${Math.round(grown / MiB)} MiB`);
        // The client finds the connection gone (after reading the kernel's backlog).
        peer.socket.resume();
        assert.ok(await peer.waitEnded(10_000), 'the slow client never saw the connection end');
      } finally {
        peer.destroy();
      }
      await goodRoundTrip(target.port);
    });
  }
});

describe('duplex echo: a client that sends a lot and never reads the echoes', { timeout: 90_000 }, () => {
  let target: Target;
  before(async () => {
    target = await startEchoTarget();
  });
  after(async () => {
    await target?.stop();
  });

  test('the connection is ended, echoes are dropped past the limit, memory stays bounded', async () => {
    const peer = await openRaw(target.port);
    const total = 128 * MiB;
    const frame = clientFrame(0x2, Buffer.alloc(64 * 1024, 0x63));
    let written = 0;
    let received = 0;
    try {
      peer.socket.pause();
      const deadline = Date.now() + 30_000;
      // Write 128 MiB of messages without reading a byte; every write waits for drain.
      while (!peer.ended && written < total && Date.now() < deadline) {
        if (!peer.socket.write(frame)) await drained(peer.socket, deadline);
        written += frame.length;
      }
      // Give the server its close timeout (5 s by default) to drop us while we still do not read.
      await sleep(6_000);
      // Now read what the kernel holds: a server that buffered every echo would deliver 128 MiB
      // and keep the connection; the buffer policy stops at about 16 MiB and ends the connection.
      peer.socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      peer.socket.resume();
      const ended = await peer.waitEnded(15_000);
      assert.ok(
        ended,
        `the server kept a never-reading client: ${Math.round(written / MiB)} MiB sent, ${Math.round(received / MiB)} MiB of echoes read`,
      );
      assert.ok(
        received < 48 * MiB,
        `${Math.round(received / MiB)} MiB of ${Math.round(written / MiB)} MiB echoed to a client that did not read`,
      );
      const peak = childPeakRssBytes(target);
      if (peak !== undefined)
        assert.ok(peak < 256 * MiB, `duplex echo peak RSS reached ${Math.round(peak / MiB)} MiB`);
    } finally {
      peer.destroy();
    }
    await goodRoundTrip(target.port);
  });
});
