// duplex bench as a user runs it, against `duplex echo` and a `ws` server: sane figures,
// --json parses, every exit status; no assertion on speed (the machine is shared).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli-run.js';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import { startWsTarget, type WsTarget } from './ws-target.js';

const T = { timeout: 60_000 };

interface BenchJson {
  connections: number;
  connected: number;
  size: number;
  type: string;
  mode: string;
  messages: number;
  msgs_per_s: number;
  mbytes_per_s: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  min_us: number;
  errors: number;
  latency_from: string;
}

/** checkSane asserts what every completed run must show, whatever the machine's speed. */
function checkSane(r: BenchJson): void {
  assert.equal(r.errors, 0, JSON.stringify(r));
  assert.equal(r.connected, r.connections);
  assert.ok(r.messages > 0 && r.msgs_per_s > 0, JSON.stringify(r));
  assert.ok(r.min_us >= 1 && r.min_us <= r.p50_us, JSON.stringify(r));
  assert.ok(r.p50_us <= r.p90_us && r.p90_us <= r.p99_us && r.p99_us <= r.p999_us && r.p999_us <= r.max_us);
  // 10 s per round trip would be absurd on loopback.
  assert.ok(r.p50_us < 10_000_000, JSON.stringify(r));
  assert.ok(Math.abs(r.mbytes_per_s - (r.msgs_per_s * r.size) / 1e6) <= 0.05 + r.mbytes_per_s * 0.05);
}

describe('duplex bench', () => {
  let echo: EchoProcess;
  let ws: WsTarget;
  before(async () => {
    echo = await startEcho();
    ws = await startWsTarget();
  });
  after(async () => {
    await echo.stop();
    await ws.close();
  });

  it('measures duplex echo and prints exactly one JSON object with --json', T, async () => {
    const r = await runCli([
      'bench',
      echo.url,
      '--connections',
      '4',
      '--inflight',
      '2',
      '--duration',
      '1',
      '--warmup',
      '0.2',
      '--threads',
      '2',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const result = JSON.parse(lines[0]!) as BenchJson;
    checkSane(result);
    assert.equal(result.connections, 4);
    assert.equal(result.size, 32);
    assert.equal(result.type, 'text');
    assert.equal(result.mode, 'closed-loop');
    assert.equal(result.latency_from, 'send');
    assert.doesNotMatch(r.stderr, /\r/, 'no progress line when stderr is not a terminal');
  });

  it('prints throughput, the percentiles and errors as a table by default', T, async () => {
    const r = await runCli(['bench', echo.url, '--connections', '2', '--duration', '0.5', '--warmup', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /throughput +[\d,]+ msgs\/s +[\d.]+ MB\/s/);
    assert.match(r.stdout, /latency +p50 [\d.]+ (µs|ms) +p90 .* p99 .* p99\.9 .* max /);
    assert.match(r.stdout, /errors +0/);
  });

  it('sends 16 KiB binary messages to a ws server, with a ramp-up', T, async () => {
    const r = await runCli([
      'bench',
      ws.url('/echo'),
      '-c',
      '3',
      '--size',
      '16384',
      '--binary',
      '--ramp',
      '0.3',
      '-d',
      '1',
      '-w',
      '0.2',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as BenchJson;
    checkSane(result);
    assert.equal(result.type, 'binary');
    assert.equal(result.size, 16384);
  });

  it('runs at a fixed --rate with latency counted from when each message was due', T, async () => {
    const r = await runCli(['bench', echo.url, '-c', '2', '--rate', '400', '-d', '1', '-w', '0.2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as BenchJson & { rate: number; sent_per_s: number };
    checkSane(result);
    assert.equal(result.mode, 'rate');
    assert.equal(result.latency_from, 'due');
    assert.equal(result.rate, 400);
    // The schedule is fixed, so no more than the rate is ever sent (a slow machine sends less).
    assert.ok(result.sent_per_s <= 400 * 1.1, JSON.stringify(result));
  });

  // The bench connections drive their TCP handle after the handshake (src/cli/bench-handle.ts);
  // pongs and the closing handshake go through it too.
  it('answers pings and closes every connection with 1000 at the end', T, async () => {
    const before = ws.closeCodes.length;
    const r = await runCli(['bench', ws.url('/ping-echo'), '-c', '3', '-d', '0.5', '-w', '0.1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    checkSane(JSON.parse(r.stdout) as BenchJson);
    assert.ok(ws.pongs > 3, `pongs: ${ws.pongs}`);
    for (let i = 0; i < 500 && ws.closeCodes.length < before + 3; i++)
      await new Promise((s) => setTimeout(s, 20));
    assert.deepEqual(ws.closeCodes.slice(before), [1000, 1000, 1000]);
  });

  it('works the same on the node:net stream path (DUPLEX_STREAM_IO=1)', T, async () => {
    const before = ws.closeCodes.length;
    const r = await runCli(
      [
        'bench',
        ws.url('/ping-echo'),
        '-c',
        '2',
        '--size',
        '20000',
        '--binary',
        '-d',
        '0.5',
        '-w',
        '0.1',
        '--json',
      ],
      { env: { DUPLEX_STREAM_IO: '1' } },
    );
    assert.equal(r.code, 0, r.stderr);
    checkSane(JSON.parse(r.stdout) as BenchJson);
    for (let i = 0; i < 500 && ws.closeCodes.length < before + 2; i++)
      await new Promise((s) => setTimeout(s, 20));
    assert.deepEqual(ws.closeCodes.slice(before), [1000, 1000]);
  });

  it('counts a server that closes the connections as errors', T, async () => {
    const r = await runCli(['bench', ws.url('/close/1011'), '-c', '2', '-d', '0.5', '-w', '0', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as BenchJson & { error_detail: Record<string, number> };
    assert.equal(result.errors, 2, JSON.stringify(result));
    assert.equal(result.error_detail['closed'], 2);
  });

  it('exits 1 when no connection opens, with one JSON object under --json', T, async () => {
    const r = await runCli(['bench', ws.url('/refuse'), '-c', '2', '-d', '0.5', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const result = JSON.parse(r.stdout) as { connected: number; errors: number; error: string };
    assert.equal(result.connected, 0);
    assert.equal(result.errors, 2);
    assert.match(result.error, /401/);
  });

  it('exits 2 on usage errors', T, async () => {
    for (const args of [
      ['bench'],
      ['bench', 'ws://127.0.0.1:1/', '--connections', '0'],
      ['bench', 'ws://127.0.0.1:1/', '--duration', 'long'],
      ['bench', 'ws://127.0.0.1:1/', '--bogus'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: duplex bench/);
    }
  });
});
