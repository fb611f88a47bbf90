/**
 * The public surface of duplex/protocol is a deliberate list (STYLE.md habit 15). This test
 * pins it to the list of docs/design/protocol-api.md; a new export means updating both.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as protocol from 'duplexjs/protocol';

/** The runtime exports named in docs/design/protocol-api.md (types are not runtime values). */
const DOCUMENTED = [
  // Connection and its constants
  'Connection',
  'ReadyState',
  'DEFAULT_MAX_PAYLOAD',
  // framing
  'FrameParser',
  'serializeFrame',
  'headerLength',
  'Opcode',
  'isControlOpcode',
  'MAX_CONTROL_PAYLOAD',
  'mask',
  'unmask',
  // UTF-8
  'Utf8Validator',
  'isValidUtf8',
  // close codes
  'CloseCode',
  'isValidWireCloseCode',
  // handshake
  'generateKey',
  'computeAccept',
  'parseTokenList',
  'parseExtensionHeader',
  'formatExtensionHeader',
  'validateClientRequest',
  'buildServerResponse',
  'buildRejectResponse',
  'clientRequestHeaders',
  'validateServerResponse',
  // errors
  'DuplexError',
  'ErrorCode',
  'ProtocolError',
  'InvalidUtf8Error',
  'PayloadTooBigError',
  'HandshakeError',
  'InvalidStateError',
  'InvalidArgumentError',
  // permessage-deflate (RFC 7692)
  'offerDeflate',
  'negotiateDeflate',
  'acceptDeflateResponse',
  'PerMessageDeflate',
  'deflateFactory',
].sort();

describe('duplexjs/protocol exports', () => {
  it('exports exactly the documented names', () => {
    const actual = Object.keys(protocol).sort();
    const extra = actual.filter((k) => !DOCUMENTED.includes(k));
    const missing = DOCUMENTED.filter((k) => !actual.includes(k));
    assert.deepEqual({ extra, missing }, { extra: [], missing: [] });
    assert.deepEqual(actual, DOCUMENTED);
  });

  it('ReadyState holds the WHATWG readyState values', () => {
    assert.deepEqual(protocol.ReadyState, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  });

  it('the errors form one hierarchy under DuplexError', () => {
    const {
      DuplexError,
      ProtocolError,
      InvalidUtf8Error,
      PayloadTooBigError,
      HandshakeError,
      InvalidStateError,
      InvalidArgumentError,
    } = protocol;
    assert.ok(new ProtocolError({ code: 'DUPLEX_RESERVED_BITS', message: 'x' }) instanceof DuplexError);
    assert.ok(new InvalidUtf8Error('text message') instanceof ProtocolError);
    assert.ok(new PayloadTooBigError({ size: 2, limit: 1 }) instanceof ProtocolError);
    assert.ok(new HandshakeError('DUPLEX_HANDSHAKE_NO_HOST', 'x') instanceof DuplexError);
    assert.ok(new InvalidStateError('x') instanceof DuplexError);
    assert.ok(new InvalidArgumentError('DUPLEX_INVALID_OPTION', 'x') instanceof DuplexError);
    assert.ok(!(new HandshakeError('DUPLEX_HANDSHAKE_NO_HOST', 'x') instanceof ProtocolError));
    const e = new PayloadTooBigError({ size: 2_097_152, limit: 1_048_576 });
    assert.equal(e.code, 'DUPLEX_PAYLOAD_TOO_BIG');
    assert.equal(e.closeCode, 1009);
    assert.equal(e.size, 2_097_152);
    assert.equal(e.limit, 1_048_576);
    assert.equal(e.name, 'PayloadTooBigError');
    const u = new InvalidUtf8Error('close reason');
    assert.equal(u.code, 'DUPLEX_INVALID_UTF8');
    assert.equal(u.closeCode, 1007);
    assert.equal(new ProtocolError({ code: 'DUPLEX_RESERVED_BITS', message: 'x' }).closeCode, 1002);
  });
});
