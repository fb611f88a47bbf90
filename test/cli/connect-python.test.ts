// duplex connect against Debian's python3-websockets as an independent server (gated like
// test/interop: skipped loudly without the package, a failure under CI=true).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnCli } from '../helpers/cli-run.js';
import { requireSystem } from '../helpers/system.js';
import { PythonPeer } from '../interop/python-peer.js';

describe('duplex connect against python3-websockets', () => {
  it('sends text and binary, prints what the python server sends, and closes with 1000', {
    timeout: 40_000,
  }, async (t) => {
    if (!requireSystem(t, 'python3-websockets')) return;
    const peer = await PythonPeer.start(['server', '--subprotocol', 'chat.v1']);
    try {
      const listening = await peer.control.take((e) => e.event === 'listening', 'python server to listen');
      const url = `ws://127.0.0.1:${Number(listening['port'])}/room`;
      const cli = spawnCli(['connect', url, '-s', 'chat.v1', '-w', '3'], { stdin: undefined });
      await cli.waitFor(/connected to .*subprotocol chat\.v1/, 'stderr');
      cli.child.stdin.write('from duplex\n');
      const log = peer.log(1);
      const got = await log.take((e) => e.kind === 'message', 'the text at the python server');
      assert.equal(got.kind === 'message' && got.text, 'from duplex');
      await peer.command({ op: 'send', conn: 1, type: 'text', data: 'from python ✓' });
      await peer.command({
        op: 'send',
        conn: 1,
        type: 'binary',
        b64: Buffer.from([0xde, 0xad]).toString('base64'),
      });
      await cli.waitFor(/^from python ✓\n\[binary\] dead\n$/);
      cli.child.stdin.end();
      const r = await cli.exited;
      assert.equal(r.code, 0, r.stderr);
      const close = await log.take((e) => e.kind === 'close', 'the close at the python server');
      assert.equal(close.kind === 'close' && close.code, 1000);
    } finally {
      await peer.kill();
    }
  });
});
