import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CloseEvent, type ErrorEvent, type UnexpectedResponseError, WebSocket } from 'duplexjs';
import { startFakeServer } from '../helpers/fake-server.js';
import { nextConnection, nextEvent, startServer, stop } from '../node/util.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('docs/errors.md', () => {
  it('lists every error code that src/ can raise', () => {
    const codes = new Set<string>();
    for (const file of sourceFiles(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(DUPLEX_[A-Z0-9_]+)'/g)) codes.add(m[1]!);
    }
    assert.ok(codes.size > 20, `found only ${codes.size} codes: is the scan looking in the right place?`);
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``)).sort();
    assert.deepEqual(missing, []);
  });
});

// Each behaviour docs/errors.md states about the node layer, held by a test on loopback.
describe('docs/errors.md, behaviour', () => {
  it('DUPLEX_INVALID_STATE: send while connecting throws; send after closing began returns false', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    assert.throws(() => ws.send('early'), { name: 'InvalidStateError', code: 'DUPLEX_INVALID_STATE' });
    assert.throws(() => ws.ping(), { code: 'DUPLEX_INVALID_STATE' });
    await nextEvent(ws, 'open');
    ws.close();
    assert.equal(ws.send('late'), false);
    await nextEvent(ws, 'close');
    assert.equal(ws.send('later'), false);
    await stop(wss);
  });

  it('DUPLEX_INVALID_STATE: a second loop on a socket already iterated', { timeout: 10_000 }, async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    ws[Symbol.asyncIterator]();
    assert.throws(() => ws[Symbol.asyncIterator](), { code: 'DUPLEX_INVALID_STATE' });
    await nextEvent(ws, 'open');
    ws.close();
    await nextEvent(ws, 'close');
    await stop(wss);
  });

  it('DUPLEX_INVALID_CLOSE_CODE: a code that may not be sent throws; a reason without a code is sent with 1000', {
    timeout: 10_000,
  }, async () => {
    const { wss, url } = await startServer();
    const accepted = nextConnection(wss);
    const ws = new WebSocket(url);
    await nextEvent(ws, 'open');
    const server = await accepted;
    assert.throws(() => ws.close(1001), { code: 'DUPLEX_INVALID_CLOSE_CODE' });
    assert.throws(() => server.close(1005), { code: 'DUPLEX_INVALID_CLOSE_CODE' });
    const serverClose = nextEvent<CloseEvent>(server, 'close');
    ws.close(undefined, 'bye');
    const close = await serverClose;
    assert.deepEqual([close.code, close.reason], [1000, 'bye']);
    await stop(wss);
  });

  it('a refused handshake is not a server event; a hook exception is the server error and a 500', {
    timeout: 10_000,
  }, async () => {
    const boom = new Error('boom');
    const { wss, url } = await startServer({
      authenticate: (req) => {
        if (req.url === '/throw') throw boom;
        return req.url !== '/deny';
      },
    });
    const emitted: unknown[] = [];
    wss.on('error', (error) => emitted.push(error));
    const denied = new WebSocket(`${url}deny`);
    const deniedError = (await nextEvent<ErrorEvent>(denied, 'error')).error as UnexpectedResponseError;
    assert.equal(deniedError.status, 401);
    const failed = new WebSocket(`${url}throw`);
    const failedError = (await nextEvent<ErrorEvent>(failed, 'error')).error as UnexpectedResponseError;
    assert.equal(failedError.status, 500);
    assert.doesNotMatch(failedError.body, /boom/);
    assert.deepEqual(emitted, [boom]);
    await stop(wss);
  });

  it('extra client headers cannot set the handshake headers, in any spelling; Host can be set', {
    timeout: 10_000,
  }, async () => {
    const fake = await startFakeServer();
    const ws = new WebSocket(fake.url, undefined, {
      perMessageDeflate: false,
      headers: {
        'sec-websocket-protocol': 'sneaky',
        'Sec-WebSocket-Extensions': 'permessage-deflate',
        'SEC-WEBSOCKET-KEY': 'AAAAAAAAAAAAAAAAAAAAAA==',
        'sec-websocket-version': '8',
        upgrade: 'h2c',
        connection: 'keep-alive',
        Host: 'virtual.example',
        'X-Extra': 'kept',
      },
    });
    const conn = await fake.accept();
    const h = conn.request.headers;
    assert.equal(h['sec-websocket-protocol'], undefined);
    assert.equal(h['sec-websocket-extensions'], undefined);
    assert.notEqual(h['sec-websocket-key'], 'AAAAAAAAAAAAAAAAAAAAAA==');
    assert.deepEqual(
      [h['sec-websocket-version'], h.upgrade, h.connection, h.host, h['x-extra']],
      ['13', 'websocket', 'Upgrade', 'virtual.example', 'kept'],
    );
    await nextEvent(ws, 'open');
    ws.terminate();
    await nextEvent(ws, 'close');
    await fake.close();
  });
});
