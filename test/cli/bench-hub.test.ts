// duplex bench --hub as a user runs it: against `duplex serve` spawned as a process (sane
// figures, every delivery accounted for), and against a test hub that loses and doubles
// chosen messages without the client being able to tell (the counts must match exactly).
// No assertion on speed (the machine is shared).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli-run.js';
import { type EchoProcess, startCommand } from '../helpers/echo-process.js';
import { startLossyHub } from './lossy-hub.js';

const T = { timeout: 90_000 };

interface HubJson {
  mode: string;
  reconnects: number;
  unrecovered: number;
  channel: string;
  subscribers: number;
  publishers: number;
  subscribed: number;
  connected_publishers: number;
  publishes: number;
  deliveries: number;
  expected_deliveries: number;
  msgs_per_s: number;
  lost: number;
  duplicated: number;
  lost_by_subscriber: Record<string, number>;
  duplicated_by_subscriber: Record<string, number>;
  drained: boolean;
  foreign: number;
  min_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  latency_from: string;
  errors: number;
  error_detail: Record<string, number>;
}

function parseOne(stdout: string): HubJson {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, stdout);
  return JSON.parse(lines[0]!) as HubJson;
}

describe('duplex bench --hub', () => {
  let serve: EchoProcess;
  before(async () => {
    serve = await startCommand('serve');
  });
  after(async () => {
    await serve.stop();
  });

  it(
    'delivers every publish to every subscriber through duplex serve, and says so in one JSON object',
    T,
    async () => {
      const r = await runCli(
        [
          'bench',
          `${serve.url}hub`,
          '--hub',
          'room',
          '--subscribers',
          '6',
          '--publishers',
          '3',
          '--rate',
          '60',
          '-d',
          '2',
          '-w',
          '0.5',
          '--threads',
          '2',
          '--json',
        ],
        { timeoutMs: 80_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const j = parseOne(r.stdout);
      assert.equal(j.mode, 'hub');
      assert.equal(j.channel, 'room');
      assert.equal(j.subscribed, 6, r.stdout);
      assert.equal(j.connected_publishers, 3, r.stdout);
      assert.equal(j.errors, 0, r.stdout);
      assert.ok(j.publishes > 0, r.stdout);
      assert.equal(j.expected_deliveries, j.publishes * 6);
      assert.equal(j.deliveries, j.publishes * 6, r.stdout);
      assert.equal(j.lost, 0, r.stdout);
      assert.equal(j.duplicated, 0, r.stdout);
      assert.equal(j.foreign, 0, r.stdout);
      assert.equal(j.drained, true);
      assert.equal(j.latency_from, 'due');
      assert.ok(j.min_us >= 1 && j.min_us <= j.p50_us, r.stdout);
      assert.ok(
        j.p50_us <= j.p90_us && j.p90_us <= j.p99_us && j.p99_us <= j.p999_us && j.p999_us <= j.max_us,
      );
      assert.ok(j.p50_us < 10_000_000, r.stdout);
    },
  );

  it('prints publishes, deliveries, latency and losses as a table by default', T, async () => {
    const r = await runCli([
      'bench',
      `${serve.url}hub`,
      '--hub',
      'table',
      '--subscribers',
      '2',
      '-d',
      '0.5',
      '-w',
      '0',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2\/2 subscribers, 1\/1 publishers/);
    assert.match(r.stdout, /deliveries +([\d,]+) of \1 expected/);
    assert.match(
      r.stdout,
      /latency +p50 [\d.]+ (µs|ms) +p90 .* p99 .* p99\.9 .* max .*publish due -> subscriber/,
    );
    assert.match(r.stdout, /losses +0 lost, 0 duplicated/);
  });

  it('counts refused publishes as errors, not as losses', T, async () => {
    // duplex serve allows 50 messages/s per connection after a burst of 300.
    const r = await runCli([
      'bench',
      `${serve.url}hub`,
      '--hub',
      'limited',
      '--subscribers',
      '2',
      '--rate',
      '400',
      '-d',
      '1.5',
      '-w',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = parseOne(r.stdout);
    assert.ok(j.error_detail['publish']! > 0, r.stdout);
    assert.equal(j.lost, 0, r.stdout);
    assert.equal(j.duplicated, 0, r.stdout);
    assert.equal(j.deliveries, j.publishes * 2, r.stdout);
  });

  it('finds exactly the messages a hub lost or sent twice, per subscriber', T, async () => {
    // Subscriber 0 never gets every 5th message of each publisher; subscriber 1 gets every 7th twice.
    const hub = await startLossyHub((subscriber, data) => {
      const s = data.s ?? 0;
      if (subscriber === 0 && s % 5 === 2) return 'drop';
      if (subscriber === 1 && s % 7 === 3) return 'double';
      return 'deliver';
    });
    try {
      const r = await runCli([
        'bench',
        hub.url,
        '--hub',
        'lossy',
        '--subscribers',
        '3',
        '--publishers',
        '2',
        '--rate',
        '200',
        '-d',
        '1',
        '-w',
        '0.3',
        '--threads',
        '1',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = parseOne(r.stdout);
      assert.ok(hub.dropped > 0 && hub.doubled > 0, `${hub.dropped} ${hub.doubled}`);
      assert.equal(j.lost, hub.dropped, r.stdout);
      assert.equal(j.duplicated, hub.doubled, r.stdout);
      assert.equal(Object.keys(j.lost_by_subscriber).length, 1, r.stdout);
      assert.equal(Object.keys(j.duplicated_by_subscriber).length, 1, r.stdout);
      assert.notDeepEqual(Object.keys(j.lost_by_subscriber), Object.keys(j.duplicated_by_subscriber));
      assert.equal(j.drained, false, 'a subscriber that lost messages never drains');
      assert.ok(j.deliveries < j.expected_deliveries, r.stdout);
      assert.equal(j.errors, 0, r.stdout);
    } finally {
      await hub.close();
    }
  });

  it('exits 2 on usage errors of the hub mode', T, async () => {
    for (const args of [
      ['bench', 'ws://127.0.0.1:1/hub', '--hub', 'room', '--connections', '3'],
      ['bench', 'ws://127.0.0.1:1/hub', '--hub', 'room', '--binary'],
      ['bench', 'ws://127.0.0.1:1/hub', '--subscribers', '3'],
      ['bench', 'ws://127.0.0.1:1/hub', '--hub', 'room', '--publishers', '0'],
      ['bench', 'ws://127.0.0.1:1/hub', '--hub', ''],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: duplex bench/);
    }
  });
});

describe('duplex bench --hub when the hub process dies mid-run', () => {
  it('counts the drops, the reconnects and the subscriptions that could not recover', T, async () => {
    let serve = await startCommand('serve');
    const port = serve.port;
    try {
      const bench = spawnCli(
        [
          'bench',
          `${serve.url}hub`,
          '--hub',
          'crash',
          '--subscribers',
          '3',
          '--rate',
          '20',
          '-d',
          '6',
          '-w',
          '0',
          '--threads',
          '1',
          '--json',
        ],
        { timeoutMs: 80_000 },
      );
      // Once the bench's four clients are connected, the hub process is killed and a new one
      // (a fresh in-memory hub: a new epoch, no history) takes its port.
      const until = Date.now() + 30_000;
      for (;;) {
        const metrics = await fetch(`${serve.url}metrics`).then((r) => r.text());
        if (/^duplex_hub_connections 4$/m.test(metrics)) break;
        assert.ok(Date.now() < until, 'the bench connected within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      serve.child.kill('SIGKILL');
      await serve.stop();
      serve = await startCommand('serve', ['--port', String(port)]);
      const r = await bench.exited;
      assert.equal(r.code, 0, r.stderr);
      const j = parseOne(r.stdout);
      assert.ok(j.reconnects >= 4, r.stdout);
      assert.ok(j.error_detail['closed']! >= 4, r.stdout);
      // The new hub's channel is another epoch: no subscriber can recover what it missed.
      assert.equal(j.unrecovered, 3, r.stdout);
      assert.ok(j.publishes > 0, r.stdout);
      assert.equal(j.duplicated, 0, r.stdout);
    } finally {
      await serve.stop();
    }
  });
});
