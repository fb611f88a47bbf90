/**
 * The broker conformance suite against redisBroker on a real redis-server that this file
 * spawns. The suite's fault switches are real faults: `outage` stops redis-server (SIGTERM; its
 * append-only file keeps the data) and starts it again on the same port, `dataLoss` is FLUSHALL,
 * `peer` is a second redisBroker (another process) on the same server.
 */
import { after, before, it } from 'node:test';
import type { Broker } from 'duplexjs/hub';
import { type RedisBroker, redisBroker } from 'duplexjs/redis';
import { hasRedis, RedisServer, requireRedis } from '../helpers/redis-server.js';
import { brokerSuite, type MakeBroker } from './broker-suite.js';

let server: RedisServer | undefined;
let run = 0;

const available = hasRedis();
if (!available) it('redisBroker conformance needs redis-server', (t) => void requireRedis(t));

before(async () => {
  if (available) server = await RedisServer.start();
});
after(async () => {
  await server?.close();
});

/** until waits (bounded) until every broker reports `state`. */
async function until(brokers: RedisBroker[], state: 'up' | 'down'): Promise<void> {
  for (let i = 0; i < 2_000 && brokers.some((b) => b.state !== state); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (brokers.some((b) => b.state !== state)) throw new Error(`the brokers did not report ${state}`);
}

/** fixture makes the suite's fixture; `sharded: false` runs the plain pub/sub path (Redis 6 and older). */
const fixture =
  (sharded: boolean): MakeBroker =>
  async ({ clock }) => {
    if (!server) throw new Error('redis-server is not running (see the skip message above)');
    const redis = server;
    // Each test gets its own key prefix: nothing leaks from one test into the next.
    const options = {
      url: redis.url,
      clock,
      prefix: `t${++run}:`,
      commandTimeoutMs: 1_000,
      reconnectMaxDelayMs: 100,
      sharded,
    };
    const brokers: RedisBroker[] = [];
    const make = async (): Promise<Broker> => {
      const broker = redisBroker(options);
      brokers.push(broker);
      await broker.ready();
      return broker;
    };
    const broker = await make();
    return {
      broker,
      peer: make,
      outage: async (down) => {
        if (down) {
          await redis.stop();
          await until(brokers, 'down');
        } else if (!redis.running) {
          await redis.resume();
          await until(brokers, 'up');
        }
      },
      dataLoss: () => {
        redis.cli('FLUSHALL');
      },
    };
  };

if (available) {
  brokerSuite('redisBroker', fixture(true));
  brokerSuite('redisBroker (plain pub/sub, as on Redis 6)', fixture(false));
}
