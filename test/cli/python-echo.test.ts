// duplex connect and duplex bench against an echo server written with Debian's
// python3-websockets (an independent implementation; gated like test/interop: skipped loudly
// without the package, a failure under CI=true).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli-run.js';
import { requireSystem, SYSTEM_PYTHON } from '../helpers/system.js';

/** An echo server on every path, text as text and binary as binary; prints its port once listening. */
const ECHO_SERVER = `
import asyncio, websockets
async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, '127.0.0.1', 0, max_size=2**24) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

async function startPythonEcho(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(SYSTEM_PYTHON, ['-c', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python echo server did not start: ${err}`)), 15_000);
    child.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(String(d).trim()));
    });
    child.once('exit', (code) => reject(new Error(`python echo server exited ${code}: ${err}`)));
  });
  return { url: `ws://127.0.0.1:${port}/`, child };
}

describe('duplex connect and bench against python3-websockets', () => {
  it('echoes text and binary through duplex connect, and duplex bench gives sane figures', {
    timeout: 60_000,
  }, async (t) => {
    if (!requireSystem(t, 'python3-websockets')) return;
    const { url, child } = await startPythonEcho();
    try {
      const text = await runCli(['connect', url, '-x', 'hello python', '-x', 'ünïcode ✓', '-w', '0.5']);
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout, 'hello python\nünïcode ✓\n');
      assert.match(text.stderr, /extensions permessage-deflate/, 'python negotiates deflate with us');
      const binary = await runCli([
        'connect',
        url,
        '--binary',
        '-x',
        '00 ff 10',
        '--no-deflate',
        '-w',
        '0.5',
      ]);
      assert.equal(binary.code, 0, binary.stderr);
      assert.equal(binary.stdout, '[binary] 00ff10\n');

      for (const extra of [[], ['--binary', '--size', '4096']]) {
        const r = await runCli(['bench', url, '-c', '2', '-d', '1', '-w', '0.2', '--json', ...extra]);
        assert.equal(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout) as {
          connected: number;
          messages: number;
          errors: number;
          p50_us: number;
          p99_us: number;
          max_us: number;
          type: string;
        };
        assert.equal(j.connected, 2, r.stdout);
        assert.equal(j.errors, 0, r.stdout);
        assert.ok(j.messages > 0, r.stdout);
        assert.ok(j.p50_us <= j.p99_us && j.p99_us <= j.max_us, r.stdout);
        assert.equal(j.type, extra.length ? 'binary' : 'text');
      }
    } finally {
      child.kill();
    }
  });
});
