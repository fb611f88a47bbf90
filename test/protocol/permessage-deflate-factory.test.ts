/**
 * permessage-deflate as an ExtensionFactory (deflateFactory): the client's offer, the
 * server's choice among offers (RFC 7692 5: invalid ones declined, the next one taken), the
 * client's check of the response, and a pair of Extensions that talk to each other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  deflateFactory,
  HandshakeError,
  InvalidArgumentError,
  offerDeflate,
  PerMessageDeflate,
  parseExtensionHeader,
} from 'duplexjs/protocol';
import { FIXED_KEY, feed, messages, toHex } from './helpers.js';

describe('deflateFactory', () => {
  it('offers what offerDeflate offers', () => {
    const options = { serverNoContextTakeover: true, clientMaxWindowBits: 12 };
    assert.deepEqual(deflateFactory(options).offer(), parseExtensionHeader(offerDeflate(options)));
  });

  it('the server declines an invalid offer and takes the next; the client accepts the answer; the pair talks', () => {
    const server = deflateFactory({ threshold: 0 });
    const client = deflateFactory();
    const offers = parseExtensionHeader(
      'permessage-deflate; server_max_window_bits=08, permessage-deflate; server_max_window_bits=10',
    );
    const accepted = server.accept(offers);
    assert.ok(accepted, 'the second offer is accepted');
    assert.ok(accepted.extension instanceof PerMessageDeflate);
    assert.equal(accepted.extension.params.serverMaxWindowBits, 10);
    const ours = new Connection({ role: 'server', extensions: [accepted.extension] });
    const theirs = new Connection({
      role: 'client',
      maskKey: FIXED_KEY,
      extensions: [client.accepted(accepted.response)],
    });
    const text = Buffer.from('{"a":1,"a":1,"a":1,"a":1}'.repeat(20));
    const frames = Buffer.concat(ours.sendText(text));
    assert.equal(frames[0]! & 0x40, 0x40, 'compressed');
    assert.deepEqual(messages(feed(theirs, frames)), [{ binary: false, data: toHex(text) }]);
  });

  it('declines when no offer is acceptable', () => {
    assert.equal(deflateFactory().accept(parseExtensionHeader('permessage-deflate; unknown=1')), undefined);
  });

  it('the client refuses a response it did not offer', () => {
    assert.throws(
      () =>
        deflateFactory().accepted(parseExtensionHeader('permessage-deflate; server_max_window_bits=16')[0]!),
      HandshakeError,
    );
  });

  it('checks its options once', () => {
    assert.throws(() => deflateFactory({ level: 12 }), InvalidArgumentError);
  });
});
