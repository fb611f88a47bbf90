/**
 * The load generator bench/load.ts against a real Duplex server, over TCP and over TLS: after
 * the handshake its connections drive their handle (the TCP handle, or the TLSSocket's
 * TLSWrap: src/cli/bench-handle.ts), every echo is counted and checked byte for byte, and an
 * echo that differs is reported as a mismatch. DUPLEX_STREAM_IO=1 keeps the sockets. Small
 * bounded runs; no timing is asserted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, createServer as createTcp, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'duplexjs';
import { buildBench } from '../helpers/bench.js';
import { makeSelfSignedCert } from '../helpers/tls.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface LoadResult {
  io: string;
  connections: number;
  messages: number;
  msgs_per_s: number;
  errors: number;
  error_detail: Record<string, number>;
}

/** EchoServer is a Duplex server that answers every message with `reply(data)`, counting them. */
interface EchoServer {
  port: number;
  received: number;
  close(): Promise<void>;
}

async function echoServer(tls: boolean, reply: (data: string) => string = (d) => d): Promise<EchoServer> {
  let server: Server;
  if (tls) {
    const { cert, key } = await makeSelfSignedCert();
    server = createHttps({ cert, key });
  } else server = createHttp();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, dangerouslyAllowAnyOrigin: true });
  const out: EchoServer = {
    port: 0,
    received: 0,
    close: async () => {
      for (const client of wss.clients) client.close(1001);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  wss.on('connection', (ws) => {
    ws.addEventListener('message', (event) => {
      out.received++;
      ws.send(reply(event.data as string));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  out.port = (server.address() as AddressInfo).port;
  return out;
}

/** runLoad runs build/bench/load.js to completion (killed after 60 s) and parses its JSON line. */
async function runLoad(args: string[], env: NodeJS.ProcessEnv = {}): Promise<LoadResult> {
  const child = spawn(process.execPath, [path.join(root, 'build', 'bench', 'load.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  assert.equal(code, 0, stderr);
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as LoadResult;
}

const RUN = ['-c', '6', '--threads', '2', '-s', '32', '-d', '0.4', '-w', '0.2'];

describe('bench/load.ts', () => {
  before(() => buildBench());

  for (const tls of [false, true]) {
    const over = tls ? 'TLS' : 'TCP';
    const extra = tls ? ['--tls'] : [];

    describe(`echo over ${over}`, () => {
      let server: EchoServer;
      before(async () => {
        server = await echoServer(tls);
      });
      after(() => server.close());

      it('drives the handle, counts every echo and checks it', { timeout: 90_000 }, async () => {
        const r = await runLoad(['--port', String(server.port), ...RUN, ...extra]);
        assert.equal(r.io, 'handle');
        assert.equal(r.connections, 6);
        assert.equal(r.errors, 0, JSON.stringify(r.error_detail));
        assert.ok(r.messages > 0, 'no echo counted');
        // The server saw every message counted (and those of the warm-up and the last turn).
        assert.ok(server.received >= r.messages, `${server.received} received, ${r.messages} counted`);
      });

      it('keeps the sockets under DUPLEX_STREAM_IO=1', { timeout: 90_000 }, async () => {
        const r = await runLoad(['--port', String(server.port), ...RUN, ...extra], { DUPLEX_STREAM_IO: '1' });
        assert.equal(r.io, 'stream');
        assert.equal(r.errors, 0, JSON.stringify(r.error_detail));
        assert.ok(r.messages > 0, 'no echo counted');
      });

      it('binary messages and the idle mode still work', { timeout: 90_000 }, async () => {
        const binary = await runLoad([
          '--port',
          String(server.port),
          ...RUN,
          '-s',
          '20000',
          '--binary',
          ...extra,
        ]);
        assert.equal(binary.io, 'handle');
        assert.equal(binary.errors, 0, JSON.stringify(binary.error_detail));
        assert.ok(binary.messages > 0);
        const idle = await runLoad([
          '--port',
          String(server.port),
          '-c',
          '5',
          '--idle',
          '--hold',
          '0.3',
          ...extra,
        ]);
        assert.equal(idle.errors, 0);
        assert.equal(idle.connections, 5);
      });
    });

    if (!tls) {
      it('the --raw floor mode drives the handle too (adopted in its connect event)', {
        timeout: 90_000,
      }, async () => {
        // The raw floor: bytes sent back as they come, no WebSocket at all.
        const sockets = new Set<Socket>();
        const server = createTcp((socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
          socket.pipe(socket);
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        try {
          const port = (server.address() as AddressInfo).port;
          const r = await runLoad(['--port', String(port), ...RUN, '--raw']);
          assert.equal(r.io, 'handle');
          assert.equal(r.errors, 0, JSON.stringify(r.error_detail));
          assert.ok(r.messages > 0, 'no echo counted');
        } finally {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });
    }

    it(`reports an echo that differs from what was sent as a mismatch (${over})`, {
      timeout: 90_000,
    }, async () => {
      // Same length and type, one byte changed: only the byte-for-byte check sees it.
      const server = await echoServer(tls, (d) => `${d.slice(0, -1)}!`);
      try {
        const r = await runLoad(['--port', String(server.port), ...RUN, ...extra]);
        assert.equal(r.io, 'handle');
        assert.equal(r.error_detail['mismatch'], 6, JSON.stringify(r.error_detail));
        assert.equal(r.messages, 0);
      } finally {
        await server.close();
      }
    });
  }
});
