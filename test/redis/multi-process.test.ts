/**
 * Three `duplex serve --redis` processes on one real redis-server act as one hub while the
 * network and Redis fail under them: 300 HubClients reach the processes through a TcpProxy that
 * sends each (re)connection to a random process and keeps cutting random connections, two
 * publishers publish numbered messages (retrying retryable failures with the same idempotency
 * key), and Redis is restarted once mid-run.
 *
 * - Restarted with its data: every client gets every acknowledged message exactly once, in order
 *   per publisher, and never hears `recovered: false`.
 * - Restarted empty: the epoch changes. Still no duplicate and no reordering; a client may miss
 *   messages only when it was told `recovered: false` (it was away when the history was lost),
 *   and the test counts those.
 *
 * Sizes are bounded (300 clients, 2 x 120 messages, a few seconds of chaos) so one run takes
 * well under a minute on a quiet machine; nothing is timed.
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
  type Tracked,
  until,
} from '../helpers/serve-redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const CLIENTS = 300;
const MESSAGES = 120;
const GAP_MS = 15;

describe('three duplex serve --redis processes behind a cutting proxy', () => {
  const suiteRedis = redisForSuite();

  for (const empty of [false, true]) {
    it(`300 clients, two publishers, Redis restarted ${empty ? 'empty' : 'with its data'} mid-run`, async (t) => {
      if (!requireRedis(t)) return;
      const redis = suiteRedis();
      assert.ok(redis, 'redis-server started');
      const channel = `chaos:${empty ? 'empty' : 'data'}`;
      const procs: ServeProcess[] = [];
      let proxy: TcpProxy | undefined;
      let fleet: Tracked[] = [];
      const publishers: Publisher[] = [];
      try {
        for (let i = 0; i < 3; i++) procs.push(await startServe(redis.url));
        proxy = await TcpProxy.start(procs.map((p) => p.port));
        const url = `ws://127.0.0.1:${proxy.port}/hub`;
        const t0 = Date.now();
        fleet = await openClients(url, CLIENTS, channel);
        const t1 = Date.now();
        publishers.push(new Publisher(url, 'a', channel, MESSAGES, GAP_MS));
        publishers.push(new Publisher(url, 'b', channel, MESSAGES, GAP_MS));

        // Chaos: cut a few random connections every 100 ms while the publishers run; restart
        // Redis once when about a third of the messages are out.
        let cuts = 0;
        const chaos = setInterval(() => {
          cuts += proxy!.cutRandom(4);
        }, 100);
        await until(
          () => publishers.every((p) => p.acked.length >= MESSAGES / 3),
          'a third published',
          60_000,
        );
        await redis.restart({ empty });
        await Promise.all(publishers.map((p) => p.done));
        clearInterval(chaos);

        const last = publishers.map((p) => p.acked.at(-1)!);
        const hasLast = (c: Tracked): boolean =>
          publishers.every((p, i) => c.received.some((r) => r.publisher === p.name && r.seq === last[i]));
        // A client told recovered: false after the last message went out may never get it: the
        // audit below then has to find the loss explained, so a timeout here is no failure by itself.
        await until(() => fleet.every(hasLast), 'every client to receive the last messages', 60_000).catch(
          () => {},
        );
        if (!empty) {
          await until(
            () => audit(fleet, publishers).lossyClients === 0,
            'every client complete',
            30_000,
          ).catch(() => {});
        }
        const result = audit(fleet, publishers);
        t.diagnostic(`connect ${t1 - t0} ms, publish and deliver ${Date.now() - t1} ms`);
        t.diagnostic(`cuts=${cuts} publisher retries=${publishers.map((p) => p.failures).join('+')}`);
        t.diagnostic(JSON.stringify(result));
        assert.deepEqual(
          publishers.map((p) => p.acked.length),
          [MESSAGES, MESSAGES],
        );
        assert.equal(result.duplicates, 0, 'no client got a message twice');
        assert.equal(result.outOfOrder, 0, 'every client got each publisher in order');
        assert.ok(cuts > 0, 'the proxy cut connections');
        assert.ok(result.recoveredTrue > 0, 'cut clients came back and recovered');
        if (empty) {
          // Every loss is explained: the client was told recovered: false.
          assert.equal(
            result.explainedLossy,
            result.lossyClients,
            'a lossy client was told recovered: false',
          );
        } else {
          assert.equal(result.missing, 0, 'no client lost a message');
          assert.equal(result.recoveredFalse, 0, 'no resubscription failed to recover');
        }
      } finally {
        await stopAll({ publishers, fleet, proxy, procs });
      }
    });
  }
});
