/**
 * A rolling restart of two `duplex serve --redis` processes while messages flow: each process in
 * turn gets SIGTERM (new upgrades 503, clients closed with 1012 and a retry hint, exit 0 within
 * the deadline) and is started again; the clients reconnect through the proxy to whichever
 * process answers and recover what they missed from Redis. No client loses or repeats a message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisForSuite, requireRedis } from '../helpers/redis-server.js';
import {
  audit,
  openClients,
  Publisher,
  type ServeProcess,
  startServe,
  stopAll,
  stopServe,
  type Tracked,
  until,
} from '../helpers/serve-redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const CLIENTS = 60;
const MESSAGES = 150;

describe('rolling restart of duplex serve --redis', () => {
  const suiteRedis = redisForSuite();

  it('two processes, each sent SIGTERM and started again while messages flow: no client loses a message', async (t) => {
    if (!requireRedis(t)) return;
    const redis = suiteRedis();
    assert.ok(redis, 'redis-server started');
    const channel = 'rolling:room';
    const procs: ServeProcess[] = [];
    let proxy: TcpProxy | undefined;
    let fleet: Tracked[] = [];
    let publisher: Publisher | undefined;
    try {
      procs.push(await startServe(redis.url), await startServe(redis.url));
      proxy = await TcpProxy.start(procs.map((p) => p.port));
      const url = `ws://127.0.0.1:${proxy.port}/hub`;
      fleet = await openClients(url, CLIENTS, channel);
      publisher = new Publisher(url, 'p', channel, MESSAGES, 20);
      const exits: Array<number | null> = [];
      for (let i = 0; i < 2; i++) {
        const target = (i + 1) * (MESSAGES / 3);
        await until(() => publisher!.acked.length >= target, `${target} messages published`, 60_000);
        // The load balancer keeps sending to the stopping process until it is gone: it answers 503.
        exits.push(await stopServe(procs[i]!));
        procs[i] = await startServe(redis.url);
        proxy.targets = procs.map((p) => p.port);
      }
      await publisher.done;
      await until(
        () => audit(fleet, [publisher!]).lossyClients === 0,
        'every client to receive every message',
        60_000,
      ).catch(() => {});
      const result = audit(fleet, [publisher]);
      t.diagnostic(JSON.stringify(result));
      assert.deepEqual(exits, [0, 0], 'each process exited 0 after SIGTERM');
      assert.equal(publisher.acked.length, MESSAGES);
      assert.equal(result.missing, 0, 'no client lost a message');
      assert.equal(result.duplicates, 0, 'no client got a message twice');
      assert.equal(result.outOfOrder, 0);
      assert.equal(result.recoveredFalse, 0, 'every resubscription recovered');
      assert.ok(result.recoveredTrue > 0, 'clients of the restarted processes came back and recovered');
    } finally {
      await stopAll({ publishers: [publisher], fleet, proxy, procs });
    }
  });
});
