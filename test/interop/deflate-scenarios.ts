// The permessage-deflate exchanges every interop pair goes through with compression on: the
// negotiated header as both ends report it, text with multi-byte UTF-8, binary, empty
// messages, 1 MiB compressible and 1 MiB random messages, and many messages in a row (so that
// context takeover, or its absence, matters). When the Duplex end is the server, the bytes on
// its TCP socket show that the compressible megabyte really travelled compressed.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { it, type TestContext } from 'node:test';
import { type WebSocket, WebSocketServer, type WebSocketServerOptions } from 'duplexjs';
import { duplexEndpoint } from './duplex-peer.js';
import { type Endpoint, EventLog, withTimeout } from './endpoint.js';
import { ALL_BYTES, bigBinary, MIB, UTF8_TEXT } from './payloads.js';
import { expectMessage } from './scenarios.js';

/** One deflate connection between Duplex and a peer. */
export interface DeflatePair {
  duplex: Endpoint;
  peer: Endpoint;
  /** Byte counters of the connection's TCP socket, when a server in this process holds it. */
  wire?: { fromPeer(): number; toPeer(): number };
}

export interface DeflatePairSpec {
  connect(t: TestContext): Promise<DeflatePair | undefined>;
  /** The exact Sec-WebSocket-Extensions value both ends must report. */
  expected: string;
}

const TEST_TIMEOUT = 90_000;

/** compressible is `bytes` of JSON-like text that deflate shrinks many times over. */
export function compressible(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `{"seq":${i},"kind":"update","ok":true,"v":"${i % 7}"},`;
  return out.slice(0, bytes);
}

/** squash normalises an extension header for comparison: no whitespace, parameters in a fixed order. */
const squash = (s: string | undefined) => {
  const [name = '', ...params] = (s ?? '').replace(/\s+/g, '').split(';');
  return [name, ...params.sort()].join(';');
};

/** deflateScenarios registers the deflate exchanges as tests of the enclosing describe(). */
export function deflateScenarios(spec: DeflatePairSpec): void {
  const scenario = (name: string, body: (pair: DeflatePair) => Promise<void>) =>
    it(name, { timeout: TEST_TIMEOUT }, async (t) => {
      const pair = await spec.connect(t);
      if (!pair) return;
      try {
        await body(pair);
        for (const ep of [pair.duplex, pair.peer]) {
          const errors = ep.events.history.filter((e) => e.kind === 'error');
          assert.deepEqual(errors, [], `${ep.name} reported errors`);
        }
      } finally {
        await Promise.allSettled([pair.duplex.dispose(), pair.peer.dispose()]);
      }
    });

  scenario(`both ends report ${spec.expected}`, async ({ duplex, peer }) => {
    assert.equal(squash(duplex.extensions), squash(spec.expected), `${duplex.name} extensions`);
    if (peer.extensions !== undefined) {
      // `ws` reports only the names of its extensions; the others the whole header.
      const expected = peer.name.startsWith('ws ') ? 'permessage-deflate' : spec.expected;
      assert.equal(squash(peer.extensions), squash(expected), `${peer.name} extensions`);
    }
  });

  scenario('text with multi-byte UTF-8, binary with every byte, empty messages, both ways', async (pair) => {
    const longText = `${UTF8_TEXT} `.repeat(400);
    for (const [from, to] of [
      [pair.duplex, pair.peer],
      [pair.peer, pair.duplex],
    ] as const) {
      await from.sendText(UTF8_TEXT);
      await from.sendText(longText);
      await from.sendBinary(ALL_BYTES);
      await from.sendBinary(Buffer.concat(Array.from({ length: 40 }, () => ALL_BYTES)));
      await from.sendText('');
      await from.sendBinary(Buffer.alloc(0));
      await expectMessage(to, 'text', UTF8_TEXT);
      await expectMessage(to, 'text', longText);
      await expectMessage(to, 'binary', ALL_BYTES);
      await expectMessage(to, 'binary', Buffer.concat(Array.from({ length: 40 }, () => ALL_BYTES)));
      await expectMessage(to, 'text', '');
      await expectMessage(to, 'binary', Buffer.alloc(0));
    }
  });

  scenario('1 MiB compressible text and 1 MiB random binary, both ways', async (pair) => {
    const text = compressible(MIB);
    const random = bigBinary(MIB);
    const wire = pair.wire;
    const from0 = wire?.fromPeer() ?? 0;
    await pair.peer.sendText(text);
    await expectMessage(pair.duplex, 'text', text);
    if (wire) {
      const bytes = wire.fromPeer() - from0;
      assert.ok(bytes < MIB / 8, `the peer's 1 MiB of text took ${bytes} bytes on the wire`);
    }
    const to0 = wire?.toPeer() ?? 0;
    await pair.duplex.sendText(text);
    await expectMessage(pair.peer, 'text', text);
    if (wire) {
      const bytes = wire.toPeer() - to0;
      assert.ok(bytes < MIB / 8, `Duplex's 1 MiB of text took ${bytes} bytes on the wire`);
    }
    await pair.duplex.sendBinary(random);
    await expectMessage(pair.peer, 'binary', random);
    await pair.peer.sendBinary(random);
    await expectMessage(pair.duplex, 'binary', random);
  });

  scenario('200 similar messages in a row keep content and order, both ways', async (pair) => {
    const messages = Array.from({ length: 200 }, (_, i) =>
      i % 5 === 4 ? `short ${i}` : `${compressible(1500 + i)}|${i}|€`,
    );
    for (const [from, to] of [
      [pair.duplex, pair.peer],
      [pair.peer, pair.duplex],
    ] as const) {
      for (const m of messages) await from.sendText(m);
      for (const m of messages) await expectMessage(to, 'text', m);
    }
  });
}

/** serverWire counts a server-held socket's bytes from the point of view of `duplexIsServer`. */
export function serverWire(socket: Socket, duplexIsServer: boolean): NonNullable<DeflatePair['wire']> {
  return duplexIsServer
    ? { fromPeer: () => socket.bytesRead, toPeer: () => socket.bytesWritten }
    : { fromPeer: () => socket.bytesWritten, toPeer: () => socket.bytesRead };
}

/** DuplexDeflateServer is a standalone Duplex server on loopback with the given deflate options. */
export class DuplexDeflateServer {
  readonly wss: WebSocketServer;
  readonly connections = new EventLog<{ endpoint: Endpoint; socket: Socket }>();
  url = '';

  private constructor(options: Omit<WebSocketServerOptions, 'port'>) {
    this.wss = new WebSocketServer({
      ...options,
      port: 0,
      host: '127.0.0.1',
      dangerouslyAllowAnyOrigin: true,
    });
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      this.connections.push({ endpoint: duplexEndpoint('Duplex server', ws), socket: req.socket });
    });
  }

  static async start(options: Omit<WebSocketServerOptions, 'port'>): Promise<DuplexDeflateServer> {
    const server = new DuplexDeflateServer(options);
    await withTimeout(
      new Promise<void>((resolve) => server.wss.once('listening', resolve)),
      10_000,
      'the Duplex server to listen',
    );
    server.url = `ws://127.0.0.1:${(server.wss.address() as AddressInfo).port}/deflate`;
    return server;
  }

  nextConnection(): Promise<{ endpoint: Endpoint; socket: Socket }> {
    return this.connections.take(() => true, 'a connection on the Duplex server');
  }

  close(): Promise<void> {
    return withTimeout(this.wss.close(), 15_000, 'Duplex server close()').catch(() => {});
  }
}
