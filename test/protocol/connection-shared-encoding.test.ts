/**
 * Connection#sharedEncodingKey and #encodeShared: what a broadcast needs from the core to
 * serialize a message once per encoding (compress-once broadcast, RFC 7692 without server
 * context takeover) and write the same frames to many connections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection, type DeflateParams, InvalidStateError, PerMessageDeflate } from 'duplexjs/protocol';

const TAKEOVER: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const STATELESS: DeflateParams = { ...TAKEOVER, serverNoContextTakeover: true };
const MESSAGE = Buffer.from(
  JSON.stringify({ items: Array.from({ length: 60 }, (_, id) => ({ id, ok: true })) }),
);

const server = (params?: DeflateParams) =>
  new Connection({
    role: 'server',
    extensions: params ? [new PerMessageDeflate({ role: 'server', params })] : [],
  });

describe('Connection#sharedEncodingKey', () => {
  it("is '' for a server without extensions and undefined for a client (fresh mask per frame)", () => {
    assert.equal(server().sharedEncodingKey, '');
    assert.equal(new Connection({ role: 'client' }).sharedEncodingKey, undefined);
  });

  it("is the extension's key without server context takeover, undefined with it", () => {
    const ext = new PerMessageDeflate({ role: 'server', params: STATELESS });
    assert.ok(ext.sharedEncodingKey);
    assert.equal(
      new Connection({ role: 'server', extensions: [ext] }).sharedEncodingKey,
      ext.sharedEncodingKey,
    );
    assert.equal(server(TAKEOVER).sharedEncodingKey, undefined);
  });

  it('is undefined when any extension keeps no shared key', () => {
    const opaque = {
      name: 'x-opaque',
      rsvBits: 0x20,
      decodeMessage: (p: Buffer) => p,
      encodeMessage: (payload: Buffer) => ({ payload, rsv: 0 }),
    };
    const conn = new Connection({
      role: 'server',
      extensions: [new PerMessageDeflate({ role: 'server', params: STATELESS }), opaque],
    });
    assert.equal(conn.sharedEncodingKey, undefined);
  });
});

describe('Connection#encodeShared', () => {
  it('gives the frames sendText would, without touching the connection', () => {
    const a = server(STATELESS);
    const b = server(STATELESS);
    a.sendText(Buffer.from('{"an earlier message": "on a only"}'.repeat(40)));
    const shared = Buffer.concat(a.encodeShared(MESSAGE, false));
    assert.equal(shared[0], 0x80 | 0x40 | 0x1, 'FIN, RSV1 (compressed), text');
    assert.ok(shared.length < MESSAGE.length / 2);
    assert.deepEqual(shared, Buffer.concat(b.sendText(MESSAGE)));
    assert.deepEqual(Buffer.concat(b.encodeShared(MESSAGE, true)).subarray(1), shared.subarray(1));
  });

  it('gives the plain unmasked frame without extensions', () => {
    assert.deepEqual(
      Buffer.concat(server().encodeShared(Buffer.from('hi'), false)),
      Buffer.from([0x81, 2, 0x68, 0x69]),
    );
  });

  it('throws InvalidStateError when the encoding depends on the connection', () => {
    assert.throws(() => server(TAKEOVER).encodeShared(MESSAGE, false), InvalidStateError);
    assert.throws(() => new Connection({ role: 'client' }).encodeShared(MESSAGE, false), InvalidStateError);
  });
});
