#!/usr/bin/env node
// Makes the screenshots of the apps shown in the README: docs/img/chat-{desktop,phone}.png and
// docs/img/dashboard-{desktop,phone}.png (desktop 1280x800, phone 390x844). It runs the built
// `duplex serve` on a free loopback port, and Debian's chromium through playwright-core.
//
// Usage: npm run build && node scripts/screenshots.mjs

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './lib/chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = (name) => path.join(root, 'docs', 'img', name);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** serve starts `duplex serve --port 0` and resolves with its base URL and the child. */
function serve() {
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('duplex serve did not print its ready line in 15 s')),
      15_000,
    );
    child.on('exit', (code) => reject(new Error(`duplex serve exited with ${code}`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (line) => {
      const m = /listening on (http:\/\/\S+\/)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ base: m[1], child });
      }
    });
  });
}

async function signIn(context, url, name) {
  const page = await context.newPage();
  await page.goto(url);
  await page.fill('#name', name);
  await page.press('#name', 'Enter');
  await page.waitForFunction(() => document.getElementById('state').dataset.state === 'open');
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await page.waitForFunction(() => !document.querySelector('li.own[data-delivery="sending"]'), undefined, {
    timeout: 10_000,
  });
}

const { base, child } = await serve();
const browser = await launchChromium();
try {
  // A conversation: three people, two rooms, an unread count, someone typing.
  const ada = await signIn(await browser.newContext({ viewport: DESKTOP }), base, 'ada');
  const grace = await signIn(await browser.newContext({ viewport: PHONE }), base, 'grace');
  const linus = await signIn(await browser.newContext({ viewport: DESKTOP }), base, 'linus');
  await say(ada, 'Morning! The hub is up on the new box.');
  await say(grace, 'Nice. Does the dashboard show the broker state?');
  await say(ada, 'Yes, and /metrics has the publish latency histogram now.');
  await say(linus, 'Restarting the server in 5 minutes, clients will get 1012 and come back.');
  await linus.fill('#room-name', 'releases');
  await linus.press('#room-name', 'Enter');
  await grace.waitForSelector('#rooms button[data-room="releases"]');
  await ada.waitForSelector('#rooms button[data-room="releases"]');
  await ada.click('#rooms button[data-room="releases"]');
  await ada.click('#rooms button[data-room="lobby"]');
  await say(linus, 'v0.2 notes are drafted.');
  await say(linus, 'Reviews welcome.');
  await ada.waitForFunction(
    () => document.querySelector('#rooms button[data-room="releases"] .unread').textContent === '2',
  );
  await grace.fill('#text', 'Sounds good');
  await grace.locator('#text').pressSequentially('!');
  await ada.waitForFunction(() => document.getElementById('typing').textContent !== '');
  await ada.screenshot({ path: out('chat-desktop.png') });
  await grace.screenshot({ path: out('chat-phone.png') });

  for (const [viewport, name] of [
    [DESKTOP, 'dashboard-desktop.png'],
    [PHONE, 'dashboard-phone.png'],
  ]) {
    const page = await (await browser.newContext({ viewport })).newPage();
    await page.goto(`${base}dashboard`);
    // Enough ticks for a chart with some shape, and two refreshes of the tiles (for the rates).
    await page.waitForFunction(
      () => Number(document.getElementById('tiles').dataset.updates) >= 3,
      undefined,
      {
        timeout: 20_000,
      },
    );
    await page.screenshot({ path: out(name), fullPage: viewport === PHONE });
  }
  console.log('wrote docs/img/chat-desktop.png, chat-phone.png, dashboard-desktop.png, dashboard-phone.png');
} finally {
  await browser.close();
  child.kill('SIGTERM');
}
