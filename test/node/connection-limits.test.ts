/**
 * Connection-level limits of WebSocketServer (issue 13, item 3): a cap on open connections
 * (503), a cap per client address (429) and a handshake rate per address (429), each with
 * Retry-After, over real loopback sockets. Linux routes all of 127.0.0.0/8 to loopback, so a
 * raw client bound to 127.0.0.2 is a second client address.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { type HandshakeError, WebSocket, type WebSocketServer } from 'duplexjs';
import { FakeClock } from '../helpers/fake-clock.js';
import { nextEmit, nextEvent, sleep, startServer, stop, withTimeout } from './util.js';

// addressKey is internal (src/node/connection-limits.ts): its unit test loads it from the build.
type LimitsModule = typeof import('../../dist/node/connection-limits.js');
const { addressKey } = (await import(
  new URL('../../../dist/node/connection-limits.js', import.meta.url).href
)) as LimitsModule;

interface Answer {
  status: number;
  headers: Record<string, string>;
  socket: net.Socket;
}

/** upgrade opens a raw TCP connection from `localAddress`, sends a handshake and reads the answer's head. */
function upgrade(port: number, localAddress = '127.0.0.1'): Promise<Answer> {
  return withTimeout(
    new Promise<Answer>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      socket.on('error', reject);
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      let got = '';
      socket.on('data', (chunk: Buffer) => {
        got += chunk.toString('latin1');
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.removeAllListeners('data');
        const [statusLine = '', ...lines] = got.slice(0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve({ status: Number(statusLine.split(' ')[1]), headers, socket });
      });
    }),
    'a handshake answer',
  );
}

/** closed resolves once the server saw `count` connections close. */
async function settle(wss: WebSocketServer): Promise<void> {
  for (let i = 0; i < 100 && wss.clients.size > 0; i++) await sleep(10);
}

describe('WebSocketServer connection limits (issue 13)', () => {
  it('maxConnections refuses with 503 and Retry-After, and a closed connection frees its place', async () => {
    const { wss, port, url } = await startServer({ maxConnections: 2 });
    const a = await upgrade(port);
    const b = await upgrade(port, '127.0.0.2');
    assert.equal(a.status, 101);
    assert.equal(b.status, 101);
    const refused = await upgrade(port, '127.0.0.3');
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After in seconds');
    refused.socket.destroy();
    // The Duplex client sees the refusal as a coded error with the status and headers.
    const ws = new WebSocket(url);
    const error = (await nextEvent<ErrorEvent>(ws, 'error')).error as HandshakeError & {
      status: number;
      responseHeaders: Record<string, string>;
    };
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS');
    assert.equal(error.status, 503);
    assert.ok(error.responseHeaders['retry-after']);
    a.socket.destroy();
    await settle(wss);
    for (let i = 0; i < 50 && wss.clients.size > 1; i++) await sleep(10);
    const again = await upgrade(port);
    assert.equal(again.status, 101, 'the place of a closed connection is free again');
    again.socket.destroy();
    b.socket.destroy();
    await stop(wss);
  });

  it('maxConnectionsPerAddress refuses a second connection from one address with 429, not from another', async () => {
    const { wss, port } = await startServer({ maxConnectionsPerAddress: 1 });
    const first = await upgrade(port, '127.0.0.1');
    assert.equal(first.status, 101);
    const second = await upgrade(port, '127.0.0.1');
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers['retry-after']) >= 1);
    const other = await upgrade(port, '127.0.0.2');
    assert.equal(other.status, 101, 'another address has its own count');
    for (const s of [first, second, other]) s.socket.destroy();
    await stop(wss);
  });

  it('handshakeRate is a token bucket per address: burst, then 429 with Retry-After, refilled over time', async () => {
    const clock = new FakeClock();
    const { wss, port } = await startServer({ handshakeRate: { perSecond: 1, burst: 2 }, clock });
    const answers = [await upgrade(port), await upgrade(port), await upgrade(port)];
    assert.deepEqual(
      answers.map((a) => a.status),
      [101, 101, 429],
    );
    assert.equal(answers[2]!.headers['retry-after'], '1');
    assert.equal((await upgrade(port, '127.0.0.2')).status, 101, 'another address has its own bucket');
    clock.advance(1_000);
    const later = await upgrade(port);
    assert.equal(later.status, 101, 'one token back after a second');
    for (const a of [...answers, later]) a.socket.destroy();
    const closing = stop(wss);
    // The refusals' sockets are destroyed by the fake clock's timers.
    for (let i = 0; i < 20; i++) {
      clock.advance(10_000);
      await sleep(10);
    }
    await closing;
  });

  it('a refused or failed handshake gives its place back', async () => {
    let refuse = true;
    const { wss, port } = await startServer({ maxConnections: 1, authenticate: () => !refuse });
    const refused = await upgrade(port);
    assert.equal(refused.status, 401);
    refused.socket.destroy();
    await sleep(50);
    refuse = false;
    const ok = await upgrade(port);
    assert.equal(ok.status, 101);
    ok.socket.destroy();
    await stop(wss);
  });

  it('with a wsClientError listener, the refusal is handed over as a coded HandshakeError', async () => {
    const { wss, port } = await startServer({ maxConnectionsPerAddress: 1 });
    const first = await upgrade(port);
    const reported = nextEmit<[HandshakeError, net.Socket]>(wss, 'wsClientError');
    const pending = upgrade(port);
    const [error, socket] = await reported;
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS_PER_ADDRESS');
    assert.equal(error.status, 429);
    assert.ok(error.headers['Retry-After']);
    socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n');
    const answer = await pending;
    assert.equal(answer.headers['retry-after'], '7');
    first.socket.destroy();
    answer.socket.destroy();
    await stop(wss);
  });

  it('checks the options', async () => {
    const { WebSocketServer } = await import('duplexjs');
    // Misuse is DUPLEX_INVALID_OPTION naming the option, as for every other option.
    const invalid = (option: string) => ({
      name: 'InvalidArgumentError',
      code: 'DUPLEX_INVALID_OPTION',
      option,
    });
    assert.throws(
      () => new WebSocketServer({ noServer: true, maxConnections: 0 }),
      invalid('maxConnections'),
    );
    assert.throws(
      () => new WebSocketServer({ noServer: true, maxConnectionsPerAddress: 1.5 }),
      invalid('maxConnectionsPerAddress'),
    );
    assert.throws(
      () => new WebSocketServer({ noServer: true, handshakeRate: { perSecond: -1, burst: 1 } }),
      invalid('handshakeRate.perSecond'),
    );
    assert.throws(
      () => new WebSocketServer({ noServer: true, handshakeRate: { perSecond: 1, burst: 0 } }),
      invalid('handshakeRate.burst'),
    );
    new WebSocketServer({ noServer: true, maxConnections: Number.POSITIVE_INFINITY }).close();
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 addresses by their /64', () => {
    assert.equal(addressKey('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(addressKey('10.0.0.1'), '10.0.0.1');
    assert.equal(addressKey('2001:db8:0:1::5'), addressKey('2001:0db8:0000:0001:ffff:1:2:3'));
    assert.notEqual(addressKey('2001:db8:0:1::5'), addressKey('2001:db8:0:2::5'));
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
  });
});
