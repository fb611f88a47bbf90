/**
 * permessage-deflate negotiation (RFC 7692 5 and 7.1): the client's offer, the server's
 * choice among offers, and the client's check of the response. Headers go in as the text a
 * peer would send (through parseExtensionHeader), responses come out as header text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptDeflateResponse,
  type DeflateParams,
  formatExtensionHeader,
  HandshakeError,
  InvalidArgumentError,
  negotiateDeflate,
  offerDeflate,
  type PerMessageDeflateOptions,
  parseExtensionHeader,
} from 'duplexjs/protocol';

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** answer runs the server's negotiation on a header value and returns the response header text (undefined: declined). */
function answer(header: string, options?: PerMessageDeflateOptions): string | undefined {
  const agreed = negotiateDeflate(parseExtensionHeader(header), options);
  return agreed === undefined ? undefined : formatExtensionHeader([agreed.response]);
}

/** accept runs the client's check of a response header value that holds one element. */
function accept(header: string, options?: PerMessageDeflateOptions): DeflateParams {
  const elements = parseExtensionHeader(header);
  assert.equal(elements.length, 1);
  return acceptDeflateResponse(elements[0]!, options);
}

function assertClientFails(header: string, options?: PerMessageDeflateOptions): void {
  assert.throws(
    () => accept(header, options),
    (e: unknown) => e instanceof HandshakeError && e.code === 'DUPLEX_HANDSHAKE_BAD_EXTENSIONS',
    header,
  );
}

describe('RFC 7692 7 offer: what the client sends', () => {
  it('by default offers permessage-deflate with client_max_window_bits and no value', () => {
    // RFC 7692 7.1.2.2: "By including this parameter in an offer, a client informs the server
    // that the client supports the "client_max_window_bits" extension parameter in an
    // extension negotiation response".
    assert.equal(offerDeflate(), 'permessage-deflate; client_max_window_bits');
    assert.equal(offerDeflate({}), 'permessage-deflate; client_max_window_bits');
  });

  it('offers every parameter the options ask for', () => {
    assert.equal(
      offerDeflate({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
  });

  it('an offer the server accepts as is gives back the same parameters to both sides', () => {
    for (const options of [
      {},
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true },
      { serverMaxWindowBits: 8, clientMaxWindowBits: 12 },
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 8,
      },
    ]) {
      const agreed = negotiateDeflate(parseExtensionHeader(offerDeflate(options)));
      assert.ok(agreed, JSON.stringify(options));
      assert.deepEqual(
        acceptDeflateResponse(agreed.response, options),
        agreed.params,
        JSON.stringify(options),
      );
    }
  });

  it('refuses options out of range with DUPLEX_INVALID_OPTION', () => {
    for (const options of [
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 16 },
      { clientMaxWindowBits: 9.5 },
      { level: 10 },
      { memLevel: 0 },
      { threshold: -1 },
    ]) {
      assert.throws(
        () => offerDeflate(options),
        (e: unknown) => e instanceof InvalidArgumentError && e.code === 'DUPLEX_INVALID_OPTION',
        JSON.stringify(options),
      );
    }
  });
});

describe('RFC 7692 5 server: the first acceptable offer wins', () => {
  it('accepts a bare offer with no parameters and the defaults', () => {
    const agreed = negotiateDeflate(parseExtensionHeader('permessage-deflate'));
    assert.deepEqual(agreed, {
      response: { name: 'permessage-deflate', params: [] },
      params: DEFAULT_PARAMS,
    });
  });

  it('returns undefined when nothing is offered or only other extensions are', () => {
    assert.equal(negotiateDeflate([]), undefined);
    assert.equal(answer('x-webkit-deflate-frame, foo; bar=1'), undefined);
  });

  it('skips other extensions and picks the first permessage-deflate offer', () => {
    assert.equal(
      answer('foo, permessage-deflate; server_max_window_bits=10, permessage-deflate'),
      'permessage-deflate; server_max_window_bits=10',
    );
  });

  it('matches the extension name without regard to case', () => {
    assert.equal(answer('Permessage-Deflate'), 'permessage-deflate');
  });

  // RFC 7692 5: "A server MUST decline an extension negotiation offer for this extension if
  // any of the following conditions are met" ... and then the next offer is considered.
  const declined: Array<[string, string]> = [
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['an unknown parameter with a value', 'permessage-deflate; foo=1'],
    ['a repeated parameter', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    [
      'a repeated window parameter',
      'permessage-deflate; client_max_window_bits=10; client_max_window_bits=10',
    ],
    ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1'],
    ['client_no_context_takeover with a value', 'permessage-deflate; client_no_context_takeover="x"'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits=0', 'permessage-deflate; server_max_window_bits=0'],
    ['client_max_window_bits=7', 'permessage-deflate; client_max_window_bits=7'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
    // RFC 7692 7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive"
    ['a leading zero (08)', 'permessage-deflate; server_max_window_bits=08'],
    ['a leading zero (010)', 'permessage-deflate; client_max_window_bits=010'],
    ['a sign', 'permessage-deflate; server_max_window_bits=+9'],
    ['a non-decimal value', 'permessage-deflate; server_max_window_bits=0xa'],
    ['a quoted value that is not a number', 'permessage-deflate; server_max_window_bits="ten"'],
  ];
  for (const [what, offer] of declined) {
    it(`declines an offer with ${what} and takes the next one`, () => {
      assert.equal(answer(offer), undefined, 'declined on its own');
      assert.equal(
        answer(`${offer}, permessage-deflate; server_no_context_takeover`),
        'permessage-deflate; server_no_context_takeover',
        'the next offer is taken',
      );
    });
  }

  it('accepts a quoted value (RFC 6455 9.1 allows quoted-string)', () => {
    assert.equal(
      answer('permessage-deflate; server_max_window_bits="10"; client_max_window_bits="12"'),
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('answers every window size 8-15 it is offered', () => {
    for (let bits = 8; bits <= 15; bits++) {
      const agreed = negotiateDeflate(
        parseExtensionHeader(
          `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`,
        ),
      );
      assert.ok(agreed);
      assert.equal(agreed.params.serverMaxWindowBits, bits);
      assert.equal(agreed.params.clientMaxWindowBits, bits);
    }
  });
});

describe('RFC 7692 7.1.1 context takeover parameters in the answer', () => {
  it('echoes server_no_context_takeover when offered (7.1.1.1)', () => {
    // "A server accepts an extension negotiation offer that includes the
    // "server_no_context_takeover" extension parameter by including the
    // "server_no_context_takeover" extension parameter in the corresponding extension
    // negotiation response"
    const agreed = negotiateDeflate(parseExtensionHeader('permessage-deflate; server_no_context_takeover'));
    assert.deepEqual(agreed?.response.params, [['server_no_context_takeover', true]]);
    assert.equal(agreed?.params.serverNoContextTakeover, true);
  });

  it('adds server_no_context_takeover when configured, even when not offered (7.1.1.1 "MAY")', () => {
    assert.equal(
      answer('permessage-deflate', { serverNoContextTakeover: true }),
      'permessage-deflate; server_no_context_takeover',
    );
  });

  it('uses an offered client_no_context_takeover hint and echoes it (7.1.1.2)', () => {
    const agreed = negotiateDeflate(parseExtensionHeader('permessage-deflate; client_no_context_takeover'));
    assert.deepEqual(agreed?.response.params, [['client_no_context_takeover', true]]);
    assert.equal(agreed?.params.clientNoContextTakeover, true);
  });

  it('adds client_no_context_takeover when configured', () => {
    assert.equal(
      answer('permessage-deflate', { clientNoContextTakeover: true }),
      'permessage-deflate; client_no_context_takeover',
    );
  });
});

describe('RFC 7692 7.1.2 window parameters in the answer', () => {
  it('answers server_max_window_bits with the smaller of the offer and our limit (7.1.2.1)', () => {
    // "by including the "server_max_window_bits" extension parameter in the extension
    // negotiation response ... with the same or smaller value as the offer"
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=12'),
      'permessage-deflate; server_max_window_bits=12',
    );
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }),
      'permessage-deflate; server_max_window_bits=10',
    );
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 }),
      'permessage-deflate; server_max_window_bits=9',
    );
  });

  it('states its own server window limit when not offered one', () => {
    assert.equal(
      answer('permessage-deflate', { serverMaxWindowBits: 11 }),
      'permessage-deflate; server_max_window_bits=11',
    );
  });

  it('leaves client_max_window_bits out when the client offered it with no value and we allow 15', () => {
    const agreed = negotiateDeflate(parseExtensionHeader('permessage-deflate; client_max_window_bits'));
    assert.deepEqual(agreed, {
      response: { name: 'permessage-deflate', params: [] },
      params: DEFAULT_PARAMS,
    });
  });

  it('limits the client window when the client offered client_max_window_bits (7.1.2.2)', () => {
    assert.equal(
      answer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=10',
    );
    assert.equal(
      answer('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=10',
    );
    // The offered value is a hint we take: "equal to or smaller than the received value".
    assert.equal(
      answer('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=9',
    );
  });

  it('declines an offer without client_max_window_bits when it must limit the client window (7.1.2.2)', () => {
    // "If a received extension negotiation offer doesn't have the "client_max_window_bits"
    // extension parameter, the corresponding extension negotiation response to the offer
    // MUST NOT include the "client_max_window_bits" extension parameter."
    assert.equal(answer('permessage-deflate', { clientMaxWindowBits: 10 }), undefined);
    assert.equal(
      answer('permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=10',
    );
  });
});

describe('RFC 7692 5 client: checking the response', () => {
  it('accepts a bare response to the default offer', () => {
    assert.deepEqual(accept('permessage-deflate'), DEFAULT_PARAMS);
  });

  it('takes the parameters the server chose', () => {
    assert.deepEqual(
      accept(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
      ),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 10,
      },
    );
    assert.deepEqual(accept('permessage-deflate; server_max_window_bits="12"'), {
      ...DEFAULT_PARAMS,
      serverMaxWindowBits: 12,
    });
  });

  it('keeps its own client_no_context_takeover and window limit when the server did not answer them', () => {
    assert.deepEqual(
      accept('permessage-deflate', { clientNoContextTakeover: true, clientMaxWindowBits: 11 }),
      {
        ...DEFAULT_PARAMS,
        clientNoContextTakeover: true,
        clientMaxWindowBits: 11,
      },
    );
  });

  // RFC 7692 5: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an
  // extension negotiation offer for this extension with an extension negotiation response
  // meeting any of the following conditions"
  const failures: Array<[string, string, PerMessageDeflateOptions?]> = [
    ['"contains an extension parameter not defined for use in a response"', 'permessage-deflate; foo'],
    [
      '"contains an extension parameter with an invalid value" (16)',
      'permessage-deflate; server_max_window_bits=16',
    ],
    ['an invalid value (leading zero)', 'permessage-deflate; client_max_window_bits=09'],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    [
      'client_max_window_bits without a value (a response must give one)',
      'permessage-deflate; client_max_window_bits',
    ],
    [
      '"contains multiple extension parameters with the same name"',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
    ],
    [
      'client_max_window_bits above what we offered',
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
    ],
    [
      'server_max_window_bits above what we offered',
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
    ],
    ['no server_max_window_bits when we offered one', 'permessage-deflate', { serverMaxWindowBits: 10 }],
    [
      'no server_no_context_takeover when we offered it',
      'permessage-deflate',
      { serverNoContextTakeover: true },
    ],
    ['another extension name', 'x-webkit-deflate-frame'],
  ];
  for (const [what, header, options] of failures) {
    it(`fails on ${what}`, () => assertClientFails(header, options));
  }
});
