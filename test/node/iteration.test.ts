import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CloseEvent,
  ConnectionClosedError,
  ProtocolError,
  WebSocket,
  type WebSocketData,
  WebSocketServer,
} from 'duplexjs';
import { connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { nextConnection, nextEmit, nextEvent, startServer, stop, TIMEOUT, withTimeout } from './util.js';

/** collect reads `n` messages from a socket's async iterator, then breaks out of the loop. */
function collect(ws: WebSocket, n: number): Promise<WebSocketData[]> {
  return withTimeout(
    (async () => {
      const out: WebSocketData[] = [];
      if (n === 0) return out;
      for await (const message of ws) {
        out.push(message);
        if (out.length === n) break;
      }
      return out;
    })(),
    `${n} messages`,
  );
}

/** drainLoop runs a loop to its end and resolves with the error it threw, or undefined. */
function drainLoop(ws: WebSocket): Promise<unknown> {
  return withTimeout(
    (async () => {
      try {
        for await (const _ of ws);
        return undefined;
      } catch (error) {
        return error;
      }
    })(),
    'the end of the loop',
  );
}

/** roundTrip resolves once the peer answered a ping, i.e. read everything sent before it. */
async function roundTrip(ws: WebSocket): Promise<void> {
  const pong = nextEvent(ws, 'pong');
  ws.ping();
  await pong;
}

describe('a peer cannot crash a server (issue 8)', () => {
  it('a peer that sends an oversize message or breaks the protocol does not crash a server whose async connection listener iterates', {
    timeout: 30_000,
  }, async () => {
    const script = fileURLToPath(new URL('./fixtures/iterating-server.js', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    let exited = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        exited = true;
        resolve(code);
      }),
    );
    try {
      const port = await withTimeout(
        (async () => {
          for (let i = 0; i < 1_000 && !exited; i++) {
            const m = /^listening (\d+)$/m.exec(stdout);
            if (m) return Number(m[1]);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          throw new Error(`server did not start: ${stderr}`);
        })(),
        'the server process',
        15_000,
      );
      // An oversize message: 1009, and the loop of that connection throws.
      const big = new WebSocket(`ws://127.0.0.1:${port}/`, undefined, { perMessageDeflate: false });
      await nextEvent(big, 'open');
      big.send(Buffer.alloc(2048));
      assert.equal((await nextEvent<CloseEvent>(big, 'close')).code, 1009);
      // A protocol error: an unmasked frame from a client, 1002.
      const raw = await connectRaw(port);
      await raw.send(encodeFrame({ opcode: Op.TEXT, payload: Buffer.from('hi'), mask: false }));
      assert.equal((await raw.readClose()).code, 1002);
      raw.destroy();
      // A peer that drops TCP in the middle of the loop.
      const dropped = new WebSocket(`ws://127.0.0.1:${port}/`);
      await nextEvent(dropped, 'open');
      dropped.terminate();
      // The process is still there and still serves.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await nextEvent(ws, 'open');
      ws.send('still here');
      assert.equal((await nextEvent<MessageEvent>(ws, 'message')).data, 'still here');
      ws.close();
      await nextEvent(ws, 'close');
      assert.equal(exited, false, `the server process exited: ${stderr}`);
      assert.match(stderr, /DUPLEX_CONNECTION_CLOSED/);
      assert.doesNotMatch(stderr, /unhandled ?rejection/i);
    } finally {
      if (!exited) child.kill('SIGTERM');
      await withTimeout(exit, 'the server process to exit', 10_000);
    }
  });

  it('reports the rejection of an async connection listener as the server error and closes with 1011', {
    timeout: 10_000,
  }, async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const { wss, url } = await startServer();
      const boom = new Error('boom');
      wss.on('connection', async () => {
        await null;
        throw boom;
      });
      const reported = nextEmit<[unknown]>(wss, 'error');
      const ws = new WebSocket(url);
      const close = await nextEvent<CloseEvent>(ws, 'close');
      assert.equal(close.code, 1011);
      assert.equal((await reported)[0], boom);
      await stop(wss);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(rejections, []);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('reports the rejection of an async handleUpgrade callback the same way', {
    timeout: 10_000,
  }, async () => {
    const wss = new WebSocketServer({ noServer: true });
    const http = createServer();
    const boom = new Error('boom');
    http.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, async () => {
        throw boom;
      });
    });
    http.listen(0, '127.0.0.1');
    await nextEmit(http, 'listening');
    const reported = nextEmit<[unknown]>(wss, 'error');
    const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`);
    assert.equal((await nextEvent<CloseEvent>(ws, 'close')).code, 1011);
    assert.equal((await reported)[0], boom);
    await stop(wss);
    http.close();
  });
});

describe('async iteration after a close caused by the peer (issue 8)', () => {
  it('throws ConnectionClosedError (1006) when the peer drops TCP, where the loop used to end silently', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const raw = await connectRaw(port);
    const server = await accepted;
    const ended = drainLoop(server);
    raw.destroy();
    const error = await ended;
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.deepEqual(
      [error.code, error.closeCode, error.reason, error.wasClean],
      ['DUPLEX_CONNECTION_CLOSED', 1006, '', false],
    );
    await stop(wss);
  });

  it('throws ConnectionClosedError with the ProtocolError as cause after a protocol error', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const raw = await connectRaw(port);
    const server = await accepted;
    const ended = drainLoop(server);
    await raw.send(encodeFrame({ opcode: Op.TEXT, payload: Buffer.from('hi'), mask: false }));
    const error = await ended;
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.equal(error.closeCode, 1002);
    assert.ok(error.cause instanceof ProtocolError);
    assert.equal((error.cause as ProtocolError).code, 'DUPLEX_UNMASKED_FRAME');
    raw.destroy();
    await stop(wss);
  });

  it('ends normally after a clean close by the peer, with the messages before it', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    wss.on('connection', (server) => {
      server.send('last words');
      server.close(4000, 'bye');
    });
    const ws = new WebSocket(url);
    const seen: WebSocketData[] = [];
    const error = await withTimeout(
      (async () => {
        try {
          for await (const message of ws) seen.push(message);
        } catch (e) {
          return e;
        }
        return undefined;
      })(),
      'the loop',
    );
    assert.equal(error, undefined);
    assert.deepEqual(seen, ['last words']);
    await stop(wss);
  });

  it('a loop started after an abnormal close gets what was kept, then throws', {
    timeout: 10_000,
  }, async () => {
    const { wss, port } = await startServer();
    const accepted = nextConnection(wss);
    const raw = await connectRaw(port);
    const server = await accepted;
    await raw.send(encodeFrame({ opcode: Op.TEXT, payload: Buffer.from('kept'), mask: true }));
    raw.destroy();
    await nextEvent(server, 'close');
    const seen: WebSocketData[] = [];
    const error = await withTimeout(
      (async () => {
        try {
          for await (const message of server) seen.push(message);
        } catch (e) {
          return e;
        }
        return undefined;
      })(),
      'the loop',
    );
    assert.deepEqual(seen, ['kept']);
    assert.ok(error instanceof ConnectionClosedError);
    await stop(wss);
  });
});

describe('async iteration sees messages from the start (issue 8)', () => {
  it("the server's greeting reaches a client that awaits once(ws, 'open') before iterating", {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    wss.on('connection', (server) => {
      server.send('hello');
      server.send('world');
    });
    const ws = new WebSocket(url);
    await withTimeout(once(ws as unknown as EventTarget, 'open'), 'open');
    assert.deepEqual(await collect(ws, 2), ['hello', 'world']);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('an async connection listener that awaits before iterating gets the first message', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const got = new Promise<WebSocketData[]>((resolve, reject) => {
      wss.on('connection', async (server) => {
        await gate;
        collect(server, 2).then(resolve, reject);
      });
    });
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    ws.send('first');
    // The pong proves the server read 'first' before its loop began.
    await roundTrip(ws);
    release();
    ws.send('second');
    assert.deepEqual(await got, ['first', 'second']);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('keeps more than the loop queue holds without losing any (reading pauses meanwhile)', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    const count = 40;
    for (let i = 0; i < count; i++) ws.send(`m${i}`);
    const seen = await collect(server, count);
    assert.deepEqual(
      seen,
      Array.from({ length: count }, (_, i) => `m${i}`),
    );
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('a socket read by a message listener keeps nothing for a later loop', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    const heard: WebSocketData[] = [];
    server.addEventListener('message', (e) => heard.push(e.data));
    for (const m of ['a', 'b', 'c']) ws.send(m);
    await roundTrip(ws);
    assert.deepEqual(heard, ['a', 'b', 'c']);
    const later = collect(server, 1);
    ws.send('d');
    assert.deepEqual(await later, ['d']);
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('close() drops what was kept for a loop that never came, so the closing handshake completes', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    for (let i = 0; i < 40; i++) ws.send(`m${i}`);
    const closed = nextEvent<CloseEvent>(ws, 'close', TIMEOUT);
    server.close(1000, 'done');
    const close = await closed;
    assert.deepEqual([close.code, close.reason, close.wasClean], [1000, 'done', true]);
    await stop(wss);
  });
});
