/**
 * Memory per wire byte (issue 13, item 5): how much a server retains for each byte a hostile
 * peer sends it, for the floods that cost little to send. The server runs in a child process
 * (test/helpers/server-process.ts), so its memory is measured alone: heap + external after a
 * full GC, sampled during and after each flood; the peers are raw node:net sockets here.
 *
 * The bound, RATIO: a byte from the wire should be held at most about twice (once in a
 * buffer that grows by doubling, as a fragmented message's MessageBuffer), plus the fixed
 * cost of each connection and each queued item, amortised over the bytes that created it.
 * RATIO = 4 retained bytes per wire byte leaves room for V8's own slack. The unbounded cases
 * this guards against were 10 to 40 times over it (a queued 3-byte echo cost about 120 bytes
 * while counting as 3; a queued pong about 200 counting as 6).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { mib } from '../helpers/memory.js';
import { drainOrClose, encodeFrame, Op } from '../helpers/raw-client.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { sleep, withTimeout } from './util.js';

const RATIO = 4;

/** open connects a raw socket and sends `head` (a complete handshake, or the start of one). */
function open(port: number, head: string): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
      socket.write(head);
    }),
    'a connection',
  );
}

function upgradeHead(port: number, path: string, extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** handshake opens a WebSocket with a raw socket and reads the 101; reading then stops (paused). */
async function handshake(port: number, path: string, extra = ''): Promise<net.Socket> {
  const socket = await open(port, upgradeHead(port, path, extra));
  await withTimeout(
    new Promise<void>((resolve) => {
      let got = '';
      const onData = (chunk: Buffer) => {
        got += chunk.toString('latin1');
        if (!got.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        socket.pause();
        resolve();
      };
      socket.on('data', onData);
    }),
    'the 101',
  );
  socket.on('error', () => {});
  return socket;
}

/** send writes `data` and waits for drain when needed; false once the socket is gone. */
async function send(socket: net.Socket, data: Buffer | string): Promise<boolean> {
  if (socket.destroyed) return false;
  if (socket.write(data)) return true;
  await drainOrClose(socket);
  return !socket.destroyed;
}

interface Outcome {
  wire: number;
  peak: number;
}

/** measure runs `flood`, which reports wire bytes and calls `sample` now and then; returns the peak growth. */
async function measure(
  server: ServerProcess,
  flood: (sample: () => Promise<void>) => Promise<number>,
): Promise<Outcome> {
  const base = (await server.memory()).retained;
  let peak = 0;
  const sample = async () => {
    peak = Math.max(peak, (await server.memory()).retained - base);
  };
  const wire = await flood(sample);
  await sample();
  return { wire, peak };
}

function check(name: string, { wire, peak }: Outcome): void {
  const ratio = peak / wire;
  console.log(`${name}: ${mib(wire)} sent, peak retained growth ${mib(peak)}, ratio ${ratio.toFixed(2)}`);
  assert.ok(ratio < RATIO, `${name}: ${ratio.toFixed(2)} retained bytes per wire byte, bound ${RATIO}`);
}

describe('memory per wire byte (issue 13)', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({
      echo: { maxBufferedAmount: 1024 * 1024 },
      hubLimits: { messagesPerSecond: 1_000_000, messageBurst: 1_000_000 },
    });
  });
  after(async () => {
    await server.stop();
  });

  it('slow-drip request heads: 200 connections, 8 KiB of header lines each, never finished', {
    timeout: 120_000,
  }, async () => {
    const sockets: net.Socket[] = [];
    const outcome = await measure(server, async (sample) => {
      let wire = 0;
      const start = `GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`;
      for (let i = 0; i < 200; i++) {
        sockets.push(await open(server.port, start));
        wire += start.length;
      }
      const line = `X-Pad: ${'a'.repeat(90)}\r\n`;
      for (let round = 0; round < 80; round++) {
        for (const s of sockets) {
          if (await send(s, line)) wire += line.length;
        }
        if (round % 20 === 19) await sample();
      }
      await sleep(100);
      return wire;
    });
    for (const s of sockets) s.destroy();
    check('slow-drip heads', outcome);
  });

  it('tiny-fragment flood: one message in 200,000 one-byte fragments', { timeout: 120_000 }, async () => {
    const socket = await handshake(server.port, '/echo');
    const outcome = await measure(server, async (sample) => {
      let wire = 0;
      const first = encodeFrame({ opcode: Op.TEXT, payload: 'a', fin: false });
      await send(socket, first);
      wire += first.length;
      const fragment = encodeFrame({ opcode: Op.CONTINUATION, payload: 'a', fin: false });
      const block = Buffer.concat(Array.from({ length: 10_000 }, () => fragment));
      for (let i = 0; i < 20; i++) {
        if (!(await send(socket, block))) break;
        wire += block.length;
        if (i % 5 === 4) await sample();
      }
      return wire;
    });
    socket.destroy();
    check('tiny fragments', outcome);
  });

  it('many small messages echoed to a reader that never reads (maxBufferedAmount 1 MiB)', {
    timeout: 120_000,
  }, async () => {
    const socket = await handshake(server.port, '/echo');
    const outcome = await measure(server, async (sample) => {
      let wire = 0;
      const message = encodeFrame({ opcode: Op.BINARY, payload: 'a' });
      const block = Buffer.concat(Array.from({ length: 10_000 }, () => message));
      for (let i = 0; i < 30; i++) {
        if (!(await send(socket, block))) break;
        wire += block.length;
        if (i % 5 === 4) await sample();
      }
      return wire;
    });
    socket.destroy();
    check('small messages to a paused reader', outcome);
  });

  it('hub subscription flood: 20,000 subscribe requests from a client that never reads', {
    timeout: 120_000,
  }, async () => {
    const socket = await handshake(server.port, '/hub', 'Sec-WebSocket-Protocol: duplex.v1\r\n');
    const outcome = await measure(server, async (sample) => {
      let wire = 0;
      const connect = encodeFrame({ opcode: Op.TEXT, payload: JSON.stringify({ type: 'connect', id: 1 }) });
      await send(socket, connect);
      wire += connect.length;
      for (let batch = 0; batch < 20; batch++) {
        const frames: Buffer[] = [];
        for (let i = 0; i < 1_000; i++) {
          const id = 2 + batch * 1_000 + i;
          frames.push(
            encodeFrame({
              opcode: Op.TEXT,
              payload: JSON.stringify({ type: 'subscribe', id, channel: `flood:${id}` }),
            }),
          );
        }
        const block = Buffer.concat(frames);
        if (!(await send(socket, block))) break;
        wire += block.length;
        if (batch % 5 === 4) await sample();
      }
      return wire;
    });
    socket.destroy();
    check('hub subscription flood', outcome);
  });
});
