// ws's example "express-session-parse", run on Duplex with the import renamed. It has no
// express here: a plain http server routes POST /login and DELETE /logout, and
// `sessionParser` is a small stand-in for express-session (a cookie naming an entry of an
// in-memory store). The WebSocket part is the example's code.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import WebSocket, { UnexpectedResponseError, WebSocketServer } from 'duplexjs';
import { capture, portOf, until } from './harness.js';

interface Session {
  userId?: string;
  destroy(callback: () => void): void;
}
type WithSession = IncomingMessage & { session: Session };

const store = new Map<string, { userId?: string }>();

/** sessionParser stands in for express-session: it sets req.session from the `sid` cookie. */
function sessionParser(req: IncomingMessage, res: Partial<ServerResponse>, next: () => void): void {
  let sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (sid === undefined || !store.has(sid)) {
    sid = randomUUID();
    store.set(sid, {});
    res.setHeader?.('Set-Cookie', `sid=${sid}`);
  }
  const id = sid;
  const data = store.get(id)!;
  (req as WithSession).session = {
    get userId() {
      return data.userId;
    },
    set userId(value) {
      data.userId = value;
    },
    destroy(callback) {
      store.delete(id);
      setImmediate(callback);
    },
  };
  setImmediate(next);
}

function call(port: number, method: string, path: string, cookie?: string) {
  return new Promise<{ status: number; cookie: string | undefined; body: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: cookie ? { cookie } : {} },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, cookie: res.headers['set-cookie']?.[0]?.split(';')[0], body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('express-session-parse: only a logged-in session upgrades; logout closes its socket', async () => {
  const console = capture();
  // A stand-in for express: the two routes of the example.
  const app = (request: IncomingMessage, response: ServerResponse) => {
    sessionParser(request, response, () => {
      const req = request as WithSession;
      if (req.method === 'POST' && req.url === '/login') {
        const id = randomUUID();
        req.session.userId = id;
        response.end(JSON.stringify({ result: 'OK', message: 'Session updated' }));
      } else if (req.method === 'DELETE' && req.url === '/logout') {
        const ws = map.get(req.session.userId!);
        console.log('Destroying user session');
        req.session.destroy(() => {
          if (ws) ws.close();
          response.end(JSON.stringify({ result: 'OK', message: 'Session destroyed' }));
        });
      } else {
        response.statusCode = 404;
        response.end();
      }
    });
  };

  // ---- the example's WebSocket part ----
  function onSocketError(err: Error) {
    console.error(err);
  }

  const map = new Map<string, WebSocket>();

  const server = createServer(app);

  const wss = new WebSocketServer({ clientTracking: false, noServer: true });

  server.on('upgrade', (request, socket, head) => {
    socket.on('error', onSocketError);

    console.log('Parsing session from request...');

    sessionParser(request, {}, () => {
      if (!(request as WithSession).session.userId) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }

      console.log('Session is parsed!');

      socket.removeListener('error', onSocketError);

      wss.handleUpgrade(request, socket, head, (ws) => {
        wss.emit('connection', ws, request);
      });
    });
  });

  wss.on('connection', (ws, request) => {
    const userId = (request as WithSession).session.userId!;

    map.set(userId, ws);

    ws.on('error', console.error);

    ws.on('message', (message) => {
      //
      // Here we can now use session parameters.
      //
      console.log(`Received message ${message} from user ${userId}`);
    });

    ws.on('close', () => {
      map.delete(userId);
    });
  });

  server.listen(0, '127.0.0.1');
  // ---- end ----

  await until(server, 'listening');
  const port = portOf(server);
  const url = `ws://127.0.0.1:${port}/`;

  // No session yet: 401.
  const anonymous = new WebSocket(url);
  const refused = until<[Error]>(anonymous, 'error');
  await until(anonymous, 'close');
  const [error] = await refused;
  assert.ok(error instanceof UnexpectedResponseError && error.status === 401);

  // Log in, then connect with the session cookie.
  const login = await call(port, 'POST', '/login');
  assert.equal(login.status, 200);
  assert.ok(login.cookie?.startsWith('sid='));
  const cookie = login.cookie!;
  const ws = new WebSocket(url, { headers: { Cookie: cookie } });
  await until(ws, 'open');
  ws.send('hi');
  const line = await console.waitFor(/^Received message/);
  const userId = store.get(cookie.slice(4))?.userId;
  assert.equal(line, `Received message hi from user ${userId}`);
  assert.equal(map.size, 1);
  assert.equal(wss.clients.size, 0, 'clientTracking: false keeps no clients');

  // Logging out closes the connection of that session.
  const closed = until<[number]>(ws, 'close');
  const logout = await call(port, 'DELETE', '/logout', cookie);
  assert.equal(logout.status, 200);
  const [code] = await closed;
  assert.equal(code, 1005, 'ws.close() without a code');
  for (let i = 0; map.size > 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(map.size, 0);

  await wss.close();
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(console.errors, []);
});
