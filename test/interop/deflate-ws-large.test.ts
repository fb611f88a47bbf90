// permessage-deflate that never hurts, against the real `ws` (perMessageDeflate: true) as
// the peer: a TCP relay between the two reads the frame headers going each way, so the
// tests see which messages Duplex sent with RSV1. Duplex sends random bytes uncompressed
// and JSON compressed (client and server); 16 MiB compressible messages, inflated and
// deflated on zlib's thread pool, round-trip; and a large message followed by small ones
// arrives in order both ways.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'duplexjs';
import { WebSocketServer as WsServer, WebSocket as WsSocket } from 'ws';
import { withTimeout } from './endpoint.js';

const MIB = 1024 * 1024;
const T = { timeout: 120_000 } as const;

/** FrameLog records the first header byte of each data frame that starts a message, per direction. */
class FrameLog {
  readonly firsts: number[] = [];
  private head = Buffer.alloc(0);
  private skip = 0;
  private upgraded = false;

  constructor(private readonly masked: boolean) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (!this.upgraded) {
      const all = Buffer.concat([this.head, data]);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        this.head = all;
        return;
      }
      this.upgraded = true;
      this.head = Buffer.alloc(0);
      data = all.subarray(end + 4);
    }
    while (data.length > 0) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      const buf = Buffer.concat([this.head, data]);
      if (buf.length < 2) {
        this.head = buf;
        return;
      }
      const len7 = buf[1]! & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.masked ? 4 : 0);
      if (buf.length < need) {
        this.head = buf;
        return;
      }
      const length =
        len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
      const opcode = buf[0]! & 0x0f;
      if (opcode === 1 || opcode === 2) this.firsts.push(buf[0]!);
      this.head = Buffer.alloc(0);
      this.skip = length;
      data = buf.subarray(need);
    }
  }

  /** compressed lists, for each message, whether its first frame had RSV1. */
  get compressed(): boolean[] {
    return this.firsts.map((b) => (b & 0x40) !== 0);
  }
}

/** Relay forwards one TCP connection to `port` and logs the frames in both directions. */
class Relay {
  readonly server: Server;
  toServer = new FrameLog(true);
  toClient = new FrameLog(false);
  private readonly sockets = new Set<Socket>();

  constructor(port: number) {
    this.server = createServer((down) => {
      // The logs of the latest connection; an earlier one's last frames go to its own.
      const toServer = new FrameLog(true);
      const toClient = new FrameLog(false);
      this.toServer = toServer;
      this.toClient = toClient;
      const up = connect(port, '127.0.0.1');
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          down.destroy();
          up.destroy();
        });
      }
      down.on('data', (d: Buffer) => toServer.push(d));
      up.on('data', (d: Buffer) => toClient.push(d));
      down.pipe(up);
      up.pipe(down);
    });
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

function json(bytes: number, seed: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++)
    out += `{"id":${seed * 1_000_000 + i},"user":"u${i % 31}","v":${i % 977}},`;
  return out.slice(0, bytes);
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** collect resolves with the next `n` messages of a ws socket, as Buffers. */
function wsMessages(ws: WsSocket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return withTimeout(
    new Promise((resolve) => {
      const on = (data: Buffer) => {
        got.push(Buffer.from(data));
        if (got.length === n) {
          ws.off('message', on);
          resolve(got);
        }
      };
      ws.on('message', on);
    }),
    90_000,
    `${n} messages from ws`,
  );
}

function duplexMessages(ws: WebSocket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return withTimeout(
    new Promise((resolve) => {
      const on = (e: { data: unknown }) => {
        got.push(typeof e.data === 'string' ? Buffer.from(e.data) : (e.data as Buffer));
        if (got.length === n) {
          ws.removeEventListener('message', on);
          resolve(got);
        }
      };
      ws.addEventListener('message', on);
    }),
    90_000,
    `${n} messages from Duplex`,
  );
}

describe('the Duplex client against a ws server (perMessageDeflate: true)', () => {
  let wss: WsServer;
  let relay: Relay;
  let url = '';
  before(async () => {
    wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, maxPayload: 64 * MIB });
    await once(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    relay = new Relay((wss.address() as AddressInfo).port);
    url = `ws://127.0.0.1:${await relay.listen()}/`;
  });
  after(() => {
    relay.close();
    wss.close();
  });

  async function open(): Promise<WebSocket> {
    const ws = new WebSocket(url);
    await withTimeout(once(ws as unknown as EventTarget, 'open'), 10_000, 'open');
    assert.equal(ws.extensions, 'permessage-deflate');
    return ws;
  }

  it('random bytes go out uncompressed, JSON compressed, and both echo back', T, async () => {
    const ws = await open();
    try {
      const random = times(20, () => randomBytes(16 * 1024));
      const texts = times(10, (i) => json(16 * 1024, i));
      const echoes = duplexMessages(ws, 30);
      for (const r of random) ws.send(r);
      for (const t of texts) ws.send(t);
      const got = await echoes;
      for (let i = 0; i < 20; i++) assert.ok(got[i]!.equals(random[i]!), `random ${i}`);
      for (let i = 0; i < 10; i++) assert.equal(got[20 + i]!.toString(), texts[i], `text ${i}`);
      assert.deepEqual(relay.toServer.compressed, [...times(20, () => false), ...times(10, () => true)]);
    } finally {
      ws.close();
    }
  });

  it('a 16 MiB compressible message, then small ones, round-trip in order', T, async () => {
    const ws = await open();
    try {
      const large = Buffer.from(json(16 * MIB, 1));
      const smalls = [json(3000, 2), 'tiny', json(400 * 1024, 3)];
      const echoes = duplexMessages(ws, 4);
      ws.send(large);
      for (const s of smalls) ws.send(s);
      const got = await echoes;
      assert.ok(got[0]!.equals(large), 'the 16 MiB echo');
      assert.deepEqual(
        got.slice(1).map((b) => b.toString()),
        smalls,
      );
      assert.deepEqual(relay.toServer.compressed, [true, true, false, true]);
    } finally {
      ws.close();
    }
  });
});

describe('a Duplex server (defaults) against the ws client (perMessageDeflate: true)', () => {
  let server: WebSocketServer;
  let relay: Relay;
  let url = '';
  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    server.on('connection', (ws: WebSocket) =>
      ws.addEventListener('message', (e) => ws.send(e.data as string | Buffer)),
    );
    relay = new Relay((server.address() as AddressInfo).port);
    url = `ws://127.0.0.1:${await relay.listen()}/`;
  });
  after(async () => {
    relay.close();
    await server.close();
  });

  async function open(): Promise<WsSocket> {
    const ws = new WsSocket(url, { perMessageDeflate: true, maxPayload: 64 * MIB });
    await withTimeout(once(ws, 'open'), 10_000, 'open');
    return ws;
  }

  it('random echoes go out uncompressed, JSON echoes compressed', T, async () => {
    const ws = await open();
    try {
      const random = times(20, () => randomBytes(16 * 1024));
      const texts = times(10, (i) => json(16 * 1024, i));
      const echoes = wsMessages(ws, 30);
      for (const r of random) ws.send(r);
      for (const t of texts) ws.send(t);
      const got = await echoes;
      for (let i = 0; i < 20; i++) assert.ok(got[i]!.equals(random[i]!), `random ${i}`);
      for (let i = 0; i < 10; i++) assert.equal(got[20 + i]!.toString(), texts[i], `text ${i}`);
      assert.deepEqual(relay.toClient.compressed, [...times(20, () => false), ...times(10, () => true)]);
    } finally {
      ws.close();
    }
  });

  it('a 16 MiB compressible message, then small ones, round-trip in order', T, async () => {
    const ws = await open();
    try {
      const large = Buffer.from(json(16 * MIB, 4));
      const smalls = [json(3000, 5), 'tiny', json(400 * 1024, 6)];
      const echoes = wsMessages(ws, 4);
      ws.send(large);
      for (const s of smalls) ws.send(s);
      const got = await echoes;
      assert.ok(got[0]!.equals(large), 'the 16 MiB echo');
      assert.deepEqual(
        got.slice(1).map((b) => b.toString()),
        smalls,
      );
      assert.deepEqual(relay.toClient.compressed, [true, true, false, true]);
    } finally {
      ws.close();
    }
  });
});
