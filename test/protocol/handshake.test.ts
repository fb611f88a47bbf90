import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildRejectResponse,
  buildServerResponse,
  clientRequestHeaders,
  computeAccept,
  formatExtensionHeader,
  generateKey,
  HandshakeError,
  parseExtensionHeader,
  parseTokenList,
  validateClientRequest,
  validateServerResponse,
} from 'duplexjs/protocol';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

type Headers = Record<string, string | string[] | undefined>;

function request(headers: Headers = {}, method = 'GET', httpVersion = '1.1') {
  return {
    method,
    httpVersion,
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

/** refused asserts that `fn` throws a HandshakeError with `status` and returns it. */
function refused(fn: () => unknown, status: number): HandshakeError {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof HandshakeError, `a HandshakeError, got ${String(caught)}`);
  assert.equal(caught.status, status, `status (${caught.code}: ${caught.message})`);
  assert.match(caught.code, /^DUPLEX_/);
  return caught;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('RFC 6455 1.3 and 4.2.2 Sec-WebSocket-Accept', () => {
  it('computeAccept gives the example of RFC 6455 1.3', () => {
    // RFC 6455 1.3: "the server would append the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    // ... this would be "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=""
    assert.equal(computeAccept(KEY), ACCEPT);
  });

  it('generateKey gives 16 random bytes in base64, fresh each time', () => {
    // RFC 6455 4.1: "a randomly selected 16-byte value that has been base64-encoded"
    const a = generateKey();
    const b = generateKey();
    assert.match(a, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Buffer.from(a, 'base64').length, 16);
    assert.notEqual(a, b);
  });
});

describe('RFC 6455 4.2.1 reading the client\u2019s opening handshake', () => {
  it('accepts a valid request and returns key, protocols, extensions, origin', () => {
    const v = validateClientRequest(
      request({
        'sec-websocket-protocol': 'chat, superchat',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        origin: 'http://example.com',
      }),
    );
    assert.deepEqual(v, {
      key: KEY,
      protocols: ['chat', 'superchat'],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      origin: 'http://example.com',
    });
  });

  it('with no protocols, extensions or origin, returns empty lists and undefined', () => {
    assert.deepEqual(validateClientRequest(request()), {
      key: KEY,
      protocols: [],
      extensions: [],
      origin: undefined,
    });
  });

  it('subprotocol names keep their case', () => {
    // RFC 6455 4.1: the subprotocol the server selects must be one of those the client sent;
    // browsers compare them case-sensitively, so the server must see them as sent.
    const v = validateClientRequest(request({ 'sec-websocket-protocol': 'Chat.V2, superChat' }));
    assert.deepEqual(v.protocols, ['Chat.V2', 'superChat']);
  });

  // RFC 6455 4.2.1: "An HTTP/1.1 or higher GET request"
  it('a method other than GET is refused with 405 and Allow: GET', () => {
    const e = refused(() => validateClientRequest(request({}, 'POST')), 405);
    assert.deepEqual(lowerKeys(e.headers), { allow: 'GET' });
  });

  it('HTTP/1.0 is refused with 505', () => {
    refused(() => validateClientRequest(request({}, 'GET', '1.0')), 505);
  });

  // RFC 6455 4.2.1: "A |Host| header field containing the server's authority."
  it('a request without Host is refused with 400', () => {
    refused(() => validateClientRequest(request({ host: undefined })), 400);
  });

  // RFC 6455 4.2.1: "An |Upgrade| header field containing the value "websocket", treated as
  // an ASCII case-insensitive value."
  it('Upgrade: websocket is matched case-insensitively', () => {
    assert.equal(validateClientRequest(request({ upgrade: 'WebSocket' })).key, KEY);
  });

  for (const upgrade of [undefined, '', 'h2c', 'websockets']) {
    it(`Upgrade: ${String(upgrade)} is refused with 400`, () => {
      refused(() => validateClientRequest(request({ upgrade })), 400);
    });
  }

  // RFC 6455 4.2.1: "A |Connection| header field that includes the token "Upgrade", treated
  // as an ASCII case-insensitive value."
  for (const connection of [
    'Upgrade',
    'upgrade',
    'keep-alive, Upgrade',
    'Upgrade, keep-alive',
    'keep-alive,upgrade',
  ]) {
    it(`Connection: ${connection} is accepted`, () => {
      assert.equal(validateClientRequest(request({ connection })).key, KEY);
    });
  }

  for (const connection of [undefined, '', 'keep-alive', 'close', 'upgrades', 'keep-alive upgrade']) {
    it(`Connection: ${String(connection)} is refused with 400`, () => {
      refused(() => validateClientRequest(request({ connection })), 400);
    });
  }

  // RFC 6455 4.2.1: "A |Sec-WebSocket-Key| header field with a base64-encoded (see Section 4
  // of [RFC4648]) value that, when decoded, is 16 bytes in length."
  for (const [name, key] of [
    ['missing', undefined],
    ['empty', ''],
    ['15 bytes', Buffer.alloc(15, 1).toString('base64')],
    ['17 bytes', Buffer.alloc(17, 1).toString('base64')],
    ['not base64', '!!!!!!!!!!!!!!!!!!!!!!=='],
    ['16 bytes of base64url', '-_-_-_-_-_-_-_-_-_-_-w=='],
    ['padding missing', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['trailing garbage', `${KEY}x`],
  ] as const) {
    it(`a Sec-WebSocket-Key that is ${name} is refused with 400`, () => {
      refused(() => validateClientRequest(request({ 'sec-websocket-key': key })), 400);
    });
  }

  // RFC 6455 4.2.2: "If this version does not match a version understood by the server, the
  // server MUST abort the WebSocket handshake ... and instead send an appropriate HTTP error
  // code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version| header field
  // indicating the version(s) the server is capable of understanding."
  for (const version of ['8', '12', '14', '', undefined]) {
    it(`Sec-WebSocket-Version: ${String(version)} is refused with 426 and Sec-WebSocket-Version: 13`, () => {
      const e = refused(() => validateClientRequest(request({ 'sec-websocket-version': version })), 426);
      assert.deepEqual(lowerKeys(e.headers), { 'sec-websocket-version': '13' });
    });
  }

  it('a malformed Sec-WebSocket-Extensions is refused with 400', () => {
    refused(() => validateClientRequest(request({ 'sec-websocket-extensions': 'a; b="1' })), 400);
  });
});

describe('RFC 7230 3.2.6 / RFC 6455 4.3 token lists', () => {
  it('parseTokenList lower-cases and trims the tokens of a comma list', () => {
    assert.deepEqual(parseTokenList('keep-alive, Upgrade'), ['keep-alive', 'upgrade']);
    assert.deepEqual(parseTokenList('Upgrade'), ['upgrade']);
  });

  it('parseTokenList skips empty elements and whitespace', () => {
    // RFC 7230 7: "a recipient MUST parse and ignore a reasonable number of empty list elements"
    assert.deepEqual(parseTokenList(' a ,, b ,\t'), ['a', 'b']);
    assert.deepEqual(parseTokenList(''), []);
  });

  it('parseTokenList takes undefined and repeated headers', () => {
    assert.deepEqual(parseTokenList(undefined), []);
    assert.deepEqual(parseTokenList(['a', 'B, c']), ['a', 'b', 'c']);
  });
});

describe('RFC 6455 9.1 Sec-WebSocket-Extensions', () => {
  // extension-list = 1#extension; extension = extension-token *( ";" extension-param )
  // extension-param = token [ "=" (token | quoted-string) ]
  it('parses several offers with parameters, in order', () => {
    assert.deepEqual(
      parseExtensionHeader(
        'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate',
      ),
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
        { name: 'permessage-deflate', params: [] },
      ],
    );
  });

  it('tolerates optional whitespace around ; , and =', () => {
    assert.deepEqual(parseExtensionHeader('foo ;a = 1 ;  b,bar'), [
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', true],
        ],
      },
      { name: 'bar', params: [] },
    ]);
  });

  it('unquotes a quoted-string value', () => {
    // RFC 6455 9.1: "When using the quoted-string syntax variant, the value after
    // quoted-string unescaping MUST conform to the 'token' ABNF."
    assert.deepEqual(parseExtensionHeader('a; b="1"'), [{ name: 'a', params: [['b', '1']] }]);
    assert.deepEqual(parseExtensionHeader('a; b="1", c; d="x-y"'), [
      { name: 'a', params: [['b', '1']] },
      { name: 'c', params: [['d', 'x-y']] },
    ]);
    assert.deepEqual(parseExtensionHeader('a; b="\\1\\0"'), [{ name: 'a', params: [['b', '10']] }]);
  });

  it('a comma inside a quoted string does not split the list; the value is not a token, so it is refused', () => {
    // RFC 6455 9.1: the unescaped quoted value "MUST conform to the 'token' ABNF", and ","
    // is a separator, not a token character.
    assert.throws(() => parseExtensionHeader('x; y="a,b"'), HandshakeError);
  });

  it('takes undefined and repeated headers', () => {
    assert.deepEqual(parseExtensionHeader(undefined), []);
    assert.deepEqual(parseExtensionHeader(['a', 'b; c=1']), [
      { name: 'a', params: [] },
      { name: 'b', params: [['c', '1']] },
    ]);
  });

  for (const bad of [
    ';',
    'a;',
    'a; ',
    '; b',
    'a b',
    'a; b=',
    'a; b c',
    'a; b="1',
    'a; b="',
    'a; ="1"',
    'a; b=1=2',
    'a; b="1"c',
    'a@b',
    'a; b=@',
    'a; b=""',
  ]) {
    it(`refuses a syntax error with HandshakeError: ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseExtensionHeader(bad), HandshakeError);
    });
  }

  it('formatExtensionHeader writes offers back', () => {
    assert.equal(
      formatExtensionHeader([
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
        { name: 'x', params: [] },
      ]),
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x',
    );
  });

  it('formatExtensionHeader and parseExtensionHeader round-trip', () => {
    const offers = parseExtensionHeader('a; b; c=1, d, e; f=xyz');
    assert.deepEqual(parseExtensionHeader(formatExtensionHeader(offers)), offers);
  });
});

describe('RFC 6455 4.2.2 the server\u2019s opening handshake', () => {
  it('buildServerResponse writes the 101 response head, ending with the blank line', () => {
    assert.equal(
      buildServerResponse({ key: KEY }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        '\r\n',
    );
  });

  it('buildServerResponse adds protocol, extensions and extra headers', () => {
    assert.equal(
      buildServerResponse({
        key: KEY,
        protocol: 'chat',
        extensions: 'permessage-deflate',
        headers: { 'X-Test': '1' },
      }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\n' +
        'X-Test: 1\r\n' +
        '\r\n',
    );
  });

  it('buildRejectResponse writes a complete HTTP refusal', () => {
    const text = buildRejectResponse(426, {
      body: 'Upgrade Required',
      headers: { 'Sec-WebSocket-Version': '13' },
    });
    const [head, body] = text.split('\r\n\r\n');
    assert.equal(body, 'Upgrade Required');
    const lines = head!.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 426 Upgrade Required');
    const headers = Object.fromEntries(
      lines.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }),
    );
    assert.equal(headers['connection'], 'close');
    assert.match(headers['content-type'] ?? '', /^text\/plain/);
    assert.equal(headers['content-length'], String(Buffer.byteLength('Upgrade Required')));
    assert.equal(headers['sec-websocket-version'], '13');
  });

  it('buildRejectResponse counts Content-Length in bytes', () => {
    const text = buildRejectResponse(400, { body: 'é' });
    assert.match(text, /\r\nContent-Length: 2\r\n/i);
    assert.ok(text.startsWith('HTTP/1.1 400 Bad Request\r\n'));
    assert.ok(text.endsWith('\r\n\r\né'));
  });
});

describe('RFC 6455 4.1 the client\u2019s request and the server\u2019s response', () => {
  it('clientRequestHeaders holds the upgrade headers', () => {
    assert.deepEqual(lowerKeys(clientRequestHeaders({ key: KEY })), {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
    });
  });

  it('clientRequestHeaders adds protocols, extensions, origin and extra headers', () => {
    assert.deepEqual(
      lowerKeys(
        clientRequestHeaders({
          key: KEY,
          protocols: ['chat', 'superchat'],
          extensions: 'permessage-deflate; client_max_window_bits',
          origin: 'http://example.com',
          headers: { 'X-Test': '1' },
        }),
      ),
      {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': KEY,
        'sec-websocket-version': '13',
        'sec-websocket-protocol': 'chat, superchat',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        origin: 'http://example.com',
        'x-test': '1',
      },
    );
  });

  const ok = (headers: Headers = {}, statusCode = 101) => ({
    statusCode,
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': ACCEPT,
      ...headers,
    },
  });
  const expect = (protocols: string[] = [], extensionsOffered: string[] = []) => ({
    key: KEY,
    protocols,
    extensionsOffered,
  });

  it('validateServerResponse accepts a valid 101', () => {
    assert.deepEqual(validateServerResponse(ok(), expect()), { protocol: '', extensions: [] });
  });

  it('validateServerResponse returns the selected protocol and extensions', () => {
    assert.deepEqual(
      validateServerResponse(
        ok({
          'sec-websocket-protocol': 'superchat',
          'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
        }),
        expect(['chat', 'superchat'], ['permessage-deflate']),
      ),
      {
        protocol: 'superchat',
        extensions: [{ name: 'permessage-deflate', params: [['server_no_context_takeover', true]] }],
      },
    );
  });

  it('validateServerResponse accepts Upgrade and Connection in any case', () => {
    validateServerResponse(ok({ upgrade: 'WEBSOCKET', connection: 'keep-alive, upgrade' }), expect());
  });

  // RFC 6455 4.1: "If the status code received from the server is not 101, the client handles
  // the response per HTTP [RFC2616] procedures." ... "If the response lacks an |Upgrade|
  // header field or the |Upgrade| header field contains a value that is not an ASCII
  // case-insensitive match for the value "websocket", the client MUST _Fail the WebSocket
  // Connection_." ... and so on for |Connection|, |Sec-WebSocket-Accept|, extensions and
  // subprotocols.
  for (const [name, res, exp] of [
    ['status 200', ok({}, 200), expect()],
    ['status 403', ok({}, 403), expect()],
    ['no Upgrade', ok({ upgrade: undefined }), expect()],
    ['Upgrade: h2c', ok({ upgrade: 'h2c' }), expect()],
    ['no Connection', ok({ connection: undefined }), expect()],
    ['Connection: keep-alive', ok({ connection: 'keep-alive' }), expect()],
    ['no Sec-WebSocket-Accept', ok({ 'sec-websocket-accept': undefined }), expect()],
    ['wrong Sec-WebSocket-Accept', ok({ 'sec-websocket-accept': computeAccept(generateKey()) }), expect()],
    ['a protocol that was not offered', ok({ 'sec-websocket-protocol': 'other' }), expect(['chat'])],
    ['a protocol when none was offered', ok({ 'sec-websocket-protocol': 'chat' }), expect()],
    ['two protocols', ok({ 'sec-websocket-protocol': 'chat, superchat' }), expect(['chat', 'superchat'])],
    [
      'an extension that was not offered',
      ok({ 'sec-websocket-extensions': 'x-webkit-deflate-frame' }),
      expect([], ['permessage-deflate']),
    ],
    [
      'an extension when none was offered',
      ok({ 'sec-websocket-extensions': 'permessage-deflate' }),
      expect(),
    ],
    [
      'a malformed extension header',
      ok({ 'sec-websocket-extensions': 'permessage-deflate;' }),
      expect([], ['permessage-deflate']),
    ],
  ] as const) {
    it(`validateServerResponse refuses ${name} with a DUPLEX_HANDSHAKE_* error`, () => {
      assert.throws(
        () => validateServerResponse(res, { ...exp, protocols: [...exp.protocols] }),
        (e: unknown) =>
          e instanceof HandshakeError &&
          /^DUPLEX_HANDSHAKE_/.test(e.code) &&
          // A client-side failure has no status to answer with, unless the server sent a non-101 one.
          e.status === (res.statusCode === 101 ? undefined : res.statusCode),
      );
    });
  }

  it('a server may pick no protocol even when some were offered', () => {
    assert.equal(validateServerResponse(ok(), expect(['chat'])).protocol, '');
  });
});
