/**
 * Presence of a process that dies: its entries are not removed by anyone, they expire. Each live
 * process sweeps the channels it serves (every `sweepIntervalMs`) and announces the leave, so
 * the members of a killed process vanish within the presence expiry. Real time, real Redis.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerListener } from 'duplexjs/hub';
import { redisBroker } from 'duplexjs/redis';
import { RedisServer, requireRedis } from '../helpers/redis-server.js';

describe('redisBroker presence expiry', () => {
  it('the members of a process that vanished leave within the expiry, announced by a live process', async (t) => {
    if (!requireRedis(t)) return;
    const redis = await RedisServer.start();
    const dead = redisBroker({ url: redis.url, sweepIntervalMs: 100 });
    const live = redisBroker({ url: redis.url, sweepIntervalMs: 100 });
    try {
      await Promise.all([dead.ready(), live.ready()]);
      const events: string[] = [];
      const listener: BrokerListener = {
        onPublication() {},
        onJoin: (_c, m) => events.push(`join ${m.user}`),
        onLeave: (_c, m) => events.push(`leave ${m.user}`),
        onBrokerState() {},
      };
      live.attach(listener);
      await live.subscribe('room');
      await dead.presenceAdd('room', { client: 'd1', user: 'dora' }, 1_000);
      await live.presenceAdd('room', { client: 'l1', user: 'liam' }, 60_000);
      const started = Date.now();
      // The process dies: no presenceRemove, no refresh.
      await dead.close();
      for (let i = 0; i < 500 && !events.includes('leave dora'); i++)
        await new Promise((r) => setTimeout(r, 10));
      const took = Date.now() - started;
      t.diagnostic(`dora left ${took} ms after her process died (expiry 1000 ms, sweep every 100 ms)`);
      assert.deepEqual(events, ['join dora', 'join liam', 'leave dora']);
      assert.deepEqual(
        (await live.presenceList('room')).map((e) => e.user),
        ['liam'],
      );
    } finally {
      await dead.close();
      await live.close();
      await redis.close();
    }
  });
});
