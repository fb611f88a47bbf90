// The bundle dist/duplex-client.js in a real browser: headless Debian Chromium loads it as an ES
// module from a page, and its HubClient, on the browser's own WebSocket, connects to the
// scripted hub, subscribes, receives JSON and binary messages, and publishes binary data.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startScriptedHub } from '../helpers/scripted-hub.js';
import { CHROMIUM_PATH, requireSystem } from '../helpers/system.js';

const bundle = readFileSync(
  fileURLToPath(new URL('../../../dist/duplex-client.js', import.meta.url)),
  'utf8',
);

const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
import { HubClient } from '/duplex-client.js';
window.events = [];
window.start = (url) => {
  const client = new HubClient(url, { token: 'browser-token' });
  client.on('state', (s) => events.push(['state', s]));
  const sub = client.subscribe('chat:lobby');
  sub.on('subscribed', (i) => events.push(['subscribed', i.recovered]));
  sub.on('message', (data, meta) =>
    events.push(['message', meta.offset, data instanceof Uint8Array ? ['bytes', ...data] : data]));
  window.client = client;
};
window.publishBytes = () => window.client.publish('files', new Uint8Array([5, 6, 7])).then((p) => p.offset);
window.ready = true;
</script>`;

describe('dist/duplex-client.js in Chromium', () => {
  it('connects with the browser WebSocket, receives JSON and binary messages, publishes bytes', async (t) => {
    if (!requireSystem(t, 'chromium')) return;
    const pages = createServer((req, res) => {
      if (req.url === '/duplex-client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(bundle);
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      }
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    const hub = await startScriptedHub();
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic'],
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${(pages.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      await page.evaluate((url) => (window as unknown as { start(u: string): void }).start(url), hub.url);

      const conn = await hub.accept();
      assert.equal((await conn.handshake()).token, 'browser-token');
      const subscribe = await conn.expect('subscribe');
      conn.send({
        type: 'subscribed',
        id: subscribe.id,
        channel: 'chat:lobby',
        recovered: false,
        position: { offset: 0, epoch: 'e' },
      });
      conn.send({ type: 'pub', channel: 'chat:lobby', offset: 1, epoch: 'e', data: { text: 'hi' } });
      conn.send({ type: 'pub', channel: 'chat:lobby', offset: 2, epoch: 'e', binary: true });
      conn.sendBinary(new Uint8Array([1, 2, 3]));
      await page.waitForFunction(() => (window as unknown as { events: unknown[] }).events.length >= 5);
      const events = await page.evaluate(() => (window as unknown as { events: unknown[] }).events);
      assert.deepEqual(events, [
        ['state', 'connecting'],
        ['state', 'open'],
        ['subscribed', false],
        ['message', 1, { text: 'hi' }],
        ['message', 2, ['bytes', 1, 2, 3]],
      ]);

      const offset = page.evaluate(() =>
        (window as unknown as { publishBytes(): Promise<number> }).publishBytes(),
      );
      const publish = await conn.expect('publish');
      assert.equal(publish.binary, true);
      const frame = await conn.next();
      assert.deepEqual([...(frame as { bytes: Uint8Array }).bytes], [5, 6, 7]);
      conn.send({ type: 'published', id: publish.id, channel: 'files', offset: 9, epoch: 'e' });
      assert.equal(await offset, 9);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await hub.close();
      pages.closeAllConnections();
      await new Promise<void>((resolve) => pages.close(() => resolve()));
    }
  });
});
