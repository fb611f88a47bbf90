/**
 * The `refused` event of WebSocketServer (issue 13, item 3: refusals counted in metrics): every
 * refused upgrade request emits exactly one event, whoever refused it, with a stable code and
 * the status that was written on the wire. Real sockets on loopback; each request carries a
 * marker in its query so that an event is matched to its request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type HandshakeRefusal, WebSocketServer, type WebSocketServerOptions } from 'duplexjs';
import { nextEmit, sleep, startServer, stop, withTimeout } from './util.js';

interface Answer {
  status: number;
  headers: Record<string, string>;
}

const KEY = (): string => `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`;
const GOOD = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';

/**
 * ask sends one request by hand from `localAddress` and resolves with the answer's status and
 * headers once the server has closed the connection (so any late second answer would be seen).
 */
function ask(
  port: number,
  target: string,
  headers: string,
  localAddress = '127.0.0.1',
  method = 'GET',
): Promise<Answer> {
  return withTimeout(
    new Promise<Answer>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      socket.setEncoding('latin1');
      let got = '';
      socket.on('error', reject);
      socket.on('data', (chunk: string) => {
        got += chunk;
      });
      socket.on('close', () => {
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return reject(new Error(`no answer head: ${JSON.stringify(got)}`));
        const [statusLine = '', ...lines] = got.slice(0, end).split('\r\n');
        const answer: Answer = { status: Number(statusLine.split(' ')[1]), headers: {} };
        for (const line of lines) {
          const colon = line.indexOf(':');
          answer.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve(answer);
      });
      socket.on('end', () => socket.end());
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`);
    }),
    `an answer to ${target}`,
    15_000,
  );
}

/** Recorder keeps every `refused` event of a server, by the marker in its request's query. */
class Recorder {
  readonly events: { refusal: HandshakeRefusal; url: string }[] = [];
  constructor(server: {
    on(event: 'refused', f: (r: HandshakeRefusal, req: IncomingMessage) => void): unknown;
  }) {
    server.on('refused', (refusal, req) => this.events.push({ refusal, url: req.url ?? '' }));
  }

  /** single returns the one event of `marker`, failing when there is none or more than one. */
  single(marker: string): HandshakeRefusal {
    const mine = this.events.filter((e) => e.url.endsWith(`?${marker}`));
    assert.equal(mine.length, 1, `one refused event for ${marker}: ${JSON.stringify(this.events)}`);
    return mine[0]!.refusal;
  }
}

/** refusedWith asks and checks the wire status, the event's code and status and that they agree. */
async function refusedWith(
  rec: Recorder,
  port: number,
  marker: string,
  headers: string,
  expected: { status: number; code: string },
  path = '/',
  localAddress?: string,
): Promise<{ answer: Answer; refusal: HandshakeRefusal }> {
  const answer = await ask(port, `${path}?${marker}`, headers, localAddress);
  assert.equal(answer.status, expected.status, `${marker}: status on the wire`);
  const refusal = rec.single(marker);
  assert.equal(refusal.code, expected.code, `${marker}: code`);
  assert.equal(refusal.status, answer.status, `${marker}: event status is the wire status`);
  assert.equal(refusal.handedOver, false);
  assert.equal(typeof refusal.message, 'string');
  return { answer, refusal };
}

async function withServer(
  options: Omit<WebSocketServerOptions, 'port'>,
  body: (wss: WebSocketServer, port: number, rec: Recorder) => Promise<void>,
): Promise<void> {
  const { wss, port } = await startServer(options);
  const rec = new Recorder(wss);
  try {
    await body(wss, port, rec);
  } finally {
    await stop(wss);
  }
}

describe('WebSocketServer `refused` event: one per refused request, code and wire status', () => {
  it('request validation: each HandshakeError code with its status', async () => {
    await withServer({}, async (_wss, port, rec) => {
      await refusedWith(rec, port, 'key', `${GOOD}Sec-WebSocket-Key: short\r\n`, {
        status: 400,
        code: 'DUPLEX_HANDSHAKE_BAD_KEY',
      });
      await refusedWith(
        rec,
        port,
        'version',
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n${KEY()}`,
        { status: 426, code: 'DUPLEX_HANDSHAKE_VERSION' },
      );
      await refusedWith(rec, port, 'extensions', `${GOOD + KEY()}Sec-WebSocket-Extensions: ;;\r\n`, {
        status: 400,
        code: 'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
      });
      // A botched handshake node:http does not pass as an upgrade (no Connection: Upgrade).
      await refusedWith(rec, port, 'plain', `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${KEY()}`, {
        status: 400,
        code: 'DUPLEX_HANDSHAKE_NO_CONNECTION_UPGRADE',
      });
      const post = await ask(port, '/?method', GOOD + KEY(), '127.0.0.1', 'POST');
      assert.equal(post.status, 405);
      assert.equal(rec.single('method').code, 'DUPLEX_HANDSHAKE_METHOD');
      assert.equal(rec.single('method').status, 405);
      // A plain HTTP request is no handshake: 426, and no event.
      const plain = await ask(port, '/?nothing', '');
      assert.equal(plain.status, 426);
      assert.equal(rec.events.filter((e) => e.url.endsWith('?nothing')).length, 0);
      assert.equal(rec.events.length, 5);
    });
  });

  it('origin policy: 403 DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED', async () => {
    await withServer({}, async (_wss, port, rec) => {
      await refusedWith(rec, port, 'origin', `${GOOD + KEY()}Origin: http://evil.example\r\n`, {
        status: 403,
        code: 'DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED',
      });
    });
  });

  it('authenticate: false, a refusal with its own code, a code of the wrong shape, a throw', async () => {
    const errors: unknown[] = [];
    await withServer(
      {
        authenticate: (req) => {
          const q = (req.url ?? '').split('?')[1];
          if (q === 'false') return false;
          if (q === 'coded') return { status: 403, code: 'APP_BANNED', headers: { 'X-Why': 'banned' } };
          if (q === 'lower') return { status: 403, code: 'not a code' };
          if (q === 'bad-status') return { status: 99 };
          if (q === 'throw') throw new Error('hook broke');
          return true;
        },
      },
      async (wss, port, rec) => {
        wss.on('error', (error) => errors.push(error));
        await refusedWith(rec, port, 'false', GOOD + KEY(), {
          status: 401,
          code: 'DUPLEX_HANDSHAKE_REFUSED',
        });
        const coded = await refusedWith(rec, port, 'coded', GOOD + KEY(), {
          status: 403,
          code: 'APP_BANNED',
        });
        assert.equal(coded.answer.headers['x-why'], 'banned');
        assert.deepEqual(coded.refusal.headers, { 'X-Why': 'banned' });
        await refusedWith(rec, port, 'lower', GOOD + KEY(), {
          status: 403,
          code: 'DUPLEX_HANDSHAKE_REFUSED',
        });
        // A status that cannot be written becomes a 500, and the event says so.
        await refusedWith(rec, port, 'bad-status', GOOD + KEY(), {
          status: 500,
          code: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
        });
        await refusedWith(rec, port, 'throw', GOOD + KEY(), {
          status: 500,
          code: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
        });
        assert.equal(errors.length, 2, 'the bad status and the throw are reported as error');
      },
    );
  });

  it('verifyClient (ws): a refusal with its code is DUPLEX_HANDSHAKE_REFUSED with that status', async () => {
    await withServer(
      { verifyClient: (_info, done) => done(false, 418, 'teapot') },
      async (_wss, port, rec) => {
        const { refusal } = await refusedWith(rec, port, 'verify', GOOD + KEY(), {
          status: 418,
          code: 'DUPLEX_HANDSHAKE_REFUSED',
        });
        assert.equal(refusal.message, 'teapot');
      },
    );
  });

  it('handleProtocols and headers listeners that throw: 500 DUPLEX_HANDSHAKE_HOOK_FAILED', async () => {
    await withServer(
      {
        handleProtocols: () => {
          throw new Error('protocols broke');
        },
      },
      async (wss, port, rec) => {
        wss.on('error', () => {});
        await refusedWith(rec, port, 'protocols', `${GOOD + KEY()}Sec-WebSocket-Protocol: a\r\n`, {
          status: 500,
          code: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
        });
        wss.on('headers', () => {
          throw new Error('headers broke');
        });
        await refusedWith(rec, port, 'headers', GOOD + KEY(), {
          status: 500,
          code: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
        });
      },
    );
  });

  it('handshake timeout: 408 DUPLEX_HANDSHAKE_TIMEOUT, once', async () => {
    await withServer(
      { handshakeTimeout: 200, closeTimeout: 200, authenticate: () => new Promise<boolean>(() => {}) },
      async (_wss, port, rec) => {
        await refusedWith(rec, port, 'slow', GOOD + KEY(), { status: 408, code: 'DUPLEX_HANDSHAKE_TIMEOUT' });
      },
    );
  });

  it('close(): a handshake being decided gets 503 DUPLEX_HANDSHAKE_SHUTTING_DOWN, once', async () => {
    let release: (() => void) | undefined;
    const { wss, port } = await startServer({
      handshakeTimeout: 300,
      closeTimeout: 200,
      authenticate: () =>
        new Promise<boolean>((resolve) => {
          release = () => resolve(true);
        }),
    });
    const rec = new Recorder(wss);
    const pending = ask(port, '/?pending', GOOD + KEY());
    for (let i = 0; i < 200 && release === undefined; i++) await sleep(10);
    const closing = wss.close();
    const answer = await pending;
    assert.equal(answer.status, 503);
    release?.();
    await closing;
    // Past the handshake timeout: its timer must not answer or report the socket again.
    await sleep(400);
    const refusal = rec.single('pending');
    assert.equal(refusal.code, 'DUPLEX_HANDSHAKE_SHUTTING_DOWN');
    assert.equal(refusal.status, 503);
  });

  it('connection limits: 503 and 429 with their codes and Retry-After in the event too', async () => {
    await withServer(
      { maxConnections: 2, maxConnectionsPerAddress: 1, handshakeRate: { perSecond: 0.001, burst: 1 } },
      async (wss, port, rec) => {
        const open: net.Socket[] = [];
        const openOne = async (localAddress: string): Promise<void> => {
          const socket = net.connect({ port, host: '127.0.0.1', localAddress });
          open.push(socket);
          socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${GOOD + KEY()}\r\n`);
          await nextEmit(socket, 'data');
        };
        await openOne('127.0.0.1');
        const perAddress = await refusedWith(
          rec,
          port,
          'per-address',
          GOOD + KEY(),
          { status: 429, code: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS_PER_ADDRESS' },
          '/',
          '127.0.0.1',
        );
        assert.ok(perAddress.refusal.headers['Retry-After']);
        // 127.0.0.1 used its one token on the open connection (the per-address refusal comes
        // first and takes none): once that is closed, the rate refuses it.
        for (const s of open) s.destroy();
        open.length = 0;
        for (let i = 0; i < 500 && wss.clients.size > 0; i++) await sleep(10);
        await refusedWith(
          rec,
          port,
          'rate',
          GOOD + KEY(),
          { status: 429, code: 'DUPLEX_HANDSHAKE_RATE_LIMITED' },
          '/',
          '127.0.0.1',
        );
        await openOne('127.0.0.2');
        await openOne('127.0.0.3');
        const full = await refusedWith(
          rec,
          port,
          'full',
          GOOD + KEY(),
          { status: 503, code: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS' },
          '/',
          '127.0.0.4',
        );
        assert.equal(full.answer.headers['retry-after'], full.refusal.headers['Retry-After']);
        for (const s of open) s.destroy();
      },
    );
  });

  it('path: 404 DUPLEX_HANDSHAKE_NOT_FOUND when attached; 400 DUPLEX_HANDSHAKE_WRONG_PATH through handleUpgrade', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/ws' });
    const rec = new Recorder(wss);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    await refusedWith(
      rec,
      port,
      'elsewhere',
      GOOD + KEY(),
      { status: 404, code: 'DUPLEX_HANDSHAKE_NOT_FOUND' },
      '/other',
    );
    await wss.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));

    const own = createServer();
    const noServer = new WebSocketServer({ noServer: true, path: '/ws' });
    const rec2 = new Recorder(noServer);
    own.on('upgrade', (req, socket, head) => noServer.handleUpgrade(req, socket, head, () => {}));
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const port2 = (own.address() as AddressInfo).port;
    await refusedWith(
      rec2,
      port2,
      'wrong',
      GOOD + KEY(),
      { status: 400, code: 'DUPLEX_HANDSHAKE_WRONG_PATH' },
      '/x',
    );
    await noServer.close();
    await new Promise<void>((resolve) => own.close(() => resolve()));
  });

  it('a wsClientError listener answers: one event with handedOver and the status Duplex would have sent', async () => {
    await withServer({}, async (wss, port, rec) => {
      wss.on('wsClientError', (_error, socket) =>
        socket.end('HTTP/1.1 418 Teapot\r\nConnection: close\r\n\r\n'),
      );
      const answer = await ask(port, '/?handed', `${GOOD}Sec-WebSocket-Key: short\r\n`);
      assert.equal(answer.status, 418);
      const refusal = rec.single('handed');
      assert.equal(refusal.handedOver, true);
      assert.equal(refusal.code, 'DUPLEX_HANDSHAKE_BAD_KEY');
      assert.equal(refusal.status, 400);
    });
  });

  it('a refused listener that throws is reported as error, the refusal stands', async () => {
    await withServer({}, async (wss, port, rec) => {
      const errors: unknown[] = [];
      wss.on('error', (error) => errors.push(error));
      wss.on('refused', () => {
        throw new Error('listener broke');
      });
      await refusedWith(rec, port, 'throws', `${GOOD}Sec-WebSocket-Key: short\r\n`, {
        status: 400,
        code: 'DUPLEX_HANDSHAKE_BAD_KEY',
      });
      assert.equal(errors.length, 1);
    });
  });
});
