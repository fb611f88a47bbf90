/**
 * A peer that floods pings and never reads (issue 13, item 1). Each ping asks for a pong;
 * when the peer reads nothing, pongs cannot leave, and a transport that queues one per ping
 * grows without bound (about 200 bytes each, counted as 6). Duplex keeps at most one
 * automatic pong waiting (RFC 6455 5.5.3 lets it answer only the latest ping) and fails a
 * peer that sends more than 1,000 pings while its pong waits with 1008 `ping flood`
 * (DUPLEX_PING_FLOOD, docs/security.md).
 *
 * Both peers here are raw node:net sockets that share no code with Duplex; they stop reading
 * right after the handshake, and the Duplex side first sends them 8 MiB, so that the
 * kernel's buffers are full and every pong would have to wait in the process behind it
 * ("a server that cannot write"). Memory is judged after a full GC, as a generous bound well below
 * what the unbounded queue reached (over 100 MiB per million pings), never by timing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, WebSocket } from 'duplexjs';
import { mib, retained } from '../helpers/memory.js';
import { drainOrClose, GUID } from '../helpers/raw-client.js';
import { nextConnection, nextEvent, startServer, stop, withTimeout } from './util.js';

const PINGS = 1_000_000;
/** What the Duplex side sends the peer first: more than loopback's kernel buffers hold. */
const FILL = 8 * 1024 * 1024;
const PER_BLOCK = 10_000;
/** Retained growth allowed over the whole flood: what one connection may legitimately hold, with room. */
const BOUND = 24 * 1024 * 1024;

/** pingBlock is `count` pings with a 4-byte payload, masked (client) with the zero key or not (server). */
function pingBlock(count: number, masked: boolean): Buffer {
  const one = masked
    ? Buffer.from([0x89, 0x84, 0, 0, 0, 0, 0x70, 0x69, 0x6e, 0x67])
    : Buffer.from([0x89, 0x04, 0x70, 0x69, 0x6e, 0x67]);
  return Buffer.concat(Array.from({ length: count }, () => one));
}

/** readHead reads bytes until the end of an HTTP head and returns it; the socket is paused after it. */
function readHead(socket: net.Socket): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.pause();
        resolve(got.subarray(0, end).toString('latin1'));
      };
      socket.on('data', onData);
      socket.once('error', reject);
    }),
    'an HTTP head',
  );
}

interface FloodResult {
  pings: number;
  peak: number;
}

/**
 * flood writes up to PINGS pings in blocks, waiting for drain, until the socket fails or
 * closes; every 100,000 pings it samples retained memory. Returns the pings written and the
 * highest growth over `base`.
 */
async function flood(socket: net.Socket, masked: boolean, base: number): Promise<FloodResult> {
  const block = pingBlock(PER_BLOCK, masked);
  let gone = false;
  socket.on('error', () => {
    gone = true;
  });
  socket.on('close', () => {
    gone = true;
  });
  let pings = 0;
  let peak = 0;
  while (pings < PINGS && !gone) {
    if (!socket.write(block)) await drainOrClose(socket);
    pings += PER_BLOCK;
    if (pings % 100_000 === 0) peak = Math.max(peak, retained() - base);
  }
  return { pings, peak };
}

describe('a peer that floods pings and never reads (issue 13)', () => {
  it('the server keeps memory bounded and closes it with 1008 ping flood', { timeout: 120_000 }, async () => {
    const { wss, port } = await startServer({ closeTimeout: 1_000 });
    const accepted = nextConnection(wss);
    const socket = net.connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const head = await readHead(socket);
    assert.match(head, /^HTTP\/1\.1 101 /);
    const server = await accepted;
    server.send(Buffer.alloc(FILL));
    const error = nextEvent<ErrorEvent>(server, 'error', 60_000);
    const closed = nextEvent<CloseEvent>(server, 'close', 60_000);
    const base = retained();
    const { pings, peak } = await flood(socket, true, base);
    const e = (await error).error as { code: string; closeCode: number };
    const close = await closed;
    socket.destroy();
    console.log(`server: ${pings} pings written, peak retained growth ${mib(peak)}`);
    assert.equal(e.code, 'DUPLEX_PING_FLOOD');
    assert.equal(close.code, 1008);
    assert.equal(close.wasClean, false);
    assert.ok(peak < BOUND, `retained growth ${mib(peak)} over ${pings} pings, bound ${mib(BOUND)}`);
    await stop(wss);
  });

  it('the client keeps memory bounded and closes it with 1008 ping flood', { timeout: 120_000 }, async () => {
    let peer: net.Socket | undefined;
    const raw = net.createServer((socket) => {
      peer = socket;
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const port = (raw.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, undefined, { closeTimeout: 1_000 });
    const error = nextEvent<ErrorEvent>(ws, 'error', 60_000);
    const closed = nextEvent<CloseEvent>(ws, 'close', 60_000);
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = () => (peer ? resolve() : setTimeout(poll, 5));
        poll();
      }),
      'the client connection',
    );
    const socket = peer!;
    const head = await readHead(socket);
    const clientKey = /sec-websocket-key:\s*(\S+)/i.exec(head)![1]!;
    const accept = createHash('sha1')
      .update(clientKey + GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    await nextEvent(ws, 'open');
    ws.send(Buffer.alloc(FILL));
    const base = retained();
    const { pings, peak } = await flood(socket, false, base);
    const e = (await error).error as { code: string; closeCode: number };
    const close = await closed;
    socket.destroy();
    raw.close();
    console.log(`client: ${pings} pings written, peak retained growth ${mib(peak)}`);
    assert.equal(e.code, 'DUPLEX_PING_FLOOD');
    assert.equal(close.code, 1008);
    assert.equal(close.wasClean, false);
    assert.ok(peak < BOUND, `retained growth ${mib(peak)} over ${pings} pings, bound ${mib(BOUND)}`);
  });
});
