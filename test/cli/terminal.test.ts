// The commands on a terminal: duplex connect's line editor with history, duplex bench's live
// progress line. The terminal is a real pty made by util-linux's script(1); keys are written
// to it as a person would type them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CLI_PATH, startEcho } from '../helpers/echo-process.js';
import { sleep, withTimeout } from '../node/util.js';
import { startWsTarget } from './ws-target.js';

const SCRIPT = '/usr/bin/script';

async function until(what: string, done: () => boolean): Promise<void> {
  await withTimeout(
    (async () => {
      while (!done()) await sleep(20);
    })(),
    what,
    15_000,
  );
}

/**
 * NO_PTY skips the pty tests loudly where /usr/bin/script (Debian's essential bsdutils) is
 * missing; under CI=true nothing skips, so a missing one fails the tests instead.
 */
const NO_PTY =
  existsSync(SCRIPT) || process.env['CI'] === 'true'
    ? false
    : 'SKIPPED: no /usr/bin/script to make a pty: install Debian package bsdutils';

describe('duplex connect on a terminal', () => {
  it('edits lines with history (up arrow recalls a line) and closes with 1000 on Ctrl-D', {
    timeout: 40_000,
    skip: NO_PTY,
  }, async () => {
    const ws = await startWsTarget();
    try {
      const command = `${process.execPath} ${CLI_PATH} connect ${ws.url('/echo')}`;
      const child = spawn(SCRIPT, ['-q', '-e', '-c', command, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, TERM: 'xterm' },
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      await until('the prompt', () => out.includes('> '));
      child.stdin.write('first\r');
      await until('the first line at the server', () => ws.received.length === 1);
      child.stdin.write('second\r');
      await until('the second line at the server', () => ws.received.length === 2);
      // Up, up: back to "first"; then edit it: End, Backspace, "!".
      child.stdin.write('\x1b[A\x1b[A\r');
      await until('the recalled line at the server', () => ws.received.length === 3);
      child.stdin.write('\x1b[A\x7f?\r');
      await until('the edited line at the server', () => ws.received.length === 4);
      assert.deepEqual(ws.received, ['first', 'second', 'first', 'firs?']);
      child.stdin.write('\x04');
      const code = await withTimeout(exited, 'exit after Ctrl-D', 15_000);
      assert.equal(code, 0, out);
      assert.match(out, /closed: 1000 normal closure/);
    } finally {
      await ws.close();
    }
  });
});

describe('duplex bench on a terminal', () => {
  it('shows a live progress line (connections, msgs/s, p99) and still prints the summary', {
    timeout: 40_000,
    skip: NO_PTY,
  }, async () => {
    const echo = await startEcho();
    try {
      const command = `${process.execPath} ${CLI_PATH} bench ${echo.url} -c 2 -d 2.5 -w 0.5`;
      const child = spawn(SCRIPT, ['-q', '-e', '-c', command, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      const code = await withTimeout(
        new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
        'bench to finish',
        30_000,
      );
      assert.equal(code, 0, out);
      assert.match(out, /\r\x1b\[K(warmup|measure) \d+ s: 2 open, [\d,]+ msgs\/s, p99 [\d.]+ (µs|ms)/);
      assert.match(out, /throughput +[\d,]+ msgs\/s/);
    } finally {
      await echo.stop();
    }
  });
});
