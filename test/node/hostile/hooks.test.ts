/**
 * Application hooks that fail (issue 2: "an async authenticate hook that can refuse with an
 * HTTP status and body"; docs: "Exceptions refuse with 500", "Returning a protocol that was
 * not offered refuses the client with 500"). A throwing or rejecting hook is answered with
 * 500, its error text never reaches the client, the process does not crash, and the next
 * client is served.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { WebSocketServerOptions } from 'duplexjs';
import { type Answer, goodRoundTrip, handshakeRequest, send1 } from './peer.js';
import { startServerTarget } from './targets.js';

const SECRET = 'internal detail 7f3a';

/** Only requests with `X-Bad: 1` trip the hook under test; the good client after them passes. */
const isBad = (req: IncomingMessage) => req.headers['x-bad'] !== undefined;

/** reportedOnce: the server's `error` event got the hook's exception (docs: hook exceptions are emitted as `error`). */
function reportedOnce(errors: unknown[]): void {
  assert.equal(errors.length, 1, `server error events: ${errors.map(String).join('; ')}`);
  const e = errors[0];
  assert.ok((e instanceof Error ? e.message : String(e)).includes(SECRET), `reported ${String(e)}`);
}

async function refusedWith(
  options: WebSocketServerOptions,
  statusLine: string,
  extra: Record<string, string> = {},
  reported: (errors: unknown[]) => void = () => {},
): Promise<Answer> {
  const target = await startServerTarget(options);
  try {
    const answer = await send1(
      target.port,
      handshakeRequest(target.port, { headers: { 'X-Bad': '1', ...extra } }),
    );
    assert.equal(answer.head?.statusLine, statusLine, answer.head?.raw ?? 'no response head');
    assert.ok(answer.closed, `the server kept TCP open after ${statusLine}`);
    assert.ok(!answer.raw.toString().includes(SECRET), 'the hook error text was sent to the client');
    await goodRoundTrip(target.port);
    reported(target.errors);
    return answer;
  } finally {
    await target.stop();
  }
}

describe('authenticate hook failures', { timeout: 60_000 }, () => {
  test('an authenticate hook that throws: 500, no crash', async () => {
    await refusedWith(
      {
        authenticate: (req) => {
          if (isBad(req)) throw new Error(SECRET);
          return true;
        },
      },
      'HTTP/1.1 500 Internal Server Error',
      {},
      reportedOnce,
    );
  });

  test('an async authenticate hook that rejects: 500, no crash', async () => {
    await refusedWith(
      {
        authenticate: async (req) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          if (isBad(req)) throw new Error(SECRET);
          return true;
        },
      },
      'HTTP/1.1 500 Internal Server Error',
      {},
      reportedOnce,
    );
  });

  test('an authenticate hook that throws a non-Error value: 500, no crash', async () => {
    await refusedWith(
      {
        authenticate: (req) => {
          if (isBad(req)) throw SECRET;
          return true;
        },
      },
      'HTTP/1.1 500 Internal Server Error',
    );
  });

  test('authenticate returning false: 401', async () => {
    await refusedWith({ authenticate: (req) => !isBad(req) }, 'HTTP/1.1 401 Unauthorized');
  });

  test('authenticate refusing with a status, body and header: that exact refusal', async () => {
    const answer = await refusedWith(
      {
        authenticate: (req) =>
          isBad(req) ? { status: 403, body: 'no entry\n', headers: { 'X-Reason': 'banned' } } : true,
      },
      'HTTP/1.1 403 Forbidden',
    );
    assert.equal(answer.head?.headers['x-reason'], 'banned');
    assert.equal(answer.raw.toString(), 'no entry\n');
  });

  test('authenticate refusing with a status that is not 4xx/5xx (200): 500, no crash', async () => {
    await refusedWith(
      { authenticate: (req) => (isBad(req) ? { status: 200 } : true) },
      'HTTP/1.1 500 Internal Server Error',
    );
  });
});

describe('handleProtocols hook failures', { timeout: 60_000 }, () => {
  test('handleProtocols choosing a protocol that was not offered: 500', async () => {
    await refusedWith(
      { handleProtocols: (offered) => (offered.includes('chat') ? 'not-offered' : false) },
      'HTTP/1.1 500 Internal Server Error',
      { 'Sec-WebSocket-Protocol': 'chat' },
    );
  });
});
