/**
 * 1011 is decided in one place (issue 8, "the shape inside"): a fault on our side that the
 * protocol core cannot see (an application's `connection` listener that throws or rejects,
 * a Blob given to send() that cannot be read) fails the connection through the core
 * (Connection#failInternal, whose failInto picks 1011), never by a close code picked in
 * src/node. Each end reports what the core says: the failing end an `error` event with
 * DUPLEX_INTERNAL_ERROR (the exception as its cause) and a close of 1011 with
 * `wasClean: false`; the peer a close frame of 1011 without a reason, and a clean close.
 * And the process goes on.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CloseEvent,
  type DataEvent,
  type ErrorEvent,
  ProtocolError,
  WebSocket,
  type WebSocketServer,
} from 'duplexjs';
import { nextEmit, nextEvent, startServer, stop } from './util.js';

/** UnreadableBlob is a Blob whose bytes cannot be read, as a file-backed Blob whose file is gone. */
class UnreadableBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('the file behind this Blob is gone'));
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return new ReadableStream({
      pull(controller) {
        controller.error(new Error('the file behind this Blob is gone'));
      },
    });
  }
}

/** CloseSeen is a close event reduced to what the tests compare. */
interface CloseSeen {
  code: number;
  reason: string;
  wasClean: boolean;
}

function seen(event: CloseEvent): CloseSeen {
  return { code: event.code, reason: event.reason, wasClean: event.wasClean };
}

/** assertInternalError checks an error event's error: made by the core for 1011, naming `what`, carrying `cause`. */
function assertInternalError(event: ErrorEvent, what: RegExp, cause: unknown): void {
  const error = event.error as ProtocolError;
  assert.ok(error instanceof ProtocolError, `a ProtocolError, got ${String(error)}`);
  assert.equal(error.code, 'DUPLEX_INTERNAL_ERROR');
  assert.equal(error.closeCode, 1011);
  assert.match(error.message, what);
  assert.equal(error.cause, cause);
}

describe('1011 for our own faults is decided by the core (issue 8)', () => {
  // Nothing of these failures may escape as an uncaught exception or an unhandled rejection.
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  before(() => {
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
  });
  after(() => {
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
    assert.deepEqual(escaped, []);
  });

  /**
   * failingListener runs one connection whose `connection` listener fails as `fail` does,
   * and returns what each end and the server reported.
   */
  async function failingListener(fail: (boom: Error) => unknown) {
    const { wss, url } = await startServer();
    const boom = new Error('application bug');
    let serverSide: { close: Promise<CloseEvent>; error: Promise<ErrorEvent> } | undefined;
    wss.on('connection', (ws: WebSocket) => {
      serverSide = { close: nextEvent<CloseEvent>(ws, 'close'), error: nextEvent<ErrorEvent>(ws, 'error') };
      return fail(boom);
    });
    const reported = nextEmit<[unknown]>(wss, 'error');
    const client = new WebSocket(url);
    const clientErrors: unknown[] = [];
    client.addEventListener('error', (e) => clientErrors.push(e));
    const clientClose = seen(await nextEvent<CloseEvent>(client, 'close'));
    assert.ok(serverSide, 'the connection listener ran');
    const serverClose = seen(await serverSide.close);
    const serverError = await serverSide.error;
    const [wssError] = await reported;
    await stop(wss);
    return { boom, clientClose, clientErrors, serverClose, serverError, wssError };
  }

  for (const [name, fail] of [
    [
      'a connection listener that throws',
      (boom: Error) => {
        throw boom;
      },
    ],
    [
      'an async connection listener that rejects',
      async (boom: Error) => {
        await null;
        throw boom;
      },
    ],
  ] as const) {
    it(`${name}: the core fails the connection with 1011, wasClean false on the server, a clean 1011 for the client`, {
      timeout: 15_000,
    }, async () => {
      const got = await failingListener(fail);
      // The server reports the application's exception itself, as documented in docs/api.md.
      assert.equal(got.wssError, got.boom);
      // The server's side of the connection: failed by the core (RFC 6455 7.1.7).
      assertInternalError(
        got.serverError,
        /^internal error: a connection listener threw or rejected$/,
        got.boom,
      );
      assert.deepEqual(got.serverClose, { code: 1011, reason: '', wasClean: false });
      // The client: a close frame with 1011 and no reason (internal text never goes to the
      // peer), echoed, then the server's FIN: a closing handshake, so clean.
      assert.deepEqual(got.clientClose, { code: 1011, reason: '', wasClean: true });
      assert.deepEqual(got.clientErrors, []);
    });
  }

  describe('a Blob given to send() whose read fails', () => {
    let wss: WebSocketServer;
    let url: string;
    before(async () => {
      ({ wss, url } = await startServer());
    });
    after(async () => {
      await stop(wss);
    });

    it('client side: closes with 1011 through the core and emits DUPLEX_INTERNAL_ERROR with the read error as cause', {
      timeout: 15_000,
    }, async () => {
      const accepted = nextEmit<[WebSocket]>(wss, 'connection');
      const client = new WebSocket(url);
      await nextEvent(client, 'open');
      const [server] = await accepted;
      const serverClose = nextEvent<CloseEvent>(server, 'close');
      const serverMessages: unknown[] = [];
      server.addEventListener('message', (e) => serverMessages.push((e as DataEvent<unknown>).data));
      const errorEvent = nextEvent<ErrorEvent>(client, 'error');
      const clientClose = nextEvent<CloseEvent>(client, 'close');
      const callbacks: (Error | undefined)[] = [];
      client.send(new UnreadableBlob(['never sent']));
      // Queued behind the Blob: never sent, its callback learns so.
      client.send('after the blob', {}, (error) => callbacks.push(error));
      const error = await errorEvent;
      assertInternalError(
        error,
        /^internal error: could not read a Blob given to send\(\)$/,
        (error.error as Error).cause,
      );
      assert.match(
        String(((error.error as Error).cause as Error).message),
        /the file behind this Blob is gone/,
      );
      assert.deepEqual(seen(await clientClose), { code: 1011, reason: '', wasClean: false });
      assert.deepEqual(seen(await serverClose), { code: 1011, reason: '', wasClean: true });
      assert.deepEqual(serverMessages, []);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(callbacks.length, 1);
      assert.equal((callbacks[0] as { code?: string } | undefined)?.code, 'DUPLEX_NOT_SENT');
    });

    it('server side: the same, and the client sees a clean 1011', { timeout: 15_000 }, async () => {
      const accepted = nextEmit<[WebSocket]>(wss, 'connection');
      const client = new WebSocket(url);
      const clientClose = nextEvent<CloseEvent>(client, 'close');
      const [server] = await accepted;
      const errorEvent = nextEvent<ErrorEvent>(server, 'error');
      const serverClose = nextEvent<CloseEvent>(server, 'close');
      server.send(new UnreadableBlob(['never sent']));
      const error = await errorEvent;
      assertInternalError(
        error,
        /^internal error: could not read a Blob given to send\(\)$/,
        (error.error as Error).cause,
      );
      assert.deepEqual(seen(await serverClose), { code: 1011, reason: '', wasClean: false });
      assert.deepEqual(seen(await clientClose), { code: 1011, reason: '', wasClean: true });
    });
  });

  it('no close code 1011 is written in src/node: only comments name it', async () => {
    const dir = fileURLToPath(new URL('../../../src/node/', import.meta.url));
    const offenders: string[] = [];
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.ts')) continue;
      const text = await readFile(`${dir}${name}`, 'utf8');
      // Comments out (block comments, then line comments), then look for the number.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
      if (/\b1011\b/.test(code)) offenders.push(name);
    }
    assert.deepEqual(offenders, []);
  });
});
