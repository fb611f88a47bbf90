import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { WebSocketServerOptions } from 'duplexjs';

// decideUpgrade is internal (src/node/upgrade-decision.ts): its unit tests load it from the build.
type DecisionModule = typeof import('../../dist/node/upgrade-decision.js');
type OptionsModule = typeof import('../../dist/node/options.js');
const { decideUpgrade } = (await import(
  new URL('../../../dist/node/upgrade-decision.js', import.meta.url).href
)) as DecisionModule;
const { resolveServerOptions } = (await import(
  new URL('../../../dist/node/options.js', import.meta.url).href
)) as OptionsModule;

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** request is an upgrade request as node:http hands it over (lower-case header names). */
function request(headers: Record<string, string> = {}, method = 'GET'): IncomingMessage {
  return {
    method,
    httpVersion: '1.1',
    url: '/',
    headers: {
      host: 'app.example',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
  } as unknown as IncomingMessage;
}

function decide(options: Omit<WebSocketServerOptions, 'noServer'>, req: IncomingMessage) {
  return decideUpgrade(resolveServerOptions({ noServer: true, ...options }), req);
}

describe('decideUpgrade', () => {
  it('accepts a valid request with the first offered subprotocol', async () => {
    const d = await decide({}, request({ 'sec-websocket-protocol': 'b, a' }));
    assert.deepEqual(d, {
      accept: true,
      key: KEY,
      protocol: 'b',
      extensions: '',
      negotiated: [],
      context: undefined,
    });
  });

  it('refuses a request the core rejects with the status it carries', async () => {
    const d = await decide({}, request({}, 'POST'));
    assert.equal(d.accept, false);
    assert.equal(d.accept === false && d.status, 405);
    assert.deepEqual(d.accept === false && d.headers, { Allow: 'GET' });
  });

  it('refuses a foreign origin with 403, allows same-origin and listed ones', async () => {
    const foreign = await decide({}, request({ origin: 'https://evil.example' }));
    assert.deepEqual([foreign.accept, foreign.accept === false && foreign.status], [false, 403]);
    assert.equal((await decide({}, request({ origin: 'https://app.example' }))).accept, true);
    const listed = await decide(
      { allowedOrigins: ['https://other.example/'] },
      request({ origin: 'HTTPS://OTHER.EXAMPLE' }),
    );
    assert.equal(listed.accept, true);
  });

  it('applies authenticate: false is 401, a refusal object its status, an exception 500 with the error', async () => {
    const no = await decide({ authenticate: () => false }, request());
    assert.deepEqual([no.accept, no.accept === false && no.status], [false, 401]);
    const custom = await decide(
      { authenticate: async () => ({ status: 429, body: 'slow down', headers: { 'Retry-After': '5' } }) },
      request(),
    );
    assert.deepEqual(custom, {
      accept: false,
      code: 'DUPLEX_HANDSHAKE_REFUSED',
      status: 429,
      body: 'slow down',
      headers: { 'Retry-After': '5' },
    });
    const boom = new Error('boom');
    const thrown = await decide(
      {
        authenticate: () => {
          throw boom;
        },
      },
      request(),
    );
    assert.deepEqual(thrown, {
      accept: false,
      code: 'DUPLEX_HANDSHAKE_HOOK_FAILED',
      status: 500,
      hookError: boom,
    });
  });

  it('refuses with 500 when handleProtocols picks a protocol that was not offered', async () => {
    const d = await decide({ handleProtocols: () => 'c' }, request({ 'sec-websocket-protocol': 'a, b' }));
    assert.equal(d.accept === false && d.status, 500);
    assert.ok(d.accept === false && d.hookError instanceof TypeError);
    const none = await decide({ handleProtocols: () => false }, request({ 'sec-websocket-protocol': 'a' }));
    assert.equal(none.accept && none.protocol, '');
  });

  it('answers a permessage-deflate offer, and declines it when switched off', async () => {
    const offer = { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' };
    const on = await decide({}, request(offer));
    assert.ok(on.accept);
    assert.match(on.extensions, /^permessage-deflate/);
    assert.deepEqual(
      on.negotiated.map((e) => e.name),
      ['permessage-deflate'],
    );
    const off = await decide({ perMessageDeflate: false }, request(offer));
    assert.ok(off.accept);
    assert.deepEqual([off.extensions, off.negotiated], ['', []]);
  });
});
