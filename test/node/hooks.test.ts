import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CloseEvent,
  type ErrorEvent,
  type OfferedProtocols,
  UnexpectedResponseError,
  WebSocket,
  type WebSocketOptions,
  type WebSocketServerOptions,
} from 'duplexjs';
import { nextEvent, startServer, stop } from './util.js';

/** attempt connects once and tells how it went: the protocol when open, the HTTP error otherwise. */
async function attempt(
  serverOptions: Omit<WebSocketServerOptions, 'port'>,
  protocols: string[] = [],
  clientOptions: WebSocketOptions = {},
): Promise<{ open: true; protocol: string } | { open: false; error: UnexpectedResponseError }> {
  const { wss, url } = await startServer(serverOptions);
  try {
    const ws = new WebSocket(url, protocols, clientOptions);
    const closed = nextEvent<CloseEvent>(ws, 'close');
    const outcome = await Promise.race([
      nextEvent(ws, 'open').then(() => 'open' as const),
      nextEvent<ErrorEvent>(ws, 'error'),
    ]);
    if (outcome === 'open') {
      const protocol = ws.protocol;
      ws.close();
      await closed;
      return { open: true, protocol };
    }
    const close = await closed;
    assert.equal(close.code, 1006);
    assert.ok(outcome.error instanceof UnexpectedResponseError, String(outcome.error));
    return { open: false, error: outcome.error };
  } finally {
    await stop(wss);
  }
}

function refusal(result: Awaited<ReturnType<typeof attempt>>): UnexpectedResponseError {
  assert.equal(result.open, false, 'expected a refusal');
  return (result as { error: UnexpectedResponseError }).error;
}

describe('authenticate', () => {
  it('refuses with the status, body and headers it returns', { timeout: 10_000 }, async () => {
    const error = refusal(
      await attempt(
        {
          authenticate: async (req) =>
            req.headers.authorization === 'Bearer good'
              ? true
              : { status: 401, body: 'token required', headers: { 'WWW-Authenticate': 'Bearer' } },
        },
        [],
        { headers: { Authorization: 'Bearer bad' } },
      ),
    );
    assert.equal(error.status, 401);
    assert.equal(error.body, 'token required');
    assert.equal(error.responseHeaders['www-authenticate'], 'Bearer');
    assert.equal(error.code, 'DUPLEX_HANDSHAKE_UNEXPECTED_STATUS');
  });

  it('accepts when it resolves true or nothing', { timeout: 10_000 }, async () => {
    const options = { headers: { Authorization: 'Bearer good' } };
    const check = async (req: { headers: Record<string, unknown> }) =>
      req.headers.authorization === 'Bearer good' ? true : { status: 401 };
    assert.equal((await attempt({ authenticate: check }, [], options)).open, true);
    assert.equal((await attempt({ authenticate: () => undefined })).open, true);
  });

  it('refuses with 401 on false and 500 when it throws', { timeout: 10_000 }, async () => {
    assert.equal(refusal(await attempt({ authenticate: () => false })).status, 401);
    const original = console.error;
    console.error = () => {};
    try {
      const error = refusal(
        await attempt({
          authenticate: () => {
            throw new Error('database down');
          },
        }),
      );
      assert.equal(error.status, 500);
      assert.doesNotMatch(error.body, /database/);
    } finally {
      console.error = original;
    }
  });

  it('is bounded by handshakeTimeout (408)', { timeout: 10_000 }, async () => {
    const never = () => new Promise<true>(() => {});
    const error = refusal(await attempt({ authenticate: never, handshakeTimeout: 200 }));
    assert.equal(error.status, 408);
  });
});

describe('origin policy', () => {
  it('refuses a foreign Origin with 403 by default', { timeout: 10_000 }, async () => {
    const error = refusal(await attempt({}, [], { origin: 'https://evil.example' }));
    assert.equal(error.status, 403);
  });

  it('accepts clients without Origin and same-origin pages', { timeout: 10_000 }, async () => {
    assert.equal((await attempt({})).open, true);
    const { wss, port, url } = await startServer();
    const ws = new WebSocket(url, [], { origin: `http://127.0.0.1:${port}` });
    await nextEvent(ws, 'open');
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('accepts listed origins, case-insensitively', { timeout: 10_000 }, async () => {
    const allowedOrigins = ['https://App.example/'];
    assert.equal((await attempt({ allowedOrigins }, [], { origin: 'https://app.example' })).open, true);
    const other = refusal(await attempt({ allowedOrigins }, [], { origin: 'https://app.example:8443' }));
    assert.equal(other.status, 403);
  });

  it('accepts any origin with dangerouslyAllowAnyOrigin', { timeout: 10_000 }, async () => {
    const result = await attempt({ dangerouslyAllowAnyOrigin: true }, [], { origin: 'https://evil.example' });
    assert.equal(result.open, true);
  });
});

describe('subprotocol negotiation', () => {
  it('selects the first offered protocol by default', { timeout: 10_000 }, async () => {
    assert.deepEqual(await attempt({}, ['chat.v2', 'chat.v1']), { open: true, protocol: 'chat.v2' });
    assert.deepEqual(await attempt({}), { open: true, protocol: '' });
  });

  it('lets handleProtocols choose, or choose none', { timeout: 10_000 }, async () => {
    const handleProtocols = (offered: OfferedProtocols) => (offered.includes('chat.v1') ? 'chat.v1' : false);
    assert.deepEqual(await attempt({ handleProtocols }, ['chat.v2', 'chat.v1']), {
      open: true,
      protocol: 'chat.v1',
    });
    assert.deepEqual(await attempt({ handleProtocols }, ['other']), { open: true, protocol: '' });
  });

  it('exposes the protocol on the server side too', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const seen = new Promise<string>((resolve) => wss.on('connection', (ws) => resolve(ws.protocol)));
    const ws = new WebSocket(url, 'duplex.v1');
    await nextEvent(ws, 'open');
    assert.equal(await seen, 'duplex.v1');
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('rejects invalid or repeated protocols in the constructor', () => {
    assert.throws(() => new WebSocket('ws://127.0.0.1:1/', ['a b']), { code: 'DUPLEX_INVALID_PROTOCOL' });
    assert.throws(() => new WebSocket('ws://127.0.0.1:1/', ['a', 'a']), { code: 'DUPLEX_INVALID_PROTOCOL' });
  });
});
