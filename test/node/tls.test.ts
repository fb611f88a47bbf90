import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type CloseEvent, type ErrorEvent, WebSocket, WebSocketServer } from 'duplexjs';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { nextEmit, nextEvent, stop } from './util.js';

describe('wss with a self-signed certificate', () => {
  it('connects when the client trusts the certificate, and fails otherwise', {
    timeout: 40_000,
  }, async () => {
    const { key, cert } = await makeSelfSignedCert();
    const https = createServer({ key, cert });
    const wss = new WebSocketServer({ server: https });
    wss.on('connection', (ws) => ws.addEventListener('message', (e) => ws.send(e.data)));
    https.listen(0, '127.0.0.1');
    await nextEmit(https, 'listening');
    const port = (https.address() as AddressInfo).port;

    const ws = new WebSocket(`wss://localhost:${port}/`, 'chat', { ca: cert });
    await nextEvent(ws, 'open');
    assert.equal(ws.protocol, 'chat');
    ws.send('über tls');
    assert.equal((await nextEvent<MessageEvent>(ws, 'message')).data, 'über tls');
    ws.close(1000);
    assert.equal((await nextEvent<CloseEvent>(ws, 'close')).wasClean, true);

    const untrusting = new WebSocket(`https://127.0.0.1:${port}/`);
    const [error, close] = await Promise.all([
      nextEvent<ErrorEvent>(untrusting, 'error'),
      nextEvent<CloseEvent>(untrusting, 'close'),
    ]);
    assert.match(String((error.error as NodeJS.ErrnoException).code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    assert.equal(close.code, 1006);

    await stop(wss);
    https.close();
  });
});
