// Node's internal bindings (process.binding, DEP0111) load when the first plain TCP connection
// is adopted by the server, never at import: `node --pending-deprecation` prints no warning for
// a program that only imports the package or only uses the client.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';

/** run executes an ES module program under --pending-deprecation and resolves with its stderr. */
function run(source: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--pending-deprecation', '--input-type=module', '-e', source], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

describe('node --pending-deprecation', () => {
  let echo: EchoProcess;
  before(async () => {
    echo = await startEcho();
  });
  after(async () => {
    await echo.stop();
  });

  it('prints no warning for a program that only imports the package', async () => {
    const r = await run(`await import('duplexjs'); await import('duplexjs/protocol'); console.log('ok');`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
    assert.equal(r.stderr, '');
  });

  it('prints no warning for a program that only uses the client', async () => {
    const r = await run(`
      import { WebSocket } from 'duplexjs';
      const ws = new WebSocket(${JSON.stringify(echo.url)});
      ws.onopen = () => ws.send('ping');
      ws.onmessage = (e) => { console.log(String(e.data)); ws.close(); };
      ws.onerror = (e) => { console.error('error', e.message); process.exitCode = 1; };
    `);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ping\n');
    assert.equal(r.stderr, '');
  });

  it('(control) the warning shows once a server adopts a plain TCP connection', async () => {
    const r = await run(`
      import { WebSocket, WebSocketServer } from 'duplexjs';
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
        const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port + '/');
        ws.onopen = () => { ws.close(); wss.close(); };
      });
    `);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /DEP0111/);
  });
});
