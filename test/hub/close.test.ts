import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Hub, memoryBroker } from 'duplexjs/hub';
import { RawHubClient, startHub, until } from '../helpers/hub-client.js';

describe('hub close', () => {
  it('closes every client with 1001 and resolves once they are gone', async () => {
    const t = await startHub();
    const a = await t.connect();
    const b = await t.connect();
    await a.subscribe('x');
    const pending = await RawHubClient.open(t.url);
    await t.hub.close();
    assert.equal((await a.closed).code, 1001);
    assert.equal((await b.closed).code, 1001);
    assert.equal((await pending.closed).code, 1001);
    assert.equal(t.hub.stats().connections, 0);
    await t.stop();
  });

  it('close({ restart: true, retryAfterMs }) sends 1012 with the retry hint as JSON', async () => {
    const t = await startHub();
    const a = await t.connect();
    await t.hub.close({ restart: true, retryAfterMs: 2_500 });
    const info = await a.closed;
    assert.equal(info.code, 1012);
    assert.deepEqual(JSON.parse(info.reason), { retryAfterMs: 2_500 });
    await t.stop();
  });

  it('close({ restart, retryAfterMs, retryJitterMs }) gives each client its own hint within the spread', async () => {
    const t = await startHub();
    const clients = await Promise.all(Array.from({ length: 8 }, () => t.connect()));
    await t.hub.close({ restart: true, retryAfterMs: 1_000, retryJitterMs: 1_000 });
    const hints: number[] = [];
    for (const c of clients) {
      const info = await c.closed;
      assert.equal(info.code, 1012);
      const hint = (JSON.parse(info.reason) as { retryAfterMs: number }).retryAfterMs;
      assert.ok(Number.isInteger(hint) && hint >= 1_000 && hint <= 2_000, `hint ${hint} outside 1000..2000`);
      hints.push(hint);
    }
    // Eight uniform draws over 1,001 values are all equal with probability 1e-21.
    assert.ok(new Set(hints).size > 1, `every client got the same hint: ${hints.join(', ')}`);
    await t.stop();
  });

  it('noServer mode serves through handleUpgrade; a broker passed in stays open after close', async () => {
    const broker = memoryBroker();
    const hub = new Hub({ noServer: true, broker });
    const server = createServer();
    server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/anything`;
    const c = await RawHubClient.connected(url);
    await c.subscribe('n:1');
    await hub.publish('n:1', 'hello');
    await c.waitFor((m) => m.type === 'pub', 'pub');
    await hub.close();
    assert.equal((await c.closed).code, 1001);
    assert.equal((await broker.publish('n:1', { data: 1 }, { size: 1, ttlMs: 1000 })).offset, 2);
    server.close();
  });
});

describe('hub standalone', () => {
  it('listens on its own port with { port: 0 } and closes its server', async () => {
    const hub = new Hub({ port: 0, host: '127.0.0.1' });
    hub.on('error', () => {});
    await until(() => typeof hub.address() === 'object' && hub.address() !== null, 'listening');
    const { port } = hub.address() as AddressInfo;
    const c = await RawHubClient.connected(`ws://127.0.0.1:${port}/`);
    assert.equal(c.ws.protocol, 'duplex.v1');
    await hub.close();
    assert.equal((await c.closed).code, 1001);
    await assert.rejects(RawHubClient.open(`ws://127.0.0.1:${port}/`));
  });
});
