import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisServer, requireRedis } from '../helpers/redis-server.js';

describe('test helper RedisServer', () => {
  it('spawns redis-server, restarts it with its data, and restarts it empty', async (t) => {
    if (!requireRedis(t)) return;
    const server = await RedisServer.start();
    try {
      assert.equal(server.cli('PING'), 'PONG');
      server.cli('SET', 'k', 'v');
      await server.restart({ signal: 'SIGKILL' });
      assert.equal(server.cli('GET', 'k'), 'v', 'a kill keeps acknowledged writes (appendfsync always)');
      await server.restart({ empty: true });
      assert.equal(server.cli('GET', 'k'), '');
    } finally {
      await server.close();
    }
  });
});
