import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, connect as connectTcp, createServer as createTcp, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import {
  type CloseEvent,
  type ErrorEvent,
  WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from 'duplexjs';
import { encodeFrame, FrameSocket, Op, upgradeRequest } from '../helpers/raw-client.js';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.js';
import { checkLentReads } from './lent-reads.js';
import { nextEmit, nextEvent, sleep, stop, withTimeout } from './util.js';

// src/node/tls-wire.ts: after the upgrade, a server-side TLS connection's reads and writes
// go straight to its TLSWrap handle (the TLS handle path), not through the TLSSocket's
// Readable and Writable. DUPLEX_STREAM_IO=1 keeps the stream path (test/node/stream-io.test.ts
// runs this file that way too): every test here must pass on both.

const streamIo = process.env.DUPLEX_STREAM_IO === '1';

let pem: SelfSignedCert;

interface TlsServer {
  https: HttpsServer;
  wss: WebSocketServer;
  port: number;
  url: string;
  close(): Promise<void>;
}

async function startTls(options: Omit<WebSocketServerOptions, 'server' | 'port'> = {}): Promise<TlsServer> {
  const https = createHttps({ key: pem.key, cert: pem.cert });
  const wss = new WebSocketServer({ ...options, server: https });
  https.listen(0, '127.0.0.1');
  await nextEmit(https, 'listening');
  const port = (https.address() as AddressInfo).port;
  return {
    https,
    wss,
    port,
    url: `wss://localhost:${port}/`,
    async close() {
      await stop(wss);
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    },
  };
}

/** rawTls opens a TLS connection and does the opening handshake by hand. */
async function rawTls(
  port: number,
  tlsOptions: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; socket?: Socket } = {},
): Promise<{ tls: TLSSocket; frames: FrameSocket }> {
  const tls = connectTls({ port, host: '127.0.0.1', ca: pem.cert, servername: 'localhost', ...tlsOptions });
  await withTimeout(once(tls, 'secureConnect'), 'TLS handshake');
  tls.setNoDelay(true);
  const frames = new FrameSocket(tls);
  await frames.send(Buffer.from(upgradeRequest(`localhost:${port}`), 'latin1'));
  const head = await frames.readHead();
  assert.match(head.startLine, /^HTTP\/1\.1 101 /);
  return { tls, frames };
}

/**
 * echoOverTcp opens a WebSocket over TLS over a TCP socket the test holds (to break it), makes
 * the server side echo, and checks one echo of `first`.
 */
async function echoOverTcp(server: TlsServer, first: string) {
  const connected = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
  const tcp = connectTcp(server.port, '127.0.0.1');
  await once(tcp, 'connect');
  const { frames } = await rawTls(server.port, { socket: tcp });
  const [ws, request] = await connected;
  ws.addEventListener('message', (e) => ws.send(e.data));
  await frames.send(text(first));
  assert.equal((await frames.readFrame()).payload.toString(), first);
  return { tcp, frames, ws, request };
}

const text = (payload: string) => encodeFrame({ opcode: Op.TEXT, payload: Buffer.from(payload), mask: true });

/** serverClosed resolves with the server side's close event and whether an error event came first. */
function serverEnd(ws: WebSocket): Promise<{ close: CloseEvent; error: ErrorEvent | undefined }> {
  let error: ErrorEvent | undefined;
  ws.addEventListener('error', (e) => {
    error = e as ErrorEvent;
  });
  return nextEvent<CloseEvent>(ws, 'close', 10_000).then((close) => ({ close, error }));
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('TLS handle path', { timeout: 120_000 }, () => {
  before(async () => {
    pem = await makeSelfSignedCert();
  });

  it('is taken after the upgrade: the TLSSocket sees no data; addresses stay readable', async () => {
    const server = await startTls();
    try {
      const connected = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const client = new WebSocket(server.url, { ca: pem.cert });
      const [ws, request] = await connected;
      ws.addEventListener('message', (e) => ws.send(e.data));
      let seenBySocket = 0;
      request.socket.on('data', (chunk: Buffer) => {
        seenBySocket += chunk.length;
      });
      await nextEvent(client, 'open');
      const echoed = nextEvent<MessageEvent>(client, 'message');
      client.send('over the TLS handle');
      assert.equal((await echoed).data, 'over the TLS handle');
      // On the handle path the socket's Readable is bypassed; on the stream path it carries every byte.
      if (streamIo) assert.ok(seenBySocket > 0, 'the stream path reads through the TLSSocket');
      else assert.equal(seenBySocket, 0, 'the TLS handle path reads the TLSWrap directly');
      const closed = nextEvent<CloseEvent>(client, 'close');
      client.close(1000, 'done');
      assert.equal((await closed).wasClean, true);
      await once(request.socket, 'close');
      if (!streamIo) {
        // The handle path keeps both ends' addresses once the socket closed (node:net forgets its own).
        assert.equal(request.socket.remoteAddress, '127.0.0.1');
        assert.equal(typeof request.socket.remotePort, 'number');
        assert.equal(request.socket.localAddress, '127.0.0.1');
        assert.equal(request.socket.localPort, server.port);
      }
    } finally {
      await server.close();
    }
  });

  it('delivers frames sent with the handshake and during a slow authenticate, in order', async () => {
    const server = await startTls({
      authenticate: async () => {
        await sleep(150);
        return true;
      },
    });
    try {
      server.wss.on('connection', (ws) => ws.addEventListener('message', (e) => ws.send(e.data)));
      const tls = connectTls({ port: server.port, host: '127.0.0.1', ca: pem.cert, servername: 'localhost' });
      await withTimeout(once(tls, 'secureConnect'), 'TLS handshake');
      const peer = new FrameSocket(tls);
      const request = upgradeRequest(`localhost:${server.port}`);
      // The first frame rides with the handshake (the upgrade's `head`), the next ones arrive
      // while authenticate is pending (held by the TLSSocket's Readable until the 101).
      await peer.send(Buffer.concat([Buffer.from(request, 'latin1'), text('one')]));
      await sleep(40);
      await peer.send(text('two'));
      await sleep(40);
      await peer.send(text('three'));
      assert.match((await peer.readHead()).startLine, /^HTTP\/1\.1 101 /);
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await peer.readFrame()).payload.toString());
      assert.deepEqual(got, ['one', 'two', 'three']);
      peer.destroy();
    } finally {
      await server.close();
    }
  });

  it('echoes mixed sizes both ways in order, through backpressure on each side', async () => {
    const server = await startTls({ maxPayload: 4 * 1024 * 1024 });
    try {
      let serverPaused = false;
      let sawServerBackpressure = false;
      server.wss.on('connection', (ws) => {
        ws.binaryType = 'nodebuffer';
        ws.addEventListener('message', (e) => {
          ws.send(e.data as Buffer);
          if (ws.bufferedAmount >= 16 * 1024) sawServerBackpressure = true;
        });
        // The server stops reading for a while: the client's sends back up in TCP and TLS.
        ws.pause();
        serverPaused = true;
        setTimeout(() => {
          serverPaused = false;
          ws.resume();
        }, 300);
      });
      const client = new WebSocket(server.url, { ca: pem.cert, maxPayload: 4 * 1024 * 1024 });
      client.binaryType = 'nodebuffer';
      await nextEvent(client, 'open');
      const sizes = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 200_000, 3 * 1024 * 1024, 17, 16_385];
      const sent: Buffer[] = [];
      for (let round = 0; round < 4; round++) for (const size of sizes) sent.push(randomBytes(size));
      const got: Buffer[] = [];
      const all = new Promise<void>((resolve) => {
        client.addEventListener('message', (e) => {
          got.push(e.data as Buffer);
          if (got.length === sent.length) resolve();
        });
      });
      // The client stops reading too, once, while the server echoes: its writes back up.
      let clientPausedOnce = false;
      client.addEventListener('message', () => {
        if (clientPausedOnce) return;
        clientPausedOnce = true;
        client.pause();
        setTimeout(() => client.resume(), 300);
      });
      let sawClientBackpressure = false;
      for (const data of sent) {
        client.send(data);
        if (client.bufferedAmount >= 16 * 1024) sawClientBackpressure = true;
      }
      assert.equal(serverPaused, true);
      await withTimeout(all, 'all echoes', 60_000);
      assert.equal(got.length, sent.length);
      for (let i = 0; i < sent.length; i++) assert.equal(sha(got[i]!), sha(sent[i]!), `message ${i}`);
      assert.ok(sawClientBackpressure, 'the client buffered above the mark');
      assert.ok(sawServerBackpressure, 'the server buffered above the mark');
      const closed = nextEvent<CloseEvent>(client, 'close');
      client.close();
      assert.equal((await closed).wasClean, true);
    } finally {
      await server.close();
    }
  });

  it('carries a 16 MiB message each way', async () => {
    const big = 16 * 1024 * 1024;
    const server = await startTls({ maxPayload: big });
    try {
      server.wss.on('connection', (ws) => {
        ws.binaryType = 'nodebuffer';
        ws.addEventListener('message', (e) => ws.send(e.data as Buffer));
      });
      const client = new WebSocket(server.url, { ca: pem.cert, maxPayload: big });
      client.binaryType = 'nodebuffer';
      await nextEvent(client, 'open');
      const data = randomBytes(big);
      const echoed = nextEvent<MessageEvent>(client, 'message', 60_000);
      client.send(data);
      const back = (await echoed).data as Buffer;
      assert.equal(back.length, big);
      assert.equal(sha(back), sha(data));
      const closed = nextEvent<CloseEvent>(client, 'close');
      client.close();
      assert.equal((await closed).wasClean, true);
    } finally {
      await server.close();
    }
  });

  it('fails the connection on garbage TLS records after the upgrade: 1006, an error, the socket closed', async () => {
    const server = await startTls();
    try {
      const { tcp, frames, ws, request } = await echoOverTcp(server, 'before');
      const ended = serverEnd(ws);
      // An application-data record whose content is noise: decryption fails (bad record MAC).
      const garbage = Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x01, 0x00]), randomBytes(256)]);
      tcp.write(garbage);
      const { close, error } = await ended;
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.ok(error, 'an error event comes before the close');
      if (!request.socket.closed) await withTimeout(once(request.socket, 'close'), 'server socket close');
      assert.equal(request.socket.destroyed, true);
      await withTimeout(frames.waitForTcpClose(), 'client sees the connection end');
      frames.destroy();
    } finally {
      await server.close();
    }
  });

  it('fails the connection on a TCP reset: 1006, no crash', async () => {
    const server = await startTls();
    try {
      const { tcp, frames, ws, request } = await echoOverTcp(server, 'hello');
      const ended = serverEnd(ws);
      tcp.resetAndDestroy();
      const { close } = await ended;
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      if (!request.socket.closed) await withTimeout(once(request.socket, 'close'), 'server socket close');
      frames.destroy();
    } finally {
      await server.close();
    }
  });

  it('closes with a close handshake and close_notify both ways (TLS 1.2, records seen on the wire)', async () => {
    const server = await startTls();
    // A recording TCP relay between client and server: TLS 1.2 sends alerts as type-21
    // records in the clear, so the server's close_notify is visible in its last record.
    const fromServer: Buffer[] = [];
    const relay = createTcp((client) => {
      const upstream = connectTcp(server.port, '127.0.0.1');
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => fromServer.push(chunk));
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    try {
      const connected = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const client = new WebSocket(`wss://localhost:${(relay.address() as AddressInfo).port}/`, {
        ca: pem.cert,
        maxVersion: 'TLSv1.2',
      } as ConstructorParameters<typeof WebSocket>[2]);
      const [ws] = await connected;
      ws.addEventListener('message', (e) => ws.send(e.data));
      await nextEvent(client, 'open');
      const echoed = nextEvent<MessageEvent>(client, 'message');
      client.send('tls 1.2');
      assert.equal((await echoed).data, 'tls 1.2');
      const serverClosed = nextEvent<CloseEvent>(ws, 'close', 10_000);
      const clientClosed = nextEvent<CloseEvent>(client, 'close', 10_000);
      ws.close(1000, 'bye');
      const [s, c] = await Promise.all([serverClosed, clientClosed]);
      assert.equal(s.wasClean, true);
      assert.equal(c.wasClean, true);
      assert.equal(c.code, 1000);
      await sleep(50);
      const types: number[] = [];
      const bytes = Buffer.concat(fromServer);
      for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt16BE(at + 3)) types.push(bytes[at]!);
      assert.equal(
        types.at(-1),
        21,
        `the server's last TLS record is an alert (close_notify): ${types.join(',')}`,
      );
    } finally {
      relay.close();
      await server.close();
    }
  });

  it('survives a TLS 1.2 renegotiation request after the upgrade (refused or carried out, never a crash)', async () => {
    const server = await startTls();
    try {
      const connected = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const { tls, frames } = await rawTls(server.port, { maxVersion: 'TLSv1.2' });
      const [ws] = await connected;
      ws.addEventListener('message', (e) => ws.send(e.data));
      const ended = serverEnd(ws);
      const renegotiated = new Promise<Error | null>((resolve) => {
        const asked = tls.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null));
        if (!asked) resolve(new Error('renegotiate refused locally'));
      });
      const outcome = await withTimeout(renegotiated, 'renegotiation outcome', 10_000).catch((e: Error) => e);
      if (outcome === null) {
        // Carried out: the connection still echoes.
        await frames.send(text('after'));
        assert.equal((await frames.readFrame()).payload.toString(), 'after');
        frames.destroy();
        await ended;
      } else {
        // Refused by the server: the client sees an error or the connection end, the server closes it.
        frames.destroy();
        const { close } = await ended;
        assert.notEqual(close.code, 1000);
      }
    } finally {
      await server.close();
    }
  });
  it('keeps intact what it read from the TLS read buffer all connections share: messages, pings, split frames, bytes held while paused', async () => {
    // On the handle path every TLS connection decrypts into one buffer, lent to the parser for
    // each read (test/node/lent-reads.ts says what is checked).
    const server = await startTls({ maxPayload: 1024 * 1024 });
    try {
      await checkLentReads(server.wss, async () => (await rawTls(server.port)).frames);
    } finally {
      await server.close();
    }
  });

  it('keeps a record that arrives while paused intact (the second record of one read, after a message that paused)', async () => {
    // One client write of 16,384 + N bytes leaves as two TLS records read by one TCP read: the
    // first record is exactly message A, whose listener pauses; the TLSWrap still hands over
    // the second record (message B) in the same read loop, on the shared buffer, so the
    // transport must keep a copy while paused. Other connections' reads overwrite the buffer
    // before reading resumes.
    const server = await startTls({ maxPayload: 1024 * 1024 });
    try {
      const kept: Buffer[] = [];
      const first = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const a = await rawTls(server.port);
      const [wsA] = await first;
      wsA.on('message', (data) => {
        kept.push(data as Buffer);
        if (kept.length === 1) wsA.pause();
      });
      const second = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const b = await rawTls(server.port);
      const [wsB] = await second;
      wsB.on('message', (data, isBinary) => wsB.send(data, { binary: isBinary }));
      // A frame of exactly 16,384 bytes: 2 + 2 (length) + 4 (mask) + 16,376 payload.
      const payloadA = randomBytes(16_376);
      const frameA = encodeFrame({ opcode: Op.BINARY, payload: payloadA, mask: true });
      assert.equal(frameA.length, 16_384);
      const payloadB = randomBytes(3000);
      a.tls.write(Buffer.concat([frameA, encodeFrame({ opcode: Op.BINARY, payload: payloadB, mask: true })]));
      await withTimeout(
        (async () => {
          while (kept.length < 1) await sleep(10);
        })(),
        'message A',
      );
      await sleep(100);
      for (let i = 0; i < 4; i++) {
        const noise = randomBytes(20_000 + i);
        await b.frames.send(encodeFrame({ opcode: Op.BINARY, payload: noise, mask: true }));
        assert.equal(sha((await b.frames.readFrame()).payload), sha(noise));
      }
      assert.equal(kept.length, 1, 'message B waits while paused');
      wsA.resume();
      await withTimeout(
        (async () => {
          while (kept.length < 2) await sleep(10);
        })(),
        'message B',
      );
      assert.equal(sha(kept[0]!), sha(payloadA), 'message A');
      assert.equal(sha(kept[1]!), sha(payloadB), 'message B');
      a.frames.destroy();
      b.frames.destroy();
    } finally {
      await server.close();
    }
  });

  it("fails the connection, without a crash, when a client renegotiates past Node's limit (TLS 1.2)", async () => {
    const server = await startTls();
    try {
      const connected = nextEmit<[WebSocket, IncomingMessage]>(server.wss, 'connection');
      const { tls, frames } = await rawTls(server.port, { maxVersion: 'TLSv1.2' });
      tls.on('error', () => {});
      const [ws] = await connected;
      ws.addEventListener('message', (e) => ws.send(e.data));
      const ended = serverEnd(ws);
      // Node allows tls.CLIENT_RENEG_LIMIT (3) renegotiations per window; the next is an attack.
      for (let i = 0; i < 5 && !tls.destroyed; i++) {
        const done = await withTimeout(
          new Promise<Error | null>((resolve) => {
            if (!tls.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null))) resolve(null);
          }),
          'renegotiation',
          10_000,
        ).catch((e: Error) => e);
        if (done !== null) break;
      }
      const { close, error } = await ended;
      assert.equal(close.code, 1006);
      assert.ok(error, 'the server reports the error');
      assert.match(String((error as ErrorEvent).error), /ERR_TLS_SESSION_ATTACK/);
      frames.destroy();
    } finally {
      await server.close();
    }
  });
});
