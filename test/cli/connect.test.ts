// duplex connect as a user runs it: spawned, real stdin and stdout, against `duplex echo`
// and an independent `ws` server. Every exit status is checked.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli-run.js';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import { startWsTarget, type WsTarget } from './ws-target.js';

const T = { timeout: 30_000 };

describe('duplex connect against duplex echo', () => {
  let echo: EchoProcess;
  before(async () => {
    echo = await startEcho();
  });
  after(async () => {
    await echo.stop();
  });

  it(
    'sends each -x message in order, prints each reply on its own line, closes with 1000 and exits 0',
    T,
    async () => {
      const r = await runCli(['connect', echo.url, '-x', 'hello', '-x', 'wörld ✓', '-w', '0.5']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hello\nwörld ✓\n');
      assert.match(r.stderr, /connected to ws:\/\/127\.0\.0\.1:\d+\//);
      assert.match(r.stderr, /closed: 1000 normal closure/);
    },
  );

  it(
    'sends binary from hex (--binary) and base64 (--base64) and prints binary replies as marked hex',
    T,
    async () => {
      const hex = await runCli([
        'connect',
        echo.url,
        '--binary',
        '-x',
        '00 01 ff',
        '-x',
        'CAFE',
        '-w',
        '0.5',
      ]);
      assert.equal(hex.code, 0, hex.stderr);
      assert.equal(hex.stdout, '[binary] 0001ff\n[binary] cafe\n');
      const b64 = await runCli(['connect', echo.url, '--base64', '-x', 'AAH/', '-w', '0.5']);
      assert.equal(b64.code, 0, b64.stderr);
      assert.equal(b64.stdout, '[binary] 0001ff\n');
    },
  );

  it(
    'sends a file as one binary message and a ping, in command-line order (-P shows the pong)',
    T,
    async () => {
      const file = path.join(tmpdir(), `duplex-connect-${process.pid}.bin`);
      await writeFile(file, Buffer.from([1, 2, 3, 0x80]));
      const r = await runCli([
        'connect',
        echo.url,
        '-x',
        'first',
        '-f',
        file,
        '--ping',
        'hi',
        '-P',
        '-w',
        '0.5',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'first\n[binary] 01020380\n[pong] 6869\n');
    },
  );

  it('sends each line of piped stdin and exits 0 after the answers once the pipe ends', T, async () => {
    const r = await runCli(['connect', echo.url, '-w', '0.5'], { stdin: 'one\ntwo\n\nthree' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'one\ntwo\n\nthree\n');
  });

  it('reads piped stdin as hex with --binary', T, async () => {
    const r = await runCli(['connect', echo.url, '--binary', '-w', '0.5'], { stdin: 'abcd\n01\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '[binary] abcd\n[binary] 01\n');
  });

  it('pretty-prints JSON with --json and stamps lines with -t', T, async () => {
    const r = await runCli([
      'connect',
      echo.url,
      '--json',
      '-t',
      '-x',
      '{"a":[1]}',
      '-x',
      'not json',
      '-w',
      '0.5',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ts = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    assert.match(r.stdout, new RegExp(`^${ts} \\{\\n  "a": \\[\\n    1\\n  \\]\\n\\}\\n${ts} not json\\n$`));
  });

  it('offers permessage-deflate unless --no-deflate', T, async () => {
    const on = await runCli(['connect', echo.url, '-x', 'x', '-w', '0.2']);
    assert.match(on.stderr, /extensions permessage-deflate/);
    const off = await runCli(['connect', echo.url, '--no-deflate', '-x', 'x', '-w', '0.2']);
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stderr, /permessage-deflate/);
  });

  it('exits 0 when the server goes away with 1001 (duplex echo stopped)', T, async () => {
    const own = await startEcho();
    const cli = spawnCli(['connect', own.url]);
    await cli.waitFor(/connected to/, 'stderr');
    cli.child.stdin.write('ping\n');
    await cli.waitFor(/^ping$/m);
    assert.equal(await own.stop(), 0);
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /closed by the peer: 1001 going away/);
  });
});

describe('duplex connect against a ws server', () => {
  let ws: WsTarget;
  before(async () => {
    ws = await startWsTarget();
  });
  after(async () => {
    await ws.close();
  });

  it('sends headers, an Origin and the subprotocols offered', T, async () => {
    const r = await runCli([
      'connect',
      ws.url('/hello'),
      '-H',
      'X-Test: yes please',
      '--origin',
      'https://app.example',
      '-s',
      'chat.v1',
      '-s',
      'chat.v2',
      '-w',
      '0.5',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      test: 'yes please',
      origin: 'https://app.example',
      host: `127.0.0.1:${ws.port}`,
      protocol: 'chat.v2',
    });
    assert.match(r.stderr, /subprotocol chat\.v2/);
  });

  it('echoes text and binary through ws', T, async () => {
    const r = await runCli(['connect', ws.url('/echo'), '-x', 'über', '-w', '0.5']);
    assert.equal(r.stdout, 'über\n');
    const b = await runCli(['connect', ws.url('/echo'), '--binary', '-x', 'ff00', '-w', '0.5']);
    assert.equal(b.stdout, '[binary] ff00\n');
  });

  it('exits 4 and names the code when the peer closes with an error code', T, async () => {
    const r = await runCli(['connect', ws.url('/close/4001'), '-x', 'x']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /closed by the peer: 4001 application-defined: "bye"/);
    const internal = await runCli(['connect', ws.url('/close/1011'), '-x', 'x']);
    assert.equal(internal.code, 4, internal.stderr);
    assert.match(internal.stderr, /1011 internal server error: "bye"/);
  });

  it('exits 3 when the connection drops without a close frame', T, async () => {
    const r = await runCli(['connect', ws.url('/drop'), '-x', 'x']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /1006 abnormal closure/);
  });

  it('exits 1 with the HTTP status when the handshake is refused', T, async () => {
    const r = await runCli(['connect', ws.url('/refuse'), '-x', 'x']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot connect to .*\/refuse: the server answered HTTP 401 instead of 101/);
  });

  it('reconnects with --reconnect after the peer closed, and keeps sending', T, async () => {
    const before = ws.connections;
    const cli = spawnCli(['connect', ws.url('/flaky'), '--reconnect', '-w', '0.3']);
    await cli.waitFor(/connected to/, 'stderr');
    cli.child.stdin.write('a\n');
    await cli.waitFor(/1012 service restart: "restarting"; retry 1 in/, 'stderr');
    await cli.waitFor(/connected to[\s\S]*connected to/, 'stderr');
    cli.child.stdin.end();
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ws.connections - before >= 2);
  });
});

describe('duplex connect failures', () => {
  it('exits 1 when nothing listens, and 1 after the last retry of --reconnect', T, async () => {
    const ws = await startWsTarget();
    const url = ws.url('/echo');
    await ws.close();
    const r = await runCli(['connect', url, '-x', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/echo: .*ECONNREFUSED/);
    const retried = await runCli(['connect', url, '-x', 'x', '--reconnect', '--max-retries', '2']);
    assert.equal(retried.code, 1);
    assert.match(retried.stderr, /retry 1 in[\s\S]*retry 2 in/);
  });

  it('exits 2 on usage errors', T, async () => {
    for (const args of [
      ['connect'],
      ['connect', 'http//nope'],
      ['connect', 'ftp://127.0.0.1/'],
      ['connect', 'ws://127.0.0.1:1/', '--binary', '-x', 'xyz'],
      ['connect', 'ws://127.0.0.1:1/', '--no-such-flag'],
      ['connect', 'ws://127.0.0.1:1/', '-f', '/no/such/file'],
      ['connect', 'ws://127.0.0.1:1/', '-H', 'no colon'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: duplex connect/);
    }
  });
});
