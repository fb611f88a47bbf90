/**
 * Extension negotiation in the node layer iterates a list of ExtensionFactory
 * (src/node/extensions.ts): the server asks each factory in turn and declines one whose RSV
 * bits another already claims; the client hands each response element to its factory and
 * fails the handshake on an element named twice or by no factory.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deflateFactory,
  type Extension,
  type ExtensionFactory,
  type ExtensionOffer,
  HandshakeError,
  PerMessageDeflate,
  parseExtensionHeader,
} from 'duplexjs/protocol';
// An internal module of the node layer: typed from the source tree, loaded from the build.
import type * as Internal from '../../dist/node/extensions.js';

const { acceptExtensions, negotiateExtensions, offerExtensions } = (await import(
  new URL('../../../dist/node/extensions.js', import.meta.url).href
)) as typeof Internal;

/** fake is a factory for an extension that claims `rsvBits` and changes nothing. */
function fake(name: string, rsvBits: number): ExtensionFactory {
  const extension: Extension = {
    name,
    rsvBits,
    decodeMessage: (payload) => payload,
    encodeMessage: (payload) => ({ payload, rsv: 0 }),
  };
  return {
    name,
    offer: () => [{ name, params: [] }],
    accept: (offers: ExtensionOffer[]) => ({ response: offers[0]!, extension }),
    accepted: () => extension,
  };
}

describe('negotiateExtensions: the server iterates its factories', () => {
  const offers = parseExtensionHeader('x-other, permessage-deflate; client_max_window_bits, x-rsv1');

  it('permessage-deflate alone', () => {
    const agreed = negotiateExtensions([deflateFactory()], offers);
    assert.equal(agreed.header, 'permessage-deflate');
    assert.equal(agreed.extensions.length, 1);
    assert.ok(agreed.extensions[0] instanceof PerMessageDeflate);
  });

  it('two extensions with their own RSV bits, in the order of the factories', () => {
    const agreed = negotiateExtensions([deflateFactory(), fake('x-other', 0x20)], offers);
    assert.equal(agreed.header, 'permessage-deflate, x-other');
    assert.deepEqual(
      agreed.extensions.map((e) => e.name),
      ['permessage-deflate', 'x-other'],
    );
  });

  it('an extension whose RSV bit is taken is declined', () => {
    const agreed = negotiateExtensions([deflateFactory(), fake('x-rsv1', 0x40)], offers);
    assert.equal(agreed.header, 'permessage-deflate');
  });

  it('no factories, no extensions', () => {
    assert.deepEqual(negotiateExtensions([], offers), { header: '', extensions: [] });
  });
});

describe('offerExtensions and acceptExtensions: the client iterates its factories', () => {
  const factories = [deflateFactory(), fake('x-other', 0x20)];

  it('offers every factory, in order', () => {
    assert.equal(offerExtensions(factories), 'permessage-deflate; client_max_window_bits, x-other');
    assert.equal(offerExtensions([]), undefined);
  });

  it('hands each response element to its factory', () => {
    const got = acceptExtensions(factories, parseExtensionHeader('permessage-deflate, x-other'));
    assert.deepEqual(
      got.map((e) => e.name),
      ['permessage-deflate', 'x-other'],
    );
  });

  it('fails on an extension named twice or not offered', () => {
    for (const header of ['permessage-deflate, permessage-deflate', 'x-unknown']) {
      assert.throws(() => acceptExtensions(factories, parseExtensionHeader(header)), HandshakeError, header);
    }
  });
});
