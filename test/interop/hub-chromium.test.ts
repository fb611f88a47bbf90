// HubClient in a real browser: Chromium loads the bundle that `duplex serve` serves at
// /duplex-client.js, subscribes, receives, survives a cut connection with exact recovery of what
// was published meanwhile, and survives a restart of the server process. The memory broker
// loses its history with the process, so after the restart the right answer is
// `recovered: false` (a new epoch), and this test expects exactly that.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import type { Browser, Page } from 'playwright-core';
import { type EchoProcess, startCommand } from '../helpers/echo-process.js';
import { hasSystem, requireSystem } from '../helpers/system.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { launchChromium } from './chromium-peer.js';

type LogEntry =
  | { k: 'state'; s: string }
  | { k: 'subscribed'; recovered: boolean }
  | { k: 'message'; id: string; offset: number; epoch: string };

const CHANNEL = 'browser:feed';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function pageLog(page: Page): Promise<LogEntry[]> {
  return page.evaluate(() => (window as unknown as { hubLog: LogEntry[] }).hubLog);
}

/** waitLog polls the page's log until `cond` holds (bounded: 30 s, then the test fails with the log). */
async function waitLog(page: Page, what: string, cond: (log: LogEntry[]) => boolean): Promise<LogEntry[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const log = await pageLog(page);
    if (cond(log)) return log;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; page log: ${JSON.stringify(log)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const messages = (log: LogEntry[]) =>
  log.filter((e): e is Extract<LogEntry, { k: 'message' }> => e.k === 'message');
const subscribed = (log: LogEntry[]) =>
  log
    .filter((e): e is Extract<LogEntry, { k: 'subscribed' }> => e.k === 'subscribed')
    .map((e) => e.recovered);

describe('HubClient bundle in Chromium', () => {
  let browser: Browser | undefined;
  before(async () => {
    if (hasSystem('chromium')) browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('subscribes, receives, recovers exactly after a cut, and reports recovered: false after a server restart', async (t) => {
    if (!requireSystem(t, 'chromium') || browser === undefined) return;
    const port = await freePort();
    let server: EchoProcess = await startCommand('serve', ['--port', String(port)]);
    const proxy = await TcpProxy.start(port);
    const publisher = new HubClient(`ws://127.0.0.1:${port}/hub`, {
      WebSocket,
      backoff: { baseMs: 20, maxMs: 200 },
    });
    const context = await browser.newContext();
    const problems: string[] = [];
    try {
      const page = await context.newPage();
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      page.on('console', (msg) => {
        // Chromium logs each refused connection attempt while the proxy refuses: expected here.
        if (msg.type() === 'error' && !/WebSocket connection to .* failed/.test(msg.text()))
          problems.push(`console: ${msg.text()}`);
      });
      // The page comes through the proxy too, so its origin matches the hub's (same-origin policy).
      await page.goto(`http://127.0.0.1:${proxy.port}/metrics`);
      await page.evaluate(async (channel) => {
        const { HubClient } = (await import(
          '/duplex-client.js' as string
        )) as typeof import('duplexjs/client');
        const log: unknown[] = [];
        (window as unknown as { hubLog: unknown[] }).hubLog = log;
        const client = new HubClient(`ws://${location.host}/hub`, { backoff: { baseMs: 50, maxMs: 400 } });
        client.on('state', (s) => log.push({ k: 'state', s }));
        const sub = client.subscribe(channel);
        sub.on('subscribed', (e) => log.push({ k: 'subscribed', recovered: e.recovered }));
        sub.on('message', (data, meta) =>
          log.push({ k: 'message', id: (data as { id: string }).id, offset: meta.offset, epoch: meta.epoch }),
        );
      }, CHANNEL);
      await waitLog(page, 'the first subscription', (log) => subscribed(log).length === 1);

      // Live messages.
      await publisher.publish(CHANNEL, { id: 'm1' });
      await publisher.publish(CHANNEL, { id: 'm2' });
      await waitLog(page, 'm1 and m2', (log) => messages(log).length === 2);

      // Cut the browser's connection; publish while it is away; it comes back and recovers exactly.
      proxy.refuse = true;
      proxy.cut();
      await waitLog(page, 'reconnecting', (log) =>
        log.some((e) => e.k === 'state' && e.s === 'reconnecting'),
      );
      await publisher.publish(CHANNEL, { id: 'm3' });
      await publisher.publish(CHANNEL, { id: 'm4' });
      proxy.refuse = false;
      let log = await waitLog(page, 'recovery of m3 and m4', (l) => messages(l).length === 4);
      assert.deepEqual(subscribed(log), [false, true], 'a fresh subscription, then a recovered one');
      const before = messages(log);
      assert.deepEqual(
        before.map((m) => m.id),
        ['m1', 'm2', 'm3', 'm4'],
      );
      before.forEach((m, i) => {
        assert.equal(m.offset, before[0]!.offset + i, 'gap-free offsets');
        assert.equal(m.epoch, before[0]!.epoch);
      });

      // Restart the server process: the memory broker's history goes with it (a new epoch).
      assert.equal(await server.stop(), 0);
      server = await startCommand('serve', ['--port', String(port)]);
      log = await waitLog(page, 'the resubscription after the restart', (l) => subscribed(l).length === 3);
      assert.deepEqual(
        subscribed(log),
        [false, true, false],
        'recovered: false after the broker lost its log',
      );
      await publisher.publish(CHANNEL, { id: 'm5' });
      log = await waitLog(page, 'm5', (l) => messages(l).length === 5);
      const last = messages(log)[4]!;
      assert.equal(last.id, 'm5');
      assert.notEqual(last.epoch, before[0]!.epoch, 'a new epoch after the restart');
      assert.deepEqual(problems, []);
    } finally {
      publisher.close();
      await context.close();
      await proxy.close();
      await server.stop();
    }
  });
});
