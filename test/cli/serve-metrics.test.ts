// /metrics of `duplex serve`, scraped from outside: the text parses as Prometheus exposition,
// names follow Prometheus conventions, and the counters move with real traffic (handshakes and
// their refusals by reason, messages and bytes both ways, publish and RPC latency, close codes).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { type EchoProcess, startCommand } from '../helpers/echo-process.js';

/** Sample is one line of the exposition: the metric name, its labels, its value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** parse reads the Prometheus text format: samples and the TYPE of each family. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

class Scrape {
  constructor(
    readonly samples: Sample[],
    readonly types: Map<string, string>,
  ) {}

  /** get sums the samples of a name whose labels include `labels` (0 when none). */
  get(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  }
}

async function scrape(base: string): Promise<Scrape> {
  const res = await fetch(`${base}metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parse(await res.text());
  return new Scrape(samples, types);
}

/** upgrade sends an upgrade request by hand and resolves with the status line. */
function upgrade(port: number, path: string, headers: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    socket.on('error', reject);
    let head = '';
    socket.on('data', (chunk: string) => {
      head += chunk;
      const end = head.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(head.slice(0, end));
      }
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`);
  });
}

const GOOD = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n';
const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('duplex serve /metrics', () => {
  let server: EchoProcess;
  let base: string;
  before(async () => {
    server = await startCommand('serve');
    base = server.url;
  });
  after(async () => {
    await server.stop();
  });

  it('names follow Prometheus conventions', async () => {
    const s = await scrape(base);
    for (const [name, type] of s.types) {
      assert.match(name, /^duplex_/, name);
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name}`);
      if (type === 'histogram') assert.match(name, /_seconds$/, `histogram ${name}`);
      if (/bytes/.test(name) && type !== 'histogram') assert.match(name, /_bytes(_total)?$/, name);
    }
    for (const name of [
      'duplex_hub_connections',
      'duplex_hub_channels',
      'duplex_hub_subscriptions',
      'duplex_handshakes_total',
      'duplex_handshake_failures_total',
      'duplex_hub_messages_received_total',
      'duplex_hub_messages_sent_total',
      'duplex_hub_received_bytes_total',
      'duplex_hub_sent_bytes_total',
      'duplex_hub_closes_total',
      'duplex_hub_publish_duration_seconds',
      'duplex_hub_rpc_duration_seconds',
      'duplex_broker_errors_total',
      'duplex_hub_errors_total',
    ]) {
      assert.ok(s.types.has(name), `${name} is exposed`);
    }
  });

  it('counters move with traffic', async () => {
    const before = await scrape(base);
    const client = new HubClient(`${base.replace('http://', 'ws://')}hub`, {
      WebSocket,
      token: 'metrics-test',
    });
    const sub = client.subscribe('metrics:test');
    const got: unknown[] = [];
    sub.on('message', (data) => got.push(data));
    await new Promise<void>((resolve) => sub.on('subscribed', () => resolve()));
    for (let i = 0; i < 5; i++) await client.publish('metrics:test', { i, pad: 'x'.repeat(1000) });
    for (let i = 0; i < 3; i++) await client.call('echo', { i });
    await assert.rejects(client.call('createRoom', { name: 'NOT A ROOM' }));
    await eventually('the five messages', async () => got.length === 5);

    const during = await scrape(base);
    assert.equal(during.get('duplex_hub_connections') - before.get('duplex_hub_connections'), 1);
    assert.equal(
      during.get('duplex_handshakes_total', { endpoint: 'hub' }) -
        before.get('duplex_handshakes_total', { endpoint: 'hub' }),
      1,
    );
    // connect, subscribe, 5 publishes, 4 calls (and maybe pongs).
    const inDelta =
      during.get('duplex_hub_messages_received_total') - before.get('duplex_hub_messages_received_total');
    assert.ok(inDelta >= 11, `messages in +${inDelta}`);
    const outDelta =
      during.get('duplex_hub_messages_sent_total') - before.get('duplex_hub_messages_sent_total');
    assert.ok(outDelta >= 16, `messages out +${outDelta}`);
    const bytesIn =
      during.get('duplex_hub_received_bytes_total') - before.get('duplex_hub_received_bytes_total');
    assert.ok(bytesIn >= 5 * 1000, `bytes in +${bytesIn}`);
    const bytesOut = during.get('duplex_hub_sent_bytes_total') - before.get('duplex_hub_sent_bytes_total');
    assert.ok(bytesOut >= 5 * 1000, `bytes out +${bytesOut}`);
    const stored =
      during.get('duplex_hub_publish_duration_seconds_count', { result: 'stored' }) -
      before.get('duplex_hub_publish_duration_seconds_count', { result: 'stored' });
    assert.ok(stored >= 5, `publishes timed +${stored}`);
    assert.equal(
      during.get('duplex_hub_rpc_duration_seconds_count', { method: 'echo', result: 'ok' }) -
        before.get('duplex_hub_rpc_duration_seconds_count', { method: 'echo', result: 'ok' }),
      3,
    );
    assert.equal(
      during.get('duplex_hub_rpc_duration_seconds_count', { method: 'createRoom', result: 'error' }) -
        before.get('duplex_hub_rpc_duration_seconds_count', { method: 'createRoom', result: 'error' }),
      1,
    );
    assert.equal(during.get('duplex_broker_errors_total'), 0);

    client.close();
    await eventually('the close to be counted', async () => {
      const s = await scrape(base);
      return (
        s.get('duplex_hub_closes_total', { code: '1000' }) -
          before.get('duplex_hub_closes_total', { code: '1000' }) ===
        1
      );
    });
  });

  it('counts refused handshakes by reason', async () => {
    const before = await scrape(base);
    assert.match(await upgrade(server.port, '/hub', GOOD + KEY), /^HTTP\/1\.1 400 /);
    assert.match(
      await upgrade(
        server.port,
        '/hub',
        `${GOOD}Sec-WebSocket-Key: short\r\nSec-WebSocket-Protocol: duplex.v1\r\n`,
      ),
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      await upgrade(
        server.port,
        '/hub',
        `${GOOD + KEY}Sec-WebSocket-Protocol: duplex.v1\r\nOrigin: http://evil.example\r\n`,
      ),
      /^HTTP\/1\.1 403 /,
    );
    assert.match(await upgrade(server.port, '/nowhere', GOOD + KEY), /^HTTP\/1\.1 404 /);
    const after = await scrape(base);
    const failures = (labels: Record<string, string>) =>
      after.get('duplex_handshake_failures_total', labels) -
      before.get('duplex_handshake_failures_total', labels);
    // The reasons are the codes the endpoints reported on their `refused` events.
    assert.equal(failures({ endpoint: 'hub', reason: 'DUPLEX_HANDSHAKE_NO_SUBPROTOCOL', status: '400' }), 1);
    assert.equal(
      failures({ endpoint: 'hub', reason: 'DUPLEX_HANDSHAKE_ORIGIN_NOT_ALLOWED', status: '403' }),
      1,
    );
    assert.equal(failures({ endpoint: 'other', reason: 'DUPLEX_HANDSHAKE_NOT_FOUND', status: '404' }), 1);
    assert.equal(failures({ endpoint: 'hub', reason: 'DUPLEX_HANDSHAKE_BAD_KEY', status: '400' }), 1);
    assert.equal(failures({}), 4);
    assert.equal(
      after.get('duplex_handshakes_total', { endpoint: 'hub' }) -
        before.get('duplex_handshakes_total', { endpoint: 'hub' }),
      3,
    );
  });
});

/** open sends a handshake from `localAddress` and resolves with the status and the socket (left open on 101). */
function open(
  port: number,
  path: string,
  localAddress: string,
  extra = '',
): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.setEncoding('latin1');
    socket.on('error', reject);
    let head = '';
    const onData = (chunk: string): void => {
      head += chunk;
      const end = head.indexOf('\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = Number(head.slice(0, end).split(' ')[1]);
      if (status !== 101) socket.destroy();
      resolve({ status, socket });
    };
    socket.on('data', onData);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${GOOD}Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extra}\r\n`,
    );
  });
}

describe('duplex serve /metrics: connection-limit refusals, limits lowered by flags', () => {
  let server: EchoProcess;
  const sockets: Socket[] = [];
  before(async () => {
    server = await startCommand('serve', [
      '--max-connections',
      '2',
      '--max-connections-per-address',
      '1',
      '--handshake-rate',
      '0.001',
      '--handshake-burst',
      '1',
    ]);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await server.stop();
  });

  it('counts 429 and 503 refusals of /hub and /echo by their code, as written on the wire', async () => {
    const port = server.port;
    const hub = 'Sec-WebSocket-Protocol: duplex.v1\r\n';
    const keep = async (path: string, from: string, extra = ''): Promise<void> => {
      const r = await open(port, path, from, extra);
      assert.equal(r.status, 101, `${path} from ${from}`);
      sockets.push(r.socket);
    };
    const status = async (path: string, from: string, extra = ''): Promise<number> =>
      (await open(port, path, from, extra)).status;

    await keep('/hub', '127.0.0.1', hub);
    assert.equal(await status('/hub', '127.0.0.1', hub), 429); // per address
    await keep('/hub', '127.0.0.2', hub);
    assert.equal(await status('/hub', '127.0.0.3', hub), 503); // the cap of 2

    // /echo has limits of its own: one connection from .4 uses its one token; once it is
    // closed, the next handshake from .4 is refused by the handshake rate.
    const first = await open(port, '/echo', '127.0.0.4');
    assert.equal(first.status, 101);
    first.socket.destroy();
    await eventually('the /echo connection to close', async () => {
      return (await scrape(server.url)).get('duplex_echo_connections') === 0;
    });
    assert.equal(await status('/echo', '127.0.0.4'), 429);
    await keep('/echo', '127.0.0.5');
    await keep('/echo', '127.0.0.6');
    assert.equal(await status('/echo', '127.0.0.7'), 503);

    const s = await scrape(server.url);
    const failures = (labels: Record<string, string>) => s.get('duplex_handshake_failures_total', labels);
    assert.equal(
      failures({
        endpoint: 'hub',
        reason: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS_PER_ADDRESS',
        status: '429',
      }),
      1,
    );
    assert.equal(
      failures({ endpoint: 'hub', reason: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS', status: '503' }),
      1,
    );
    assert.equal(failures({ endpoint: 'echo', reason: 'DUPLEX_HANDSHAKE_RATE_LIMITED', status: '429' }), 1);
    assert.equal(
      failures({ endpoint: 'echo', reason: 'DUPLEX_HANDSHAKE_TOO_MANY_CONNECTIONS', status: '503' }),
      1,
    );
    assert.equal(
      failures({}),
      4,
      JSON.stringify(s.samples.filter((x) => x.name.startsWith('duplex_handshake'))),
    );
    assert.equal(s.get('duplex_handshakes_total', { endpoint: 'hub' }), 4);
    assert.equal(s.get('duplex_handshakes_total', { endpoint: 'echo' }), 5);
  });
});
