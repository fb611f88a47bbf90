/**
 * Fuzzing the opening handshake (RFC 6455 4, 9.1; RFC 7692 5, 7): the request and response
 * validators, the Sec-WebSocket-Extensions parser and permessage-deflate negotiation. Any
 * input is accepted with a result that obeys the RFC, or refused with a documented
 * HandshakeError and its documented status; nothing else is ever thrown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptDeflateResponse,
  computeAccept,
  type ExtensionOffer,
  formatExtensionHeader,
  HandshakeError,
  type HeaderMap,
  negotiateDeflate,
  parseExtensionHeader,
  parseTokenList,
  validateClientRequest,
  validateServerResponse,
} from 'duplexjs/protocol';
import fc from 'fast-check';
import { handshakeErrors, params } from '../helpers/fuzz.js';

const DOCUMENTED = handshakeErrors();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** refused asserts that `e` is a documented HandshakeError; `side` says which status it must carry. */
function refused(e: unknown, side: 'server' | 'client', peerStatus?: number): HandshakeError {
  if (!(e instanceof HandshakeError)) {
    throw new assert.AssertionError({ message: `threw a non-HandshakeError: ${(e as Error)?.stack ?? e}` });
  }
  assert.ok(DOCUMENTED.has(e.code), `undocumented code ${e.code}`);
  const status = DOCUMENTED.get(e.code);
  if (side === 'server') assert.equal(e.status, status, `status of ${e.code}`);
  else if (status === 'peer') assert.equal(e.status, peerStatus, `status of ${e.code}`);
  else assert.equal(e.status, undefined, `a client-side ${e.code} has no status`);
  return e;
}

/** Pieces that header values are made of: the right words, near misses, separators, odd bytes. */
const piece = fc.constantFrom(
  'websocket',
  'WebSocket',
  'Upgrade',
  'upgrade',
  'keep-alive',
  '13',
  '8',
  ' 13 ',
  KEY,
  'AAAAAAAAAAAAAAAAAAAAAA==',
  'AAAAAAAAAAAAAAAAAAAAAA=',
  'chat',
  'duplex.v1',
  'permessage-deflate',
  'client_max_window_bits',
  'server_max_window_bits=10',
  '=',
  ';',
  ',',
  ' ',
  '\t',
  '"',
  '\\',
  '',
  '\u00e9',
  '\u0000',
  '\r\n',
  'https://app.example',
);
const headerValue: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.array(piece, { maxLength: 6 }).map((p) => p.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.array(piece, { maxLength: 4 }).map((p) => p.join('')),
      { maxLength: 3 },
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const VALID_REQUEST: HeaderMap = {
  host: 'example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-version': '13',
  'sec-websocket-key': KEY,
};
const NAMES = [
  'host',
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'origin',
];

/** A request: a valid one with some headers replaced, or all headers random. */
const request = fc.record({
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constant('GET') },
    { weight: 1, arbitrary: fc.constantFrom('POST', 'get', 'HEAD', '') },
  ),
  httpVersion: fc.oneof(
    { weight: 6, arbitrary: fc.constant('1.1') },
    { weight: 1, arbitrary: fc.constantFrom('1.0', '2.0', '0.9', '1', '', 'x.y', '1.1.1') },
  ),
  base: fc.boolean(),
  replaced: fc.dictionary(fc.constantFrom(...NAMES), headerValue, { maxKeys: 4 }),
});

describe('fuzz: validateClientRequest (RFC 6455 4.2.1)', () => {
  it('accepts with a sound result or refuses with a documented code and status', () => {
    fc.assert(
      fc.property(request, ({ method, httpVersion, base, replaced }) => {
        const headers: HeaderMap = { ...(base ? VALID_REQUEST : {}), ...replaced };
        let got: ReturnType<typeof validateClientRequest>;
        try {
          got = validateClientRequest({ method, httpVersion, headers });
        } catch (e) {
          refused(e, 'server');
          return;
        }
        assert.equal(method, 'GET');
        assert.match(got.key, /^[A-Za-z0-9+/]{22}==$/);
        assert.equal(Buffer.from(got.key, 'base64').length, 16);
        for (const p of got.protocols) assert.match(p, TOKEN);
        assert.equal(new Set(got.protocols).size, got.protocols.length);
        for (const ext of got.extensions) checkOffer(ext);
        assert.ok(parseTokenList(headers.upgrade).includes('websocket'));
        assert.ok(parseTokenList(headers.connection).includes('upgrade'));
      }),
      params(500),
    );
  });

  it('huge header values are handled, not choked on', () => {
    const big = 'a'.repeat(1_000_000);
    const cases: HeaderMap[] = [
      { ...VALID_REQUEST, 'sec-websocket-protocol': `${'p,'.repeat(200_000)}p` },
      { ...VALID_REQUEST, 'sec-websocket-extensions': `${'x; '.repeat(100_000)}y` },
      { ...VALID_REQUEST, 'sec-websocket-key': big },
      { ...VALID_REQUEST, connection: `${'keep-alive, '.repeat(50_000)}Upgrade` },
      { ...VALID_REQUEST, origin: big },
    ];
    for (const headers of cases) {
      try {
        validateClientRequest({ method: 'GET', httpVersion: '1.1', headers });
      } catch (e) {
        refused(e, 'server');
      }
    }
  });
});

describe('fuzz: validateServerResponse (RFC 6455 4.1)', () => {
  it('accepts only what was offered, or fails with a documented code', () => {
    const offered = ['chat', 'duplex.v1'];
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 5, arbitrary: fc.constant(101) },
          { weight: 1, arbitrary: fc.integer({ min: 100, max: 599 }) },
        ),
        fc.boolean(),
        fc.dictionary(
          fc.constantFrom(
            'upgrade',
            'connection',
            'sec-websocket-accept',
            'sec-websocket-protocol',
            'sec-websocket-extensions',
          ),
          headerValue,
          { maxKeys: 3 },
        ),
        (statusCode, base, replaced) => {
          const headers: HeaderMap = {
            ...(base
              ? {
                  upgrade: 'websocket',
                  connection: 'Upgrade',
                  'sec-websocket-accept': computeAccept(KEY),
                }
              : {}),
            ...replaced,
          };
          let got: ReturnType<typeof validateServerResponse>;
          try {
            got = validateServerResponse(
              { statusCode, headers },
              { key: KEY, protocols: offered, extensionsOffered: ['permessage-deflate'] },
            );
          } catch (e) {
            refused(e, 'client', statusCode);
            return;
          }
          assert.equal(statusCode, 101);
          assert.ok(got.protocol === '' || offered.includes(got.protocol));
          for (const ext of got.extensions) assert.equal(ext.name, 'permessage-deflate');
        },
      ),
      params(500),
    );
  });
});

/** checkOffer asserts what RFC 6455 9.1 says a parsed extension element is. */
function checkOffer(o: ExtensionOffer): void {
  assert.match(o.name, TOKEN);
  assert.equal(o.name, o.name.toLowerCase());
  for (const [name, value] of o.params) {
    assert.match(name, TOKEN);
    assert.equal(name, name.toLowerCase());
    if (value !== true) assert.match(value, TOKEN, 'a value (after unquoting) is a token');
  }
}

const extensionText = fc.oneof(
  { weight: 4, arbitrary: fc.array(piece, { maxLength: 14 }).map((p) => p.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom('permessage-deflate', 'x-webkit-deflate-frame', 'foo'),
          fc.array(
            fc.tuple(
              fc.constantFrom(
                'client_max_window_bits',
                'server_max_window_bits',
                'server_no_context_takeover',
                'client_no_context_takeover',
                'foo',
              ),
              fc.option(fc.constantFrom('8', '10', '15', '"9"', '"1\\5"', '16', '08', '"', '""', 'x y')),
            ),
            { maxLength: 4 },
          ),
        ),
        { maxLength: 3 },
      )
      .map((exts) =>
        exts
          .map(([name, ps]) => [name, ...ps.map(([k, v]) => (v === null ? k : `${k}=${v}`))].join('; '))
          .join(', '),
      ),
  },
);

describe('fuzz: parseExtensionHeader and permessage-deflate negotiation (RFC 6455 9.1, RFC 7692 5)', () => {
  it('parses to sound offers that format and parse back the same, or refuses with a documented code', () => {
    fc.assert(
      fc.property(fc.oneof(extensionText, fc.array(extensionText, { maxLength: 3 })), (text) => {
        let offers: ExtensionOffer[];
        try {
          offers = parseExtensionHeader(text);
        } catch (e) {
          refused(e, 'server');
          return;
        }
        for (const o of offers) checkOffer(o);
        assert.deepEqual(parseExtensionHeader(formatExtensionHeader(offers)), offers, 'format round trip');
        // The server declines what it cannot accept; it never throws.
        const agreed = negotiateDeflate(offers);
        if (agreed !== undefined) {
          for (const bits of [agreed.params.clientMaxWindowBits, agreed.params.serverMaxWindowBits]) {
            assert.ok(Number.isInteger(bits) && bits >= 8 && bits <= 15, `window bits ${bits}`);
          }
          // What our server answers, our client (which offers client_max_window_bits) accepts.
          acceptDeflateResponse(agreed.response);
        }
        // The client side fails each unacceptable response with a documented code.
        for (const o of offers) {
          try {
            const p = acceptDeflateResponse(o);
            assert.equal(o.name, 'permessage-deflate');
            assert.ok(p.clientMaxWindowBits >= 8 && p.clientMaxWindowBits <= 15);
            assert.ok(p.serverMaxWindowBits >= 8 && p.serverMaxWindowBits <= 15);
          } catch (e) {
            refused(e, 'client');
          }
        }
      }),
      params(800),
    );
  });

  it('huge and pathological headers parse or fail with the documented code', () => {
    const cases = [
      `${'a;'.repeat(200_000)}b`,
      `a; b="${'\\c'.repeat(300_000)}"`,
      `a; b="${'c'.repeat(1_000_000)}`,
      `${', '.repeat(300_000)}a`,
      `a; b=${'c'.repeat(1_000_000)}`,
      `${'permessage-deflate, '.repeat(50_000)}x`,
      `a; b="${'c'.repeat(100_000)} d"`,
      '\\'.repeat(1_000_000),
    ];
    for (const text of cases) {
      try {
        const offers = parseExtensionHeader(text);
        for (const o of offers) checkOffer(o);
        negotiateDeflate(offers);
      } catch (e) {
        refused(e, 'server');
      }
    }
  });
});
