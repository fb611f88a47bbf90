/**
 * The node layer's errors are made from an options object and keep `code` for the DUPLEX_*
 * string (docs/design/errors.md): ConnectionClosedError carries the close event's code as
 * `closeCode`, with `reason` and `wasClean`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BufferFullError,
  ConnectionClosedError,
  DuplexError,
  ErrorCode,
  HandshakeError,
  ProtocolError,
  UnexpectedResponseError,
} from 'duplexjs';

describe('node errors', () => {
  it('ConnectionClosedError: code is the machine code, closeCode/reason/wasClean the close event', () => {
    const cause = new ProtocolError({ code: 'DUPLEX_RESERVED_BITS', message: 'reserved bits set' });
    const e = new ConnectionClosedError({ closeCode: 1002, reason: 'bad frame', wasClean: false, cause });
    assert.ok(e instanceof DuplexError);
    assert.equal(e.code, ErrorCode.ConnectionClosed);
    assert.equal(e.code, 'DUPLEX_CONNECTION_CLOSED');
    assert.deepEqual([e.closeCode, e.reason, e.wasClean], [1002, 'bad frame', false]);
    assert.equal(e.cause, cause);
    assert.equal(e.name, 'ConnectionClosedError');
  });

  it('UnexpectedResponseError and HandshakeError take their details as an object', () => {
    const e = new UnexpectedResponseError({ status: 403, body: 'no', responseHeaders: { 'x-a': '1' } });
    assert.ok(e instanceof HandshakeError);
    assert.deepEqual(
      [e.code, e.status, e.body, e.responseHeaders],
      ['DUPLEX_HANDSHAKE_UNEXPECTED_STATUS', 403, 'no', { 'x-a': '1' }],
    );
    const h = new HandshakeError('DUPLEX_HANDSHAKE_VERSION', 'v', {
      status: 426,
      headers: { 'Sec-WebSocket-Version': '13' },
    });
    assert.deepEqual([h.status, h.headers], [426, { 'Sec-WebSocket-Version': '13' }]);
    assert.deepEqual(new HandshakeError('DUPLEX_HANDSHAKE_TIMEOUT', 't').headers, {});
    const b = new BufferFullError({ bufferedAmount: 10, limit: 5 });
    assert.deepEqual([b.code, b.closeCode], [ErrorCode.BufferFull, 1008]);
  });
});
