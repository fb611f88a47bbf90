// The apps of `duplex serve` in a real browser (Debian's chromium through playwright-core): two
// people chat (members from presence, typing that shows and clears, messages, delivery state,
// unread counts, text never taken as HTML); one of them loses the connection and sees the
// banner, a message he sends meanwhile fails and is retried, and he gets what was said meanwhile; after a server restart (the memory broker's history
// goes with the process) both see the documented "history lost" notice. The dashboard's charts
// get new points and its server tiles change. No page logs an error.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type EchoProcess, startCommand } from '../helpers/echo-process.js';
import { hasSystem, requireSystem } from '../helpers/system.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { launchChromium } from '../interop/chromium-peer.js';

const WAIT_MS = 30_000;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** watch collects a page's errors: uncaught exceptions and console errors. */
function watch(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} pageerror: ${error.message}`));
  page.on('console', (msg) => {
    // Chromium logs each refused connection attempt while the server is away: expected here.
    if (msg.type() === 'error' && !/WebSocket connection to .* failed/.test(msg.text()))
      problems.push(`${name} console: ${msg.text()}`);
  });
}

/** until polls a condition in the page (bounded), failing with what the page shows. */
async function until(page: Page, what: string, fn: string): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: WAIT_MS, polling: 50 });
  } catch (error) {
    const text = await page.evaluate(() => document.body.innerText).catch(() => '(page gone)');
    throw new Error(`timed out waiting for ${what}; the page shows:\n${text}`, { cause: error });
  }
}

/** logTexts lists the message texts of a room, in page order. */
function logTexts(page: Page, room: string): Promise<string[]> {
  return page.$$eval(`ol.log[data-room="${room}"] li.message .text`, (els) =>
    els.map((e) => e.textContent ?? ''),
  );
}

async function signIn(context: BrowserContext, url: string, name: string, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  watch(page, problems, name);
  await page.goto(url);
  await page.fill('#name', name);
  await page.press('#name', 'Enter');
  await until(page, `${name} to be connected`, `document.getElementById('state').dataset.state === 'open'`);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

const hasMessage = (room: string, text: string) =>
  `[...document.querySelectorAll('ol.log[data-room="${room}"] li.message .text')].some((e) => e.textContent === ${JSON.stringify(text)})`;

describe('the apps in Chromium', () => {
  let browser: Browser | undefined;
  before(async () => {
    if (hasSystem('chromium')) browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('chat: members, typing, messages, delivery, unread, reconnect banner, missed messages, history lost', async (t) => {
    if (!requireSystem(t, 'chromium') || browser === undefined) return;
    const port = await freePort();
    let server: EchoProcess = await startCommand('serve', ['--port', String(port)]);
    // Bob's page goes through a proxy that the test can cut; Alice's goes straight to the server.
    const proxy = await TcpProxy.start(port);
    const problems: string[] = [];
    const ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const ctxB = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const alice = await signIn(ctxA, `http://127.0.0.1:${port}/`, 'alice', problems);
      const bob = await signIn(ctxB, `http://127.0.0.1:${proxy.port}/`, 'bob', problems);
      // A second tab of Alice's: presence lists users, not connections.
      const alice2 = await ctxA.newPage();
      watch(alice2, problems, 'alice2');
      await alice2.goto(`http://127.0.0.1:${port}/`);
      await until(
        alice2,
        'the second tab to connect',
        `document.getElementById('state').dataset.state === 'open'`,
      );

      // Each sees the other in the member list of #lobby, Alice once across her two tabs.
      await until(alice, 'bob in the members', `!!document.querySelector('#members li[data-user="bob"]')`);
      await until(bob, 'alice in the members', `!!document.querySelector('#members li[data-user="alice"]')`);
      const members = await bob.$$eval('#members li', (els) => els.map((e) => e.getAttribute('data-user')));
      assert.deepEqual(members, ['alice', 'bob']);

      // Typing shows on the other side, and clears when the message is sent.
      await bob.fill('#text', 'hel');
      await bob.locator('#text').pressSequentially('lo');
      await until(
        alice,
        'the typing indicator',
        `document.getElementById('typing').textContent === 'bob is typing…'`,
      );
      await bob.press('#text', 'Enter');
      await until(alice, "bob's message", hasMessage('lobby', 'hello'));
      await until(
        alice,
        'the typing indicator to clear',
        `document.getElementById('typing').textContent === ''`,
      );
      await until(
        bob,
        'the delivery state "stored"',
        `!!document.querySelector('li.own[data-delivery="stored"]')`,
      );

      // Text is text: markup in a message is shown, never parsed.
      const hostile = '<img src=x onerror="window.pwned=1"><b>bold</b>';
      await say(alice, hostile);
      await until(bob, 'the markup message', hasMessage('lobby', hostile));
      assert.equal(await bob.$$eval('ol.log img, ol.log b', (els) => els.length), 0);
      assert.equal(await bob.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

      // History on join: a new room, written in before Bob joins it.
      await alice.fill('#room-name', 'design');
      await alice.press('#room-name', 'Enter');
      await until(
        alice,
        '#design to be active',
        `document.getElementById('room-title').textContent === '#design'`,
      );
      await say(alice, 'first in design');
      await until(
        alice,
        'the message to be stored',
        `!!document.querySelector('ol.log[data-room="design"] li.own[data-delivery="stored"]')`,
      );
      await until(
        bob,
        '#design in the room list',
        `!!document.querySelector('#rooms button[data-room="design"]')`,
      );
      await bob.click('#rooms button[data-room="design"]');
      await until(bob, 'the history of #design', hasMessage('design', 'first in design'));

      // Unread counts: Bob goes back to #lobby; what Alice says in #design counts there.
      await bob.click('#rooms button[data-room="lobby"]');
      await say(alice, 'unread one');
      await say(alice, 'unread two');
      await until(
        bob,
        'two unread in #design',
        `document.querySelector('#rooms button[data-room="design"] .unread').textContent === '2'`,
      );
      await bob.click('#rooms button[data-room="design"]');
      await until(
        bob,
        'the unread count to clear',
        `document.querySelector('#rooms button[data-room="design"] .unread').hidden`,
      );
      await bob.click('#rooms button[data-room="lobby"]');
      await alice.click('#rooms button[data-room="lobby"]');

      // Bob's connection is cut: he sees the banner; Alice talks meanwhile; once back he has it all.
      proxy.refuse = true;
      proxy.cut();
      await until(
        bob,
        'the reconnecting banner',
        `!document.getElementById('banner').hidden && document.getElementById('banner').textContent.includes('Reconnecting')`,
      );
      await say(alice, 'while you were away 1');
      await say(alice, 'while you were away 2');
      await until(
        alice,
        'both stored',
        `document.querySelectorAll('ol.log[data-room="lobby"] li.own[data-delivery="stored"]').length === 3`,
      );
      // What Bob sends meanwhile waits, and fails once its publish times out (10 s): Retry shows.
      await say(bob, 'sent while offline');
      await until(
        bob,
        'the delivery state "failed" with a Retry button',
        `!!document.querySelector('li.own[data-delivery="failed"] .delivery button')`,
      );
      proxy.refuse = false;
      await until(bob, 'the missed messages', hasMessage('lobby', 'while you were away 2'));
      const texts = await logTexts(bob, 'lobby');
      // Bob's failed message stays last, below what arrived meanwhile.
      assert.deepEqual(texts.slice(-4), [
        hostile,
        'while you were away 1',
        'while you were away 2',
        'sent while offline',
      ]);
      assert.equal(new Set(texts).size, texts.length, 'nothing shown twice');
      assert.equal(await bob.$$eval('ol.log[data-room="lobby"] li.notice', (els) => els.length), 0);
      await until(bob, 'open again', `document.getElementById('state').dataset.state === 'open'`);
      await bob.click('li.own[data-delivery="failed"] .delivery button');
      await until(alice, 'the retried message', hasMessage('lobby', 'sent while offline'));
      await until(
        bob,
        'the retried message to be stored',
        `!document.querySelector('li.own:not([data-delivery="stored"])')`,
      );
      assert.equal((await logTexts(alice, 'lobby')).filter((x) => x === 'sent while offline').length, 1);
      await until(
        bob,
        'the banner to say it is back',
        `document.getElementById('banner').textContent.startsWith('Back online')`,
      );

      // The server restarts: the memory broker's history is gone, and the page says so.
      assert.equal(await server.stop(), 0);
      await until(bob, 'the reconnecting banner', `!document.getElementById('banner').hidden`);
      server = await startCommand('serve', ['--port', String(port)]);
      for (const page of [alice, bob]) {
        await until(
          page,
          'the history-lost notice',
          `[...document.querySelectorAll('ol.log[data-room="lobby"] li.notice')].some((e) => e.textContent.startsWith('History lost'))`,
        );
        await until(page, 'open again', `document.getElementById('state').dataset.state === 'open'`);
      }
      await say(bob, 'after the restart');
      await until(alice, 'a message after the restart', hasMessage('lobby', 'after the restart'));
      await until(
        alice,
        'bob back in the members',
        `!!document.querySelector('#members li[data-user="bob"]')`,
      );
      assert.deepEqual(problems, []);
    } finally {
      await ctxA.close();
      await ctxB.close();
      await proxy.close();
      await server.stop();
    }
  });

  it('chat: a name the hub refuses (4001) brings the form back, and another name gets in', async (t) => {
    if (!requireSystem(t, 'chromium') || browser === undefined) return;
    const server = await startCommand('serve');
    const problems: string[] = [];
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      watch(page, problems, 'refused');
      await page.goto(server.url);
      // A control character passes the page's length check; the hub's authenticate refuses it.
      await page.evaluate(() => {
        (document.getElementById('name') as HTMLInputElement).value = 'bad\u0007name';
      });
      await page.press('#name', 'Enter');
      await until(
        page,
        'the form to come back with the reason',
        `!document.getElementById('signin').hidden && document.getElementById('signin-error').textContent.includes('refused')`,
      );
      assert.equal(await page.evaluate(() => localStorage.getItem('duplex-chat-name')), null);
      await page.fill('#name', 'carol');
      await page.press('#name', 'Enter');
      await until(page, 'carol in the members', `!!document.querySelector('#members li[data-user="carol"]')`);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await server.stop();
    }
  });

  it('dashboard: charts get new points and the server tiles change', async (t) => {
    if (!requireSystem(t, 'chromium') || browser === undefined) return;
    const server = await startCommand('serve');
    const problems: string[] = [];
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      watch(page, problems, 'dashboard');
      await page.goto(`${server.url}dashboard`);
      for (const symbol of ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA']) {
        await until(
          page,
          `${symbol}'s chart`,
          `Number(document.querySelector('[data-symbol="${symbol}"]').dataset.ticks) > 0 && !!document.querySelector('[data-symbol="${symbol}"] canvas')`,
        );
      }
      const ticks = Number(await page.getAttribute('[data-symbol="ACME"]', 'data-ticks'));
      await until(
        page,
        'new points on the chart',
        `Number(document.querySelector('[data-symbol="ACME"]').dataset.ticks) > ${ticks + 2}`,
      );
      await until(page, 'the first tiles', `Number(document.getElementById('tiles').dataset.updates) >= 1`);
      const tiles = () =>
        page.$$eval('#tiles dd', (els) =>
          Object.fromEntries(els.map((e) => [e.getAttribute('data-tile'), e.textContent])),
        );
      const first = await tiles();
      assert.equal(first['broker'], 'up');
      assert.ok(Number(first['connections']) >= 1, JSON.stringify(first));
      await until(
        page,
        'three more tile refreshes',
        `Number(document.getElementById('tiles').dataset.updates) >= 4`,
      );
      const later = await tiles();
      assert.notDeepEqual(later, first, 'the tiles change');
      assert.ok(Number(later['outRate']) > 0, `messages go out: ${JSON.stringify(later)}`);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await server.stop();
    }
  });
});
