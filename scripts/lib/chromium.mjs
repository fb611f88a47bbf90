// launchChromium starts Debian's headless chromium through playwright-core with the flags every
// Duplex script uses (no sandbox, no GPU, no background network, updates or sync): one place for
// the screenshot scripts (scripts/screenshots.mjs, scripts/bench-report-screenshot.mjs).

import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
