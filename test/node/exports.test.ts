import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as duplex from 'duplexjs';

describe('package root exports', () => {
  it('is the deliberate list', () => {
    assert.deepEqual(Object.keys(duplex).sort(), [
      'BufferFullError',
      'CloseCode',
      'CloseEvent',
      'ConnectionClosedError',
      'DuplexError',
      'ErrorCode',
      'ErrorEvent',
      'HandshakeError',
      'InvalidArgumentError',
      'InvalidStateError',
      'InvalidUtf8Error',
      'PayloadTooBigError',
      'PreparedMessage',
      'ProtocolError',
      'UnexpectedResponseError',
      'WebSocket',
      'WebSocketServer',
      'createWebSocketStream',
      'default',
      'prepareMessage',
      'proxyFromEnv',
    ]);
  });

  it('has WHATWG readyState constants on the class and on instances', () => {
    assert.deepEqual(
      [duplex.WebSocket.CONNECTING, duplex.WebSocket.OPEN, duplex.WebSocket.CLOSING, duplex.WebSocket.CLOSED],
      [0, 1, 2, 3],
    );
    assert.ok(duplex.UnexpectedResponseError.prototype instanceof duplex.HandshakeError);
    assert.ok(duplex.ConnectionClosedError.prototype instanceof duplex.DuplexError);
    assert.ok(duplex.BufferFullError.prototype instanceof duplex.DuplexError);
  });

  it("has a default export shaped as ws's: the WebSocket class carrying the server and the stream helper", () => {
    assert.equal(duplex.default, duplex.WebSocket);
    assert.equal(duplex.default.Server, duplex.WebSocketServer);
    assert.equal(duplex.default.WebSocketServer, duplex.WebSocketServer);
    assert.equal(duplex.default.WebSocket, duplex.WebSocket);
    assert.equal(duplex.default.createWebSocketStream, duplex.createWebSocketStream);
  });
});
