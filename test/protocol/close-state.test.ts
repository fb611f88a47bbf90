/**
 * The close as the core owns it (RFC 6455 7): the closing handshake, the peer's end of
 * stream (`receiveEof`), what the transport does with TCP next (`tcp`) and the status it
 * reports once TCP is gone (`closeStatus`), in each state and for both roles.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Connection, DuplexError, InvalidStateError, type Role } from 'duplexjs/protocol';
import {
  assertBytes,
  client,
  closePayload,
  expectedClose,
  expectFailure,
  feed,
  frame,
  maskedFrame,
  server,
} from './helpers.js';

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** make builds a connection of `role` (clients mask with the fixed key). */
function make(role: Role): Connection {
  return role === 'server' ? server() : client();
}

/** peerFrame is a frame as the peer of `role` sends it: masked towards a server. */
function peerFrame(role: Role, first: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  return role === 'server' ? maskedFrame(first, payload) : frame(first, payload);
}

/** peerClose is the peer's close frame, with a code or (code undefined) an empty body. */
function peerClose(role: Role, code?: number, reason = ''): Buffer {
  return peerFrame(role, 0x88, code === undefined ? Buffer.alloc(0) : closePayload(code, reason));
}

/** handshakeDone runs a closing handshake that the peer started; the connection echoes it. */
function handshakeDone(role: Role): Connection {
  const conn = make(role);
  feed(conn, peerClose(role, 1000, 'bye'));
  return conn;
}

/** failed is a connection the peer failed with a reserved opcode (1002). */
function failed(role: Role): Connection {
  const conn = make(role);
  expectFailure(conn, feed(conn, peerFrame(role, 0x83)), 1002);
  return conn;
}

for (const role of ['server', 'client'] as const) {
  describe(`RFC 6455 7.1.1 what a ${role} does with TCP`, () => {
    it('OPEN: nothing; closeStatus would be 1006 (no closing handshake)', () => {
      const conn = make(role);
      assert.equal(conn.tcp, 'open');
      assert.deepEqual(conn.closeStatus, { code: 1006, reason: '', wasClean: false });
    });

    it('our close frame sent: wait for the peer\u2019s (await-close)', () => {
      const conn = make(role);
      assertBytes(conn.close(1000, 'done'), expectedClose(role, 1000, 'done'));
      assert.equal(conn.state, CLOSING);
      assert.equal(conn.tcp, 'await-close');
      assert.deepEqual(conn.closeStatus, { code: 1006, reason: '', wasClean: false });
    });

    it(`the peer answers our close: ${role === 'server' ? 'end TCP first' : 'wait for the server to end TCP'}`, () => {
      const conn = make(role);
      conn.close(1000);
      const got = feed(conn, peerClose(role, 1000));
      assert.deepEqual(got.output, [], 'no second close frame');
      assert.equal(conn.state, CLOSED);
      assert.equal(conn.tcp, role === 'server' ? 'end' : 'await-fin');
      assert.deepEqual(conn.closeStatus, { code: 1000, reason: '', wasClean: true });
    });

    it(`the peer starts the close: echo its code, then ${role === 'server' ? 'end' : 'await-fin'}; wasClean with its code and reason`, () => {
      const conn = make(role);
      const got = feed(conn, peerClose(role, 4000, 'bye'));
      assert.deepEqual(got.events, [{ type: 'close', code: 4000, reason: 'bye' }]);
      assertBytes(got.output, expectedClose(role, 4000));
      assert.equal(conn.tcp, role === 'server' ? 'end' : 'await-fin');
      assert.deepEqual(conn.closeStatus, { code: 4000, reason: 'bye', wasClean: true });
    });

    it('a close frame without a code: reported as 1005, echoed empty', () => {
      const conn = make(role);
      const got = feed(conn, peerClose(role));
      assert.deepEqual(got.events, [{ type: 'close', code: 1005, reason: '' }]);
      assertBytes(got.output, role === 'server' ? '8800' : '8880 01020304');
      assert.deepEqual(conn.closeStatus, { code: 1005, reason: '', wasClean: true });
    });

    it('a protocol error: our close frame names it, end TCP at once (RFC 6455 7.1.7), wasClean false', () => {
      const conn = failed(role);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1002, reason: '', wasClean: false });
    });

    it('a message over maxPayload: 1009, end TCP at once', () => {
      const conn = role === 'server' ? server({ maxPayload: 2 }) : client({ maxPayload: 2 });
      expectFailure(conn, feed(conn, peerFrame(role, 0x82, 'abc')), 1009);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1009, reason: '', wasClean: false });
    });

    it('invalid UTF-8 in the peer\u2019s close reason: 1007, not a clean close', () => {
      const conn = make(role);
      const body = Buffer.concat([closePayload(1000), Buffer.from([0xff])]);
      expectFailure(conn, feed(conn, peerFrame(role, 0x88, body)), 1007);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1007, reason: '', wasClean: false });
    });
  });

  describe(`receiveEof: the peer of a ${role} ends its byte stream`, () => {
    it('OPEN: abnormal closure, 1006; CLOSING; end TCP; sends refused; no event', () => {
      const conn = make(role);
      conn.receiveEof();
      assert.equal(conn.state, CLOSING);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1006, reason: '', wasClean: false });
      assert.throws(() => conn.sendText('late'), InvalidStateError);
    });

    it('in the middle of a message: the partial message is dropped, 1006', () => {
      const conn = make(role);
      assert.deepEqual(feed(conn, peerFrame(role, 0x01, 'ab')).events, []);
      conn.receiveEof();
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1006, reason: '', wasClean: false });
    });

    it('CLOSING (our close frame unanswered): end TCP, 1006', () => {
      const conn = make(role);
      conn.close(1001);
      conn.receiveEof();
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1006, reason: '', wasClean: false });
    });

    it('after the closing handshake: end TCP, still a clean close with the peer\u2019s code', () => {
      const conn = handshakeDone(role);
      conn.receiveEof();
      assert.equal(conn.state, CLOSED);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1000, reason: 'bye', wasClean: true });
    });

    it('after a failure: end TCP, the failure\u2019s code', () => {
      const conn = failed(role);
      conn.receiveEof();
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1002, reason: '', wasClean: false });
    });
  });

  describe(`fail: a ${role} fails for a reason found outside receive`, () => {
    it('an internal error is 1011, decided by the core; its text never goes to the peer', () => {
      const conn = make(role);
      const got = conn.fail(new Error('bug in a handler'));
      assert.equal(got.events.length, 1);
      const event = got.events[0]!;
      assert.ok(event.type === 'error');
      assert.equal(event.error.code, 'DUPLEX_INTERNAL_ERROR');
      assert.equal(event.error.closeCode, 1011);
      assertBytes(got.output, expectedClose(role, 1011));
      assert.equal(conn.state, CLOSED);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1011, reason: '', wasClean: false });
    });

    it('a DuplexError that carries a close code keeps it', () => {
      const conn = make(role);
      const got = conn.fail(new DuplexError('DUPLEX_BUFFER_FULL', 'policy', { closeCode: 1008 }));
      assertBytes(got.output, expectedClose(role, 1008, 'policy'));
      assert.deepEqual(conn.closeStatus, { code: 1008, reason: '', wasClean: false });
    });

    it('after our close frame: no second close frame, TCP ends at once, the close is not clean', () => {
      const conn = make(role);
      conn.close(1000);
      const got = conn.fail(new Error('bug'));
      assert.deepEqual(got.output, []);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1011, reason: '', wasClean: false });
    });

    it('after the closing handshake: no frame, and the close is reported as the failure', () => {
      const conn = handshakeDone(role);
      const got = conn.fail(new Error('bug'));
      assert.deepEqual(got.output, []);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1011, reason: '', wasClean: false });
    });

    it('later bytes are ignored', () => {
      const conn = make(role);
      conn.fail(new Error('bug'));
      const late = peerFrame(role, 0x81, 'a');
      assert.deepEqual(conn.receive(late), { events: [], output: [], consumed: late.length });
    });
  });

  describe(`failInternal: a ${role} fails for a fault on its own side (1011, decided in failInto)`, () => {
    it('sends 1011 without a reason, reports DUPLEX_INTERNAL_ERROR naming what failed, with the exception as cause', () => {
      const conn = make(role);
      const cause = new Error('listener bug: secret detail');
      const got = conn.failInternal('a listener threw', cause);
      assert.equal(got.events.length, 1);
      const event = got.events[0]!;
      assert.ok(event.type === 'error');
      assert.equal(event.error.code, 'DUPLEX_INTERNAL_ERROR');
      assert.equal(event.error.closeCode, 1011);
      assert.equal(event.error.message, 'internal error: a listener threw');
      assert.equal(event.error.cause, cause);
      // Internal error text never goes to the peer: the close frame is the code alone.
      assertBytes(got.output, expectedClose(role, 1011));
      assert.equal(conn.state, CLOSED);
      assert.equal(conn.tcp, 'end');
      assert.deepEqual(conn.closeStatus, { code: 1011, reason: '', wasClean: false });
    });

    it('is 1011 even when the exception is a DuplexError that names another close code', () => {
      const conn = make(role);
      // What escapes a `for await` loop of another connection, for example.
      const cause = new DuplexError('DUPLEX_CONNECTION_CLOSED', 'closed', { closeCode: 1006 });
      const got = conn.failInternal('a listener threw', cause);
      assertBytes(got.output, expectedClose(role, 1011));
      assert.deepEqual(conn.closeStatus, { code: 1011, reason: '', wasClean: false });
    });

    it('once our close frame was sent, the close under way stands: nothing happens', () => {
      const conn = make(role);
      conn.close(1000);
      assert.deepEqual(conn.failInternal('a listener threw', new Error('bug')), {
        events: [],
        output: [],
        consumed: 0,
      });
      assert.equal(conn.tcp, 'await-close');
      assert.equal(conn.state, CLOSING);
    });

    it("after the closing handshake or the peer's end of stream: nothing happens, the status stands", () => {
      const done = handshakeDone(role);
      const status = done.closeStatus;
      assert.deepEqual(done.failInternal('late', new Error('bug')).events, []);
      assert.deepEqual(done.closeStatus, status);
      const eof = make(role);
      eof.receiveEof();
      assert.deepEqual(eof.failInternal('late', new Error('bug')).output, []);
      assert.deepEqual(eof.closeStatus, { code: 1006, reason: '', wasClean: false });
    });
  });

  describe(`abandon: a ${role} drops data it was asked to send (the send-buffer limit)`, () => {
    it('sends the close frame and waits for the answer, but the close is never clean', () => {
      const conn = make(role);
      assertBytes(conn.abandon(1008, 'send buffer full'), expectedClose(role, 1008, 'send buffer full'));
      assert.equal(conn.state, CLOSING);
      assert.equal(conn.tcp, 'await-close');
      assert.deepEqual(conn.closeStatus, { code: 1008, reason: 'send buffer full', wasClean: false });
      const got = feed(conn, peerClose(role, 1008));
      assert.deepEqual(got.events, [{ type: 'close', code: 1008, reason: '' }]);
      assert.equal(conn.tcp, role === 'server' ? 'end' : 'await-fin');
      assert.deepEqual(conn.closeStatus, { code: 1008, reason: 'send buffer full', wasClean: false });
    });

    it('after our close frame: no second frame, still reported as abandoned', () => {
      const conn = make(role);
      conn.close(1000);
      assert.deepEqual(conn.abandon(1008, 'send buffer full'), []);
      assert.deepEqual(conn.closeStatus, { code: 1008, reason: 'send buffer full', wasClean: false });
    });
  });
}

describe('RFC 6455 7.1.1 the states in order', () => {
  it('server: OPEN, close() -> CLOSING/await-close, peer close -> CLOSED/end, FIN -> end', () => {
    const conn = server();
    const steps: string[] = [`${conn.state} ${conn.tcp}`];
    conn.close(1000);
    steps.push(`${conn.state} ${conn.tcp}`);
    feed(conn, peerClose('server', 1000));
    steps.push(`${conn.state} ${conn.tcp}`);
    conn.receiveEof();
    steps.push(`${conn.state} ${conn.tcp}`);
    assert.deepEqual(steps, [`${OPEN} open`, `${CLOSING} await-close`, `${CLOSED} end`, `${CLOSED} end`]);
  });

  it('client: OPEN, close() -> CLOSING/await-close, peer close -> CLOSED/await-fin, FIN -> end', () => {
    const conn = client();
    const steps: string[] = [`${conn.state} ${conn.tcp}`];
    conn.close(1000);
    steps.push(`${conn.state} ${conn.tcp}`);
    feed(conn, peerClose('client', 1000));
    steps.push(`${conn.state} ${conn.tcp}`);
    conn.receiveEof();
    steps.push(`${conn.state} ${conn.tcp}`);
    assert.deepEqual(steps, [
      `${OPEN} open`,
      `${CLOSING} await-close`,
      `${CLOSED} await-fin`,
      `${CLOSED} end`,
    ]);
  });
});
