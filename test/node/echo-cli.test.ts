import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { type CloseEvent, WebSocket } from 'duplexjs';
import { CLI_PATH, startEcho } from '../helpers/echo-process.js';
import { nextEvent, withTimeout } from './util.js';

/** runCli runs the CLI to completion and returns its exit code and stderr. */
function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return withTimeout(
    new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr }))),
    `duplex ${args.join(' ')}`,
  );
}

describe('duplex echo', () => {
  it('echoes text as text and binary as binary, then closes everyone with 1001 on SIGTERM', async () => {
    const echo = await startEcho();
    const ws = new WebSocket(`${echo.url}any/path?x=1`, [], { origin: 'https://elsewhere.example' });
    await nextEvent(ws, 'open');
    const messages: unknown[] = [];
    ws.addEventListener('message', (e) => messages.push(e.data));
    ws.send('tëxt');
    ws.send(Buffer.from([0, 255]));
    ws.send('');
    await withTimeout(
      (async () => {
        while (messages.length < 3) await new Promise((r) => setTimeout(r, 5));
      })(),
      'echoes',
    );
    assert.deepEqual(messages, ['tëxt', Buffer.from([0, 255]), '']);
    const closed = nextEvent<CloseEvent>(ws, 'close');
    assert.equal(await echo.stop(), 0);
    assert.equal((await closed).code, 1001);
  });

  it('refuses unknown commands and flags with usage and exit code 2', async () => {
    for (const args of [
      ['echo', '--bogus'],
      ['nope'],
      ['serve', '--no-deflate'],
      [],
      ['echo', '--port', 'x'],
    ]) {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, /usage: duplex/);
    }
  });
});
