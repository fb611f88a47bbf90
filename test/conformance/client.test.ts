/**
 * RFC 6455 from the client's side: a raw fake server (test/helpers/fake-server.ts) answers
 * the Duplex `WebSocket` client's handshake by hand and sends it exact bytes; the test reads
 * the exact frames the client sends back.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { WebSocket } from 'duplexjs';
import {
  type FakeConnection,
  type FakeServer,
  goodResponse,
  startFakeServer,
} from '../helpers/fake-server.js';
import {
  closePayload,
  computeAccept,
  describeFrame,
  encodeFrame,
  encodeFrames,
  type Frame,
  Op,
  serverFrame,
} from '../helpers/raw-client.js';
import { hex, READ_MS, TEST } from './support.js';

interface ClientRecord {
  ws: WebSocket;
  /** Event names in the order they fired. */
  events: string[];
  messages: unknown[];
  /** Resolves to the close event (rejects at the deadline). */
  closed: (timeoutMs?: number) => Promise<{ code: number; reason: string; wasClean: boolean }>;
  /** Resolves at 'open' (rejects on 'close' first or at the deadline). */
  opened: (timeoutMs?: number) => Promise<void>;
  /** Resolves to the next message's data as a Buffer (text as its UTF-8 bytes). */
  nextMessage: (timeoutMs?: number) => Promise<{ text: boolean; data: Buffer }>;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

async function dataBytes(data: unknown): Promise<{ text: boolean; data: Buffer }> {
  if (typeof data === 'string') return { text: true, data: Buffer.from(data, 'utf8') };
  if (data instanceof ArrayBuffer) return { text: false, data: Buffer.from(new Uint8Array(data)) };
  if (ArrayBuffer.isView(data))
    return { text: false, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return { text: false, data: Buffer.from(await data.arrayBuffer()) };
  }
  throw new Error(`unexpected message data ${String(data)}`);
}

const clients: ClientRecord[] = [];
const servers: FakeServer[] = [];

function openClient(url: string, protocols?: string[]): ClientRecord {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const events: string[] = [];
  const messages: unknown[] = [];
  let onMessage: (() => void) | undefined;
  let closeEvent: { code: number; reason: string; wasClean: boolean } | undefined;
  const closedP = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.addEventListener('close', (e) => {
      const ev = e as unknown as { code: number; reason: string; wasClean: boolean };
      closeEvent = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
      events.push('close');
      resolve(closeEvent);
      onMessage?.();
    });
  });
  const openedP = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => {
      events.push('open');
      resolve();
    });
    void closedP.then((c) =>
      reject(new Error(`closed (${c.code}) before open; events: ${events.join(', ')}`)),
    );
  });
  openedP.catch(() => {});
  ws.addEventListener('error', () => {
    events.push('error');
  });
  ws.addEventListener('message', (e) => {
    events.push('message');
    messages.push((e as unknown as { data: unknown }).data);
    onMessage?.();
  });
  const rec: ClientRecord = {
    ws,
    events,
    messages,
    closed: (ms = READ_MS) => within(closedP, ms, 'the client close event'),
    opened: (ms = READ_MS) => within(openedP, ms, 'the client open event'),
    nextMessage: async (ms = READ_MS) => {
      const deadline = Date.now() + ms;
      while (messages.length === 0) {
        if (closeEvent !== undefined) throw new Error(`client closed (${closeEvent.code}) with no message`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no message within ${ms} ms; events: ${events.join(', ')}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          onMessage = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return dataBytes(messages.shift());
    },
  };
  clients.push(rec);
  return rec;
}

async function fake(options?: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const s = await startFakeServer(options);
  servers.push(s);
  return s;
}

/** connected starts a fake server and a client, and waits until both sides are open. */
async function connected(protocols?: string[]): Promise<{ client: ClientRecord; conn: FakeConnection }> {
  const server = await fake();
  const client = openClient(server.url, protocols);
  const conn = await server.accept(READ_MS);
  await client.opened();
  return { client, conn };
}

afterEach(async () => {
  for (const c of clients.splice(0)) {
    try {
      c.ws.close();
    } catch {
      // already closing
    }
  }
  for (const s of servers.splice(0)) await s.close();
});

/** expectClientFrame asserts a frame from the client: masked (RFC 6455 5.1), FIN, and its opcode and payload. */
function expectClientFrame(frame: Frame, opcode: number, payload: Buffer | string, what: string): void {
  // RFC 6455 5.1: "a client MUST mask all frames that it sends to the server".
  assert.equal(frame.masked, true, `${what}: client frame not masked: ${describeFrame(frame)}`);
  assert.equal(frame.fin, true, `${what}: ${describeFrame(frame)}`);
  assert.equal(frame.rsv, 0, `${what}: ${describeFrame(frame)}`);
  assert.equal(frame.opcode, opcode, `${what}: ${describeFrame(frame)}`);
  assert.deepEqual(frame.payload, Buffer.from(payload), `${what}: payload of ${describeFrame(frame)}`);
}

/**
 * expectClientFailure reads the client's close frame, checks its code, then lets the fake
 * server close TCP and checks that the client reports the close.
 */
async function expectClientFailure(client: ClientRecord, conn: FakeConnection, code: number, what: string) {
  const res = await conn.readClose(READ_MS);
  assert.deepEqual(res.before.map(describeFrame), [], `${what}: frames before the close frame`);
  assert.equal(res.frame.masked, true, `${what}: the client's close frame is not masked`);
  assert.equal(res.code, code, `${what}: expected close ${code}, got ${res.code} ${res.reason.toString()}`);
  conn.end();
  const ev = await client.closed();
  assert.ok(ev.code === code || ev.code === 1006, `${what}: close event code ${ev.code}`);
  assert.deepEqual(client.messages, [], `${what}: messages were delivered`);
}

describe('RFC 6455 4.1 the client opening handshake', () => {
  test('the request has the required fields and the client opens', TEST, async () => {
    const server = await fake();
    const client = openClient(server.url + 'path?x=1');
    const conn = await server.accept(READ_MS);
    await client.opened();
    const req = conn.request;
    // RFC 6455 4.1: "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
    assert.equal(req.method, 'GET');
    assert.match(req.head.startLine, /^GET \/path\?x=1 HTTP\/1\.1$/);
    assert.equal(req.headers['upgrade']?.toLowerCase(), 'websocket');
    assert.match(req.headers['connection'] ?? '', /upgrade/i);
    assert.equal(req.headers['sec-websocket-version'], '13');
    // RFC 6455 4.1: "The value of this header field MUST be a nonce consisting of a randomly
    // selected 16-byte value that has been base64-encoded".
    assert.equal(Buffer.from(req.key, 'base64').length, 16);
    assert.equal(Buffer.from(req.key, 'base64').toString('base64'), req.key);
    assert.equal(client.ws.readyState, 1);
  });

  test('a subprotocol chosen from the offer is accepted', TEST, async () => {
    const server = await fake({ respond: (req) => goodResponse(req, ['Sec-WebSocket-Protocol: chat']) });
    const client = openClient(server.url, ['superchat', 'chat']);
    const conn = await server.accept(READ_MS);
    assert.deepEqual(conn.request.protocols, ['superchat', 'chat']);
    await client.opened();
    assert.equal(client.ws.protocol, 'chat');
  });

  const bad: Array<{
    name: string;
    protocols?: string[];
    respond: (req: { key: string }) => string;
    rule: string;
  }> = [
    {
      name: 'a wrong Sec-WebSocket-Accept',
      rule: '"If the response lacks a |Sec-WebSocket-Accept| header field or the |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of ... the client MUST _Fail the WebSocket Connection_."',
      respond: (req) =>
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${computeAccept(req.key + 'x')}`,
          '',
          '',
        ].join('\r\n'),
    },
    {
      name: 'a missing Sec-WebSocket-Accept',
      rule: '"If the response lacks a |Sec-WebSocket-Accept| header field ... the client MUST _Fail the WebSocket Connection_."',
      respond: () =>
        ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', '', ''].join(
          '\r\n',
        ),
    },
    {
      name: 'status 200',
      rule: '"If the status code received from the server is not 101, the client handles the response per HTTP [RFC2616] procedures."',
      respond: () =>
        [
          'HTTP/1.1 200 OK',
          'Content-Type: text/plain',
          'Content-Length: 5',
          'Connection: close',
          '',
          'hello',
        ].join('\r\n'),
    },
    {
      name: 'a missing Upgrade header',
      rule: '"If the response lacks an |Upgrade| header field or the |Upgrade| header field contains a value that is not an ASCII case-insensitive match for the value "websocket", the client MUST _Fail the WebSocket Connection_."',
      respond: (req) =>
        [
          'HTTP/1.1 101 Switching Protocols',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${computeAccept(req.key)}`,
          '',
          '',
        ].join('\r\n'),
    },
    {
      name: 'an Upgrade header that is not websocket',
      rule: '"... contains a value that is not an ASCII case-insensitive match for the value "websocket", the client MUST _Fail the WebSocket Connection_."',
      respond: (req) =>
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: h2c',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${computeAccept(req.key)}`,
          '',
          '',
        ].join('\r\n'),
    },
    {
      name: 'a subprotocol that was not offered',
      protocols: ['chat'],
      rule: '"If the response includes a |Sec-WebSocket-Protocol| header field and this header field indicates the use of a subprotocol that was not present in the client\'s handshake ..., the client MUST _Fail the WebSocket Connection_."',
      respond: (req) =>
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${computeAccept(req.key)}`,
          'Sec-WebSocket-Protocol: superchat',
          '',
          '',
        ].join('\r\n'),
    },
    {
      name: 'a subprotocol when none was offered',
      rule: "the same rule: no subprotocol was present in the client's handshake",
      respond: (req) =>
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${computeAccept(req.key)}`,
          'Sec-WebSocket-Protocol: chat',
          '',
          '',
        ].join('\r\n'),
    },
  ];
  for (const b of bad) {
    test(`${b.name}: error, close 1006, no open`, TEST, async () => {
      // RFC 6455 4.1: the rule quoted in `b.rule` above.
      const server = await fake({ respond: b.respond });
      const client = openClient(server.url, b.protocols);
      await server.accept(READ_MS);
      const ev = await client.closed();
      assert.equal(
        ev.code,
        1006,
        `close code (events: ${client.events.join(', ')}); RFC 6455 4.1: ${b.rule}`,
      );
      assert.equal(ev.wasClean, false);
      assert.ok(client.events.includes('error'), `no error event; events: ${client.events.join(', ')}`);
      assert.ok(!client.events.includes('open'), `open fired; events: ${client.events.join(', ')}`);
      assert.ok(
        client.events.indexOf('error') < client.events.indexOf('close'),
        'error must come before close',
      );
      assert.equal(client.ws.readyState, 3);
    });
  }
});

describe('RFC 6455 5.3 client frames are masked with a fresh key per frame', () => {
  test('three identical messages have three different masking keys', TEST, async () => {
    const { client, conn } = await connected();
    client.ws.send('same');
    client.ws.send('same');
    client.ws.send('same');
    const frames = await conn.readFrames(3, READ_MS);
    // RFC 6455 5.3: "The masking key is a 32-bit value chosen at random by the client. When
    // sending a frame, the client MUST pick a fresh masking key from the set of allowed 32-bit values."
    for (const f of frames) expectClientFrame(f, Op.TEXT, 'same', 'text frame');
    const keys = frames.map((f) => f.maskKey!.toString('hex'));
    assert.equal(new Set(keys).size, 3, `masking keys repeat: ${keys.join(' ')}`);
  });

  test('binary, empty and large messages are masked', TEST, async () => {
    const { client, conn } = await connected();
    const big = Buffer.alloc(70_000, 0x42);
    client.ws.send(Buffer.from([1, 2, 3]));
    client.ws.send('');
    client.ws.send(big);
    const [a, b, c] = await conn.readFrames(3, READ_MS);
    expectClientFrame(a!, Op.BINARY, Buffer.from([1, 2, 3]), 'binary');
    expectClientFrame(b!, Op.TEXT, '', 'empty text');
    expectClientFrame(c!, Op.BINARY, big, 'large binary');
    assert.equal(c!.lengthBits, 64, 'a 70,000-byte payload uses the 64-bit length');
  });
});

describe('RFC 6455 5.5.2 the client answers a ping with a pong of the same payload', () => {
  for (const payload of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(125, 0xab)]) {
    test(`a ${payload.length}-byte ping`, TEST, async () => {
      const { conn } = await connected();
      // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response"
      await conn.send(serverFrame(Op.PING, payload));
      expectClientFrame(await conn.readFrame(READ_MS), Op.PONG, payload, 'pong');
    });
  }
});

describe('RFC 6455 5.4 the client reassembles fragmented messages', () => {
  test('a text message in three fragments with a ping between them', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(
      Buffer.concat([
        serverFrame(Op.TEXT, 'Hel', false),
        serverFrame(Op.PING, 'between'),
        serverFrame(Op.CONTINUATION, 'lo, κό', false),
        serverFrame(Op.CONTINUATION, 'σμε'),
      ]),
    );
    expectClientFrame(await conn.readFrame(READ_MS), Op.PONG, 'between', 'pong between fragments');
    const m = await client.nextMessage();
    assert.equal(m.text, true);
    assert.equal(m.data.toString(), 'Hello, κόσμε');
  });

  test('a binary message in 1,000 fragments', TEST, async () => {
    const { client, conn } = await connected();
    const parts = Array.from({ length: 1000 }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    await conn.send(
      Buffer.concat(parts.map((p, i) => serverFrame(i === 0 ? Op.BINARY : Op.CONTINUATION, p, i === 999))),
    );
    const m = await client.nextMessage();
    assert.equal(m.text, false);
    assert.deepEqual(m.data, Buffer.concat(parts));
  });

  test('a UTF-8 character split across fragments', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(
      Buffer.concat([serverFrame(Op.TEXT, hex('f0 9f'), false), serverFrame(Op.CONTINUATION, hex('98 80'))]),
    );
    const m = await client.nextMessage();
    assert.equal(m.data.toString(), '😀');
  });
});

describe('RFC 6455 5.1-5.2 the client fails the connection on bad frames', () => {
  test('a masked server frame: close 1002', TEST, async () => {
    const { client, conn } = await connected();
    // RFC 6455 5.1: "A client MUST close a connection if it detects a masked frame. In this
    // case, it MAY use the status code 1002 (protocol error) as defined in Section 7.4.1."
    await conn.send(encodeFrame({ opcode: Op.TEXT, payload: 'masked', mask: true }));
    await expectClientFailure(client, conn, 1002, 'masked server frame');
  });

  for (const [name, bit] of [
    ['RSV1', 0x40],
    ['RSV2', 0x20],
    ['RSV3', 0x10],
  ] as const) {
    test(`${name} set without an extension: close 1002`, TEST, async () => {
      const { client, conn } = await connected();
      // RFC 6455 5.2: "If a nonzero value is received and none of the negotiated extensions
      // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
      // WebSocket Connection_."
      await conn.send(encodeFrame({ opcode: Op.TEXT, payload: 'rsv', rsv: bit, mask: false }));
      await expectClientFailure(client, conn, 1002, name);
    });
  }

  test('a reserved opcode: close 1002', TEST, async () => {
    const { client, conn } = await connected();
    // RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
    await conn.send(encodeFrame({ opcode: 0x3, payload: 'x', mask: false }));
    await expectClientFailure(client, conn, 1002, 'opcode 0x3');
  });

  test('invalid UTF-8 in a text message: close 1007', TEST, async () => {
    const { client, conn } = await connected();
    // RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
    // byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_."
    await conn.send(serverFrame(Op.TEXT, hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')));
    await expectClientFailure(client, conn, 1007, 'invalid UTF-8');
  });

  test('invalid UTF-8 split across fragments: close 1007', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(
      Buffer.concat([serverFrame(Op.TEXT, hex('61 ed'), false), serverFrame(Op.CONTINUATION, hex('a0 80'))]),
    );
    await expectClientFailure(client, conn, 1007, 'invalid UTF-8 across fragments');
  });

  test('a continuation without a start: close 1002', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(serverFrame(Op.CONTINUATION, 'orphan'));
    await expectClientFailure(client, conn, 1002, 'orphan continuation');
  });

  const noMask = { mask: false } as const;
  const bad: Array<[name: string, bytes: Buffer, code: number]> = [
    // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length" (Duplex: 1002).
    [
      'a length not in its shortest form',
      encodeFrame({ opcode: Op.TEXT, payload: 'abc', lengthBits: 16, ...noMask }),
      1002,
    ],
    // RFC 6455 5.2: "the most significant bit MUST be 0".
    [
      'a 64-bit length with the most significant bit set',
      encodeFrame({ opcode: Op.BINARY, lengthBits: 64, declaredLength: 2n ** 63n + 1n, ...noMask }),
      1002,
    ],
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
    ['a 126-byte ping', encodeFrame({ opcode: Op.PING, payload: Buffer.alloc(126), ...noMask }), 1002],
    ['a ping with FIN clear', encodeFrame({ opcode: Op.PING, payload: 'p', fin: false, ...noMask }), 1002],
    // RFC 6455 5.4: fragments of one message "MUST NOT be interleaved" with another.
    [
      'a new message inside a fragmented one',
      encodeFrames([
        { opcode: Op.TEXT, payload: 'a', fin: false, ...noMask },
        { opcode: Op.TEXT, payload: 'b', ...noMask },
      ]),
      1002,
    ],
    // RFC 6455 7.4: codes outside the defined ranges; 5.5.1: a body starts with a 2-byte code.
    [
      'a close with code 1005',
      encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1005), ...noMask }),
      1002,
    ],
    ['a close with code 999', encodeFrame({ opcode: Op.CLOSE, payload: closePayload(999), ...noMask }), 1002],
    ['a 1-byte close payload', encodeFrame({ opcode: Op.CLOSE, payload: hex('03'), ...noMask }), 1002],
    // RFC 6455 8.1 applies to the close reason too.
    [
      'a close reason that is not UTF-8',
      encodeFrame({ opcode: Op.CLOSE, payload: closePayload(1000, hex('c0 80')), ...noMask }),
      1007,
    ],
    // RFC 6455 7.4.1: "1009 indicates that an endpoint is terminating the connection because it
    // has received a message that is too big for it to process." The client's default maxPayload is 16 MiB.
    [
      'a frame header declaring 16 MiB + 1 bytes',
      encodeFrame({
        opcode: Op.BINARY,
        payload: Buffer.alloc(16),
        declaredLength: 16 * 1024 * 1024 + 1,
        ...noMask,
      }),
      1009,
    ],
  ];
  for (const [name, bytes, code] of bad) {
    test(`${name}: close ${code}`, TEST, async () => {
      const { client, conn } = await connected();
      await conn.send(bytes);
      await expectClientFailure(client, conn, code, name);
    });
  }

  test('a message before a bad frame in the same write is delivered, then close 1002', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(
      Buffer.concat([serverFrame(Op.TEXT, 'first'), encodeFrame({ opcode: 0xb, mask: false })]),
    );
    const res = await conn.readClose(READ_MS);
    assert.equal(res.code, 1002);
    conn.end();
    await client.closed();
    const got = await Promise.all(client.messages.map(dataBytes));
    assert.deepEqual(
      got.map((m) => m.data.toString()),
      ['first'],
    );
  });

  test('an unsolicited pong is ignored', TEST, async () => {
    const { client, conn } = await connected();
    // RFC 6455 5.5.3: "A response to an unsolicited Pong frame is not expected."
    await conn.send(Buffer.concat([serverFrame(Op.PONG, 'beat'), serverFrame(Op.TEXT, 'after')]));
    const m = await client.nextMessage();
    assert.equal(m.data.toString(), 'after');
    assert.equal(await conn.staysOpen(100), true, 'the client answered an unsolicited pong');
  });
});

describe('RFC 6455 5.5.1 and 7.1 the client closing handshake', () => {
  test(
    'a server close is echoed with the same code, and the client waits for the server to close TCP',
    TEST,
    async () => {
      const { client, conn } = await connected();
      // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a Close
      // frame, the endpoint MUST send a Close frame in response. (When sending a Close frame in
      // response, the endpoint typically echos the status code it received.)"
      await conn.send(serverFrame(Op.CLOSE, closePayload(4001, 'bye')));
      const res = await conn.readClose(READ_MS);
      assert.deepEqual(res.before, []);
      assert.equal(res.frame.masked, true);
      assert.equal(res.code, 4001);
      // RFC 6455 7.1.1: "the client SHOULD wait for the server to close the connection".
      assert.equal(await conn.staysOpen(300), true, 'the client closed TCP (or sent more) before the server');
      conn.end();
      const ev = await client.closed();
      assert.equal(ev.code, 4001);
      assert.equal(ev.reason, 'bye');
      assert.equal(ev.wasClean, true);
    },
  );

  test('an empty server close is answered with an empty close', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(serverFrame(Op.CLOSE));
    const res = await conn.readClose(READ_MS);
    assert.equal(res.frame.masked, true);
    assert.equal(res.frame.payload.length, 0, `close payload ${res.frame.payload.toString('hex')}`);
    conn.end();
    const ev = await client.closed();
    // RFC 6455 7.1.5: "If this Close control frame contains no status code, _The WebSocket
    // Connection Close Code_ is considered to be 1005."
    assert.equal(ev.code, 1005);
  });

  test(
    'client close(1000, reason): close frame sent, client waits for the server to close TCP',
    TEST,
    async () => {
      const { client, conn } = await connected();
      client.ws.close(1000, 'done');
      const res = await conn.readClose(READ_MS);
      assert.equal(res.frame.masked, true);
      assert.equal(res.code, 1000);
      assert.equal(res.reason.toString(), 'done');
      await conn.send(serverFrame(Op.CLOSE, closePayload(1000, 'done')));
      // RFC 6455 7.1.1: "the client SHOULD wait for the server to close the connection".
      assert.equal(await conn.staysOpen(300), true, 'the client closed TCP before the server');
      conn.end();
      const ev = await client.closed();
      assert.equal(ev.code, 1000);
      assert.equal(ev.wasClean, true);
    },
  );

  test('a TCP close without a close frame gives close 1006, not clean', TEST, async () => {
    const { client, conn } = await connected();
    conn.destroy();
    const ev = await client.closed();
    // RFC 6455 7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was
    // received by the endpoint ..., _The WebSocket Connection Close Code_ is considered to be 1006."
    assert.equal(ev.code, 1006);
    assert.equal(ev.wasClean, false);
  });

  test('data frames after the server close are not delivered', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(
      Buffer.concat([
        serverFrame(Op.TEXT, 'before'),
        serverFrame(Op.CLOSE, closePayload(1000)),
        serverFrame(Op.TEXT, 'after'),
      ]),
    );
    const res = await conn.readClose(READ_MS);
    assert.equal(res.code, 1000);
    conn.end();
    await client.closed();
    const got = await Promise.all(client.messages.map(dataBytes));
    assert.deepEqual(
      got.map((m) => m.data.toString()),
      ['before'],
    );
  });

  test('frames the client sends are all masked, including ping, pong and close', TEST, async () => {
    const { client, conn } = await connected();
    await conn.send(encodeFrames([{ opcode: Op.PING, payload: 'p', mask: false }]));
    expectClientFrame(await conn.readFrame(READ_MS), Op.PONG, 'p', 'pong');
    client.ws.close(3000);
    const res = await conn.readClose(READ_MS);
    assert.equal(res.frame.masked, true);
    assert.equal(res.code, 3000);
  });
});
