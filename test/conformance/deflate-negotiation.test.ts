/**
 * RFC 7692 section 5 and 7.1: permessage-deflate negotiation over real HTTP against a running
 * `duplex echo` (default options: deflate accepted), and against `duplex echo --no-deflate`.
 * The raw client writes each Sec-WebSocket-Extensions offer by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import { connectRaw, encodeFrame, Op } from '../helpers/raw-client.js';
import { DeflateSession, jsonLike, parseDeflateResponse } from '../helpers/raw-deflate.js';
import { echoServer, expectFailure, READ_MS, TEST } from './support.js';

const server = echoServer();
before(server.start);
after(server.stop);

/** negotiated opens a connection with `offer` and returns the response's extension header (undefined when none). */
async function negotiated(offer: string | undefined): Promise<string | undefined> {
  const c = await connectRaw(server.get().port, { extensions: offer });
  try {
    return c.response.headers['sec-websocket-extensions'];
  } finally {
    c.destroy();
  }
}

describe('RFC 7692 5 and 7.1: the exact response to an offer', () => {
  // Each pair: the client's offer and the exact Sec-WebSocket-Extensions value of the 101.
  const cases: Array<[offer: string, response: string, why: string]> = [
    ['permessage-deflate', 'permessage-deflate', 'a bare offer is accepted as is'],
    [
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate',
      '7.1.2.2: the server need not limit the client window it supports',
    ],
    [
      'permessage-deflate; client_max_window_bits; server_max_window_bits=12; client_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12',
      'every parameter at once',
    ],
    [
      'permessage-deflate; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover',
      '7.1.1.1: an accepted server_no_context_takeover is in the response',
    ],
    [
      'permessage-deflate; client_no_context_takeover',
      'permessage-deflate; client_no_context_takeover',
      '7.1.1.2: the server may echo client_no_context_takeover',
    ],
    [
      'permessage-deflate; server_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=10',
      '7.1.2.1: an accepted server_max_window_bits is answered with a value no larger',
    ],
    [
      'permessage-deflate; client_max_window_bits=9',
      'permessage-deflate; client_max_window_bits=9',
      '7.1.2.2: client_max_window_bits with a value',
    ],
    [
      'permessage-deflate; server_max_window_bits="12"',
      'permessage-deflate; server_max_window_bits=12',
      'RFC 6455 9.1: a quoted value is the same value',
    ],
    ['PerMessage-Deflate', 'permessage-deflate', 'extension tokens are case-insensitive'],
  ];
  for (const [offer, response, why] of cases) {
    test(`${offer} → ${response} (${why})`, TEST, async () => {
      assert.equal(await negotiated(offer), response);
    });
  }
});

describe('RFC 7692 5: several offers, the first acceptable one is chosen', () => {
  test('two valid offers: the first one', TEST, async () => {
    assert.equal(
      await negotiated('permessage-deflate; server_max_window_bits=10, permessage-deflate'),
      'permessage-deflate; server_max_window_bits=10',
    );
  });

  test('an unknown extension before permessage-deflate is skipped', TEST, async () => {
    assert.equal(await negotiated('x-webkit-deflate-frame, permessage-deflate'), 'permessage-deflate');
  });

  // RFC 7692 5: "A server MUST decline an extension negotiation offer for this extension if
  // any of the following conditions are met: The negotiation offer contains an extension
  // parameter not defined for use in an offer. The negotiation offer contains an extension
  // parameter with an invalid value. The negotiation offer contains multiple extension
  // parameters with the same name. The server doesn't support the offered configuration."
  const invalid: Array<[offer: string, why: string]> = [
    ['permessage-deflate; foo=1', 'an unknown parameter'],
    ['permessage-deflate; foo', 'an unknown parameter without a value'],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'a repeated parameter'],
    [
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
      'a repeated parameter, once with a value',
    ],
    ['permessage-deflate; server_max_window_bits=16', 'server_max_window_bits above 15'],
    ['permessage-deflate; server_max_window_bits=7', 'server_max_window_bits below 8'],
    ['permessage-deflate; server_max_window_bits', 'server_max_window_bits without a value'],
    ['permessage-deflate; server_max_window_bits=1x', 'a value that is not a number'],
    ['permessage-deflate; server_max_window_bits=-9', 'a negative value'],
    ['permessage-deflate; client_max_window_bits=16', 'client_max_window_bits above 15'],
    ['permessage-deflate; client_max_window_bits=0', 'client_max_window_bits of 0'],
    ['permessage-deflate; server_no_context_takeover=1', 'server_no_context_takeover with a value'],
    ['permessage-deflate; client_no_context_takeover=true', 'client_no_context_takeover with a value'],
  ];
  for (const [offer, why] of invalid) {
    test(`declined, 101 without the extension: ${why} (${offer})`, TEST, async () => {
      assert.equal(await negotiated(offer), undefined);
    });
    test(`declined, the next offer is chosen: ${why}`, TEST, async () => {
      assert.equal(
        await negotiated(`${offer}, permessage-deflate; client_no_context_takeover`),
        'permessage-deflate; client_no_context_takeover',
      );
    });
  }

  test('three offers, the first two invalid: the third', TEST, async () => {
    assert.equal(
      await negotiated(
        'permessage-deflate; server_max_window_bits=20, permessage-deflate; bogus, permessage-deflate; server_max_window_bits=9',
      ),
      'permessage-deflate; server_max_window_bits=9',
    );
  });

  test('offers spread over two header lines are read in order', TEST, async () => {
    const c = await connectRaw(server.get().port, {
      extensions: 'permessage-deflate; server_max_window_bits=99',
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=11' },
    });
    try {
      assert.equal(
        c.response.headers['sec-websocket-extensions'],
        'permessage-deflate; server_max_window_bits=11',
      );
    } finally {
      c.destroy();
    }
  });

  test('the response names permessage-deflate once and only known parameters', TEST, async () => {
    const value = await negotiated(
      'permessage-deflate; client_max_window_bits; server_max_window_bits=12; server_no_context_takeover; client_no_context_takeover',
    );
    assert.ok(value !== undefined);
    assert.ok(!value.includes(','), `one element: ${value}`);
    const params = parseDeflateResponse(value);
    assert.equal(new Set(params.names).size, params.names.length, `no repeated parameter: ${value}`);
    assert.equal(params.serverNoContextTakeover, true);
    assert.ok(params.serverMaxWindowBits !== undefined && params.serverMaxWindowBits <= 12, value);
  });
});

describe('RFC 7692 8: a declined offer means plain RFC 6455, RSV1 fails with 1002', () => {
  test('RSV1 after an invalid offer was declined', TEST, async () => {
    const c = await connectRaw(server.get().port, { extensions: 'permessage-deflate; foo' });
    try {
      assert.equal(c.response.headers['sec-websocket-extensions'], undefined);
      void c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: Buffer.from('f248cdc9c90700', 'hex') }));
      await expectFailure(c, 1002, 'RSV1 without deflate');
    } finally {
      c.destroy();
    }
  });
});

describe('duplex echo --no-deflate', () => {
  let plain: EchoProcess | undefined;
  before(async () => {
    plain = await startEcho(['--no-deflate']);
  });
  after(async () => {
    await plain?.stop();
  });

  test('answers an offer with a 101 without Sec-WebSocket-Extensions', TEST, async () => {
    const c = await connectRaw(plain!.port, { extensions: 'permessage-deflate; client_max_window_bits' });
    try {
      assert.equal(c.response.headers['sec-websocket-extensions'], undefined);
      // RFC 6455 5.2: with no extension negotiated RSV1 has no meaning: 1002.
      void c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: Buffer.from('f248cdc9c90700', 'hex') }));
      await expectFailure(c, 1002, 'RSV1 on --no-deflate');
    } finally {
      c.destroy();
    }
  });
});

describe('a negotiated connection works with the parameters of the response', () => {
  test('compressed text and binary both ways with every parameter offered', TEST, async () => {
    const offer =
      'permessage-deflate; client_max_window_bits=11; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover';
    const c = await connectRaw(server.get().port, { extensions: offer });
    const header = c.response.headers['sec-websocket-extensions'];
    assert.ok(header !== undefined, 'deflate negotiated');
    const session = new DeflateSession(c, parseDeflateResponse(header), 11);
    try {
      const text = jsonLike(5000);
      await session.sendCompressed(Op.TEXT, text);
      const echo = await session.receive(READ_MS);
      assert.equal(echo.opcode, Op.TEXT);
      assert.equal(echo.compressed, true, 'a 5000-byte echo is compressed');
      assert.equal(echo.data.toString('utf8'), text);
    } finally {
      session.close();
      c.destroy();
    }
  });
});
