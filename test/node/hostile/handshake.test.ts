/**
 * Hostile and broken opening handshakes (RFC 6455 4.2.1, 4.2.2, issue 2 "Handshake and bad
 * input"): each request gets an exact HTTP status and the connection is closed, and after
 * each one a good client completes an echo round-trip on the same server. The same table
 * runs against a `WebSocketServer` started in this process and against `duplex echo`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Answer, clientFrame, closeBody, goodRoundTrip, handshakeRequest, Peer, send1 } from './peer.js';
import { startEchoTarget, startServerTarget, type Target } from './targets.js';

/** Refusal is one request the server must refuse with `statusLine` (and `headers`, when given). */
interface Refusal {
  name: string;
  request: (port: number) => string | Buffer;
  statusLine: string | string[];
  headers?: Record<string, RegExp>;
}

const base64Of = (n: number) => Buffer.alloc(n, 0x5a).toString('base64');

const refusals: Refusal[] = [
  {
    name: 'POST instead of GET: 405 with Allow: GET',
    request: (port) => handshakeRequest(port, { method: 'POST' }),
    statusLine: 'HTTP/1.1 405 Method Not Allowed',
    headers: { allow: /^GET$/ },
  },
  {
    name: 'PUT instead of GET: 405 with Allow: GET',
    request: (port) => handshakeRequest(port, { method: 'PUT' }),
    statusLine: 'HTTP/1.1 405 Method Not Allowed',
    headers: { allow: /^GET$/ },
  },
  {
    name: 'HTTP/1.0 request: 505 (or 400)',
    request: (port) => handshakeRequest(port, { version: '1.0' }),
    statusLine: ['HTTP/1.1 505 HTTP Version Not Supported', 'HTTP/1.1 400 Bad Request'],
  },
  {
    name: 'Sec-WebSocket-Key absent: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': null } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Key empty: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': '' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Key not base64: 400',
    request: (port) =>
      handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': '@@@@not*base64@@@@@@@==' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Key decoding to 15 bytes: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': base64Of(15) } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Key decoding to 17 bytes: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Key': base64Of(17) } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Key sent twice: 400',
    request: (port) => handshakeRequest(port, { extra: [`Sec-WebSocket-Key: ${base64Of(16)}`] }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Version 8: 426 with Sec-WebSocket-Version: 13',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Version': '8' } }),
    statusLine: 'HTTP/1.1 426 Upgrade Required',
    headers: { 'sec-websocket-version': /^13$/ },
  },
  {
    name: 'Sec-WebSocket-Version 14: 426 with Sec-WebSocket-Version: 13',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Version': '14' } }),
    statusLine: 'HTTP/1.1 426 Upgrade Required',
    headers: { 'sec-websocket-version': /^13$/ },
  },
  {
    name: 'Sec-WebSocket-Version absent: 426 with Sec-WebSocket-Version: 13',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Version': null } }),
    statusLine: 'HTTP/1.1 426 Upgrade Required',
    headers: { 'sec-websocket-version': /^13$/ },
  },
  {
    name: 'Upgrade header absent (Connection: Upgrade present): 400',
    request: (port) => handshakeRequest(port, { headers: { Upgrade: null } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Upgrade: h2c instead of websocket: 400',
    request: (port) => handshakeRequest(port, { headers: { Upgrade: 'h2c' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Connection header absent (Upgrade: websocket present): 400',
    request: (port) => handshakeRequest(port, { headers: { Connection: null } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Connection: keep-alive without an Upgrade token: 400',
    request: (port) => handshakeRequest(port, { headers: { Connection: 'keep-alive' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Host absent: 400',
    request: (port) => handshakeRequest(port, { headers: { Host: null } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Protocol with a name that is not a token: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'chat, ch@t' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Protocol with a space inside a name: 400',
    request: (port) => handshakeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'chat room' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Protocol offering one name twice: 400',
    request: (port) =>
      handshakeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'chat, superchat, chat' } }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
  {
    name: 'Sec-WebSocket-Protocol offering one name twice in two header lines: 400',
    request: (port) =>
      handshakeRequest(port, {
        headers: { 'Sec-WebSocket-Protocol': 'chat' },
        extra: ['Sec-WebSocket-Protocol: chat'],
      }),
    statusLine: 'HTTP/1.1 400 Bad Request',
  },
];

/** Accepted is a request that looks unusual but is valid; the server must answer 101 and echo. */
const accepted: Array<{ name: string; headers: Record<string, string> }> = [
  { name: 'Connection: keep-alive, Upgrade', headers: { Connection: 'keep-alive, Upgrade' } },
  { name: 'Upgrade: WebSocket (case-insensitive value)', headers: { Upgrade: 'WebSocket' } },
  {
    name: 'lower-case header names and upper-case token values',
    headers: { upgrade: 'WEBSOCKET', connection: 'UPGRADE', 'sec-websocket-version': '13' },
  },
  {
    name: 'Connection: Upgrade, keep-alive (token not first)',
    headers: { Connection: 'Upgrade, keep-alive' },
  },
  { name: 'two valid subprotocols offered', headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } },
];

function describeAnswer(answer: Answer): string {
  return (
    answer.head?.raw ?? `no response head; got ${JSON.stringify(answer.raw.toString('latin1').slice(0, 200))}`
  );
}

/** assertRefused checks the exact status line, the required headers, and that the server ended TCP. */
function assertRefused(answer: Answer, statusLine: string | string[], headers: Record<string, RegExp> = {}) {
  const allowed = Array.isArray(statusLine) ? statusLine : [statusLine];
  assert.ok(answer.head !== undefined, `expected ${allowed.join(' or ')}, ${describeAnswer(answer)}`);
  assert.ok(
    allowed.includes(answer.head.statusLine),
    `expected ${allowed.join(' or ')}, got:\n${answer.head.raw}`,
  );
  for (const [name, pattern] of Object.entries(headers)) {
    assert.match(answer.head.headers[name] ?? '(absent)', pattern, `header ${name} in:\n${answer.head.raw}`);
  }
  assert.ok(answer.closed, `the server kept TCP open after refusing with ${answer.head.statusLine}`);
}

/** upgradeAndEcho sends a request that must be accepted, then echoes one message on that connection. */
async function upgradeAndEcho(port: number, headers: Record<string, string>): Promise<void> {
  const peer = await Peer.connect(port);
  try {
    await peer.write(handshakeRequest(port, { headers }));
    const head = await peer.readHead();
    assert.equal(head?.statusLine, 'HTTP/1.1 101 Switching Protocols', head?.raw ?? 'no response head');
    await peer.write(clientFrame(0x1, 'accepted'));
    const echo = await peer.readFrame();
    assert.equal(echo.opcode, 0x1);
    assert.equal(echo.payload.toString(), 'accepted');
    await peer.write(clientFrame(0x8, closeBody(1000)));
    assert.equal((await peer.readClose()).code, 1000);
  } finally {
    peer.destroy();
  }
}

function handshakeSuite(name: string, start: () => Promise<Target>): void {
  describe(name, { timeout: 120_000 }, () => {
    let target: Target;
    before(async () => {
      target = await start();
    });
    after(async () => {
      await target?.stop();
    });

    describe('RFC 6455 4.2.1: refused opening handshakes', () => {
      for (const r of refusals) {
        test(r.name, async () => {
          const answer = await send1(target.port, r.request(target.port));
          assertRefused(answer, r.statusLine, r.headers);
          await goodRoundTrip(target.port);
        });
      }
    });

    describe('RFC 6455 4.2.1: valid handshakes written unusually are accepted', () => {
      for (const a of accepted) {
        test(`${a.name}: 101`, async () => {
          await upgradeAndEcho(target.port, a.headers);
          await goodRoundTrip(target.port);
        });
      }
    });

    describe('not a WebSocket handshake at all', () => {
      test('a plain GET without Upgrade: 426 Upgrade Required', async () => {
        const answer = await send1(
          target.port,
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n\r\n`,
          500,
        );
        assert.equal(answer.head?.statusLine, 'HTTP/1.1 426 Upgrade Required', describeAnswer(answer));
        await goodRoundTrip(target.port);
      });

      test('a header block over the limit (one 100 KiB header): 431 or closed, never 101', async () => {
        const request = handshakeRequest(target.port, { extra: [`X-Padding: ${'a'.repeat(100 * 1024)}`] });
        const answer = await send1(target.port, request);
        if (answer.head !== undefined) {
          assert.equal(
            answer.head.statusLine,
            'HTTP/1.1 431 Request Header Fields Too Large',
            answer.head.raw,
          );
        } else {
          assert.equal(answer.raw.length, 0, `unexpected bytes: ${answer.raw.toString('latin1')}`);
        }
        assert.ok(answer.closed, 'the server kept TCP open after an oversized header block');
        await goodRoundTrip(target.port);
      });

      test('garbage bytes instead of HTTP: 400 or closed', async () => {
        const garbage = Buffer.concat([
          Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x01]),
          Buffer.from('\r\n\r\n\r\n'),
        ]);
        const answer = await send1(target.port, garbage);
        if (answer.head !== undefined) {
          assert.equal(answer.head.statusLine, 'HTTP/1.1 400 Bad Request', answer.head.raw);
        } else {
          assert.equal(answer.raw.length, 0, `unexpected bytes: ${answer.raw.toString('latin1')}`);
        }
        assert.ok(answer.closed, 'the server kept TCP open after garbage');
        await goodRoundTrip(target.port);
      });

      test('a request line that is not HTTP: 400 or closed', async () => {
        const answer = await send1(target.port, 'HELLO WORLD\r\n\r\n');
        if (answer.head !== undefined) {
          assert.equal(answer.head.statusLine, 'HTTP/1.1 400 Bad Request', answer.head.raw);
        } else {
          assert.equal(answer.raw.length, 0, `unexpected bytes: ${answer.raw.toString('latin1')}`);
        }
        assert.ok(answer.closed, 'the server kept TCP open after a request that is not HTTP');
        await goodRoundTrip(target.port);
      });

      test('a TLS ClientHello on the plain ws port: 400 or closed, no crash', async () => {
        const answer = await send1(target.port, await captureClientHello());
        if (answer.head !== undefined) {
          assert.equal(answer.head.statusLine, 'HTTP/1.1 400 Bad Request', answer.head.raw);
        } else {
          assert.equal(answer.raw.length, 0, `unexpected bytes: ${answer.raw.toString('hex')}`);
        }
        assert.ok(answer.closed, 'the server kept TCP open after a TLS ClientHello');
        await goodRoundTrip(target.port);
      });
    });
  });
}

/** captureClientHello records the first flight of a real node:tls client (a TLS ClientHello record). */
async function captureClientHello(): Promise<Buffer> {
  const net = await import('node:net');
  const tls = await import('node:tls');
  return new Promise<Buffer>((resolve, reject) => {
    const sink = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        sink.close();
        resolve(chunk);
      });
    });
    const timer = setTimeout(() => {
      sink.close();
      reject(new Error('no ClientHello captured'));
    }, 5_000);
    sink.listen(0, '127.0.0.1', () => {
      const { port } = sink.address() as { port: number };
      const client = tls.connect({
        port,
        host: '127.0.0.1',
        servername: 'localhost',
        rejectUnauthorized: false,
      });
      client.on('error', () => {});
      client.on('close', () => clearTimeout(timer));
    });
  }).then((hello) => {
    assert.equal(hello[0], 0x16, 'captured bytes are not a TLS handshake record');
    return hello;
  });
}

handshakeSuite('WebSocketServer (in process)', () => startServerTarget());
handshakeSuite('duplex echo (child process)', () => startEchoTarget());
