// duplex bench --report writes a self-contained page: Chromium (Debian's, through
// playwright-core, no network) opens it without console errors and both charts have data.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { runCli } from '../helpers/cli-run.js';
import { startCommand, startEcho } from '../helpers/echo-process.js';
import { CHROMIUM_PATH, requireSystem, type SkippableContext } from '../helpers/system.js';

/** checkReport runs `duplex bench ...args --report FILE` and opens the page in Chromium. */
async function checkReport(t: SkippableContext, args: string[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'duplex-report-'));
  try {
    const file = path.join(dir, 'report.html');
    const r = await runCli([...args, '--report', file], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /report written to/);
    const html = await readFile(file, 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'nothing is loaded from elsewhere');
    if (!requireSystem(t, 'chromium')) return;
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`request: ${req.url()}`);
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction(() => 'duplexBench' in window, undefined, { timeout: 15_000 });
      const seen = await page.evaluate(() => {
        const bench = (
          window as unknown as {
            duplexBench: { timelinePoints: number; spectrumPoints: number; charts: { data: number[][] }[] };
          }
        ).duplexBench;
        return {
          timeline: bench.timelinePoints,
          spectrum: bench.spectrumPoints,
          series: bench.charts.map((c) => c.data.map((s) => s.filter((v) => v !== null && v > 0).length)),
          canvases: Array.from(document.querySelectorAll('canvas')).map((c) => c.width * c.height),
        };
      });
      assert.deepEqual(problems, []);
      assert.ok(seen.timeline >= 2, JSON.stringify(seen));
      assert.ok(seen.spectrum >= 10, JSON.stringify(seen));
      // Every latency series of both charts has points (p50, p90, p99, max, msgs/s; the distribution).
      for (const chart of seen.series) for (const n of chart.slice(1)) assert.ok(n > 0, JSON.stringify(seen));
      assert.equal(seen.canvases.length, 2);
      assert.ok(seen.canvases.every((px) => px > 0));
    } finally {
      await browser.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('duplex bench --report', () => {
  it('writes a page that Chromium opens without errors, with data in both charts', {
    timeout: 90_000,
  }, async (t) => {
    const echo = await startEcho();
    try {
      await checkReport(t, ['bench', echo.url, '-c', '2', '-d', '2', '-w', '0.5']);
    } finally {
      await echo.stop();
    }
  });

  it('does the same for a hub run (--hub) against duplex serve', { timeout: 90_000 }, async (t) => {
    const serve = await startCommand('serve');
    try {
      await checkReport(t, [
        'bench',
        `${serve.url}hub`,
        '--hub',
        'report',
        '--subscribers',
        '3',
        '-d',
        '2',
        '-w',
        '0.5',
      ]);
    } finally {
      await serve.stop();
    }
  });
});
