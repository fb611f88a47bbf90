#!/usr/bin/env node
// bench-report-screenshot makes the screenshots of `duplex bench --report` shown in docs/cli.md:
//   node scripts/bench-report-screenshot.mjs echo   -> docs/img/bench-report.png
//     (duplex echo, 50 connections, 12 s)
//   node scripts/bench-report-screenshot.mjs hub    -> docs/img/bench-hub-report.png
//     (duplex serve, --hub room with 50 subscribers and 2 publishers at 80 publishes/s, 12 s)
// It runs the built CLI (npm run build first) on loopback and Debian's Chromium (playwright-core).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium } from './lib/chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const mode = process.argv[2] ?? 'echo';
if (mode !== 'echo' && mode !== 'hub') {
  console.error('usage: node scripts/bench-report-screenshot.mjs [echo|hub]');
  process.exit(2);
}

const server = spawn(process.execPath, [cli, mode === 'echo' ? 'echo' : 'serve', '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ready = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no ready line within 15 s')), 15_000);
  server.stdout.setEncoding('utf8').once('data', (line) => {
    clearTimeout(timer);
    resolve(line.trim().replace(/^listening on /, ''));
  });
});
const dir = mkdtempSync(path.join(tmpdir(), 'duplex-shot-'));
try {
  const report = path.join(dir, 'report.html');
  const args =
    mode === 'echo'
      ? ['bench', ready, '-c', '50', '-d', '12', '--report', report]
      : [
          'bench',
          `${ready.replace(/^http/, 'ws')}hub`,
          '--hub',
          'room',
          '--subscribers',
          '50',
          '--publishers',
          '2',
          '--rate',
          '80',
          '-d',
          '12',
          '--report',
          report,
        ];
  const run = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`duplex bench exited ${run.status}`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(pathToFileURL(report).href);
    await page.waitForFunction(() => 'duplexBench' in window, undefined, { timeout: 15_000 });
    const out = path.join(root, 'docs', 'img', mode === 'echo' ? 'bench-report.png' : 'bench-hub-report.png');
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${path.relative(root, out)}`);
  } finally {
    await browser.close();
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
