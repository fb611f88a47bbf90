// The exactness promise of the hub and HubClient (shared/DESIGN.md), as a property: N clients
// subscribed through TCP proxies that cut their connections at random moments, while several
// publishers (the server and clients whose connections are cut too) publish. Every subscriber
// ends with every message exactly once, in order, from the position at which its subscription
// was first confirmed; every acknowledged publish is stored exactly once (retries after a cut
// carry the same idempotency key). A second test makes recovery impossible (history too short)
// and checks that `recovered: false` comes first and says truly what was lost.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { Hub } from 'duplexjs/hub';
import fc from 'fast-check';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const CHANNEL = 'prop:stream';
const FAST_BACKOFF = { baseMs: 5, maxMs: 40 };

interface Received {
  offset: number;
  epoch: string;
  id: string;
}

interface Subscriber {
  client: HubClient;
  proxy: TcpProxy;
  got: Received[];
  unrecovered: number;
}

async function startHub(history: {
  size: number;
  ttlMs: number;
}): Promise<{ hub: Hub; http: Server; port: number }> {
  const http = createServer();
  const hub = new Hub({ server: http, path: '/hub', authorize: () => true, channels: { '*': { history } } });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return { hub, http, port: (http.address() as AddressInfo).port };
}

function newClient(port: number): HubClient {
  return new HubClient(`ws://127.0.0.1:${port}/hub`, { WebSocket, backoff: FAST_BACKOFF });
}

/** until polls a condition every few ms, failing after `ms` with a message (a bound, not a measurement). */
async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function subscriber(hubPort: number): Promise<Subscriber> {
  const proxy = await TcpProxy.start(hubPort);
  const client = newClient(proxy.port);
  const s: Subscriber = { client, proxy, got: [], unrecovered: 0 };
  const sub = client.subscribe(CHANNEL);
  let first = true;
  sub.on('subscribed', ({ recovered }) => {
    if (!first && !recovered) s.unrecovered++;
    first = false;
  });
  sub.on('message', (data, meta) => {
    s.got.push({ offset: meta.offset, epoch: meta.epoch, id: (data as { id: string }).id });
  });
  await new Promise<void>((resolve) => {
    const off = sub.on('subscribed', () => {
      off();
      resolve();
    });
  });
  return s;
}

type Step =
  | { kind: 'publish'; who: number; count: number }
  | { kind: 'cut'; which: number }
  | { kind: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      who: fc.nat(2),
      count: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cut' as const), which: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 15 }) }),
  },
);

describe('hub recovery exactness (property)', () => {
  it('every subscriber gets every message once and in order, and every acked publish is stored once, through random cuts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 40 }), async (steps) => {
        const { hub, http, port } = await startHub({ size: 100_000, ttlMs: 3_600_000 });
        const subs: Subscriber[] = [];
        const pubProxies: TcpProxy[] = [];
        const publishers: HubClient[] = [];
        try {
          const start = await hub.publish(CHANNEL, { id: 'start' });
          for (let i = 0; i < 4; i++) subs.push(await subscriber(port));
          for (let i = 0; i < 2; i++) {
            const proxy = await TcpProxy.start(port);
            pubProxies.push(proxy);
            publishers.push(newClient(proxy.port));
          }
          const acks: Promise<unknown>[] = [];
          const sent: string[] = [];
          let n = 0;
          for (const step of steps) {
            if (step.kind === 'publish') {
              for (let i = 0; i < step.count; i++) {
                const id = `m${n++}`;
                sent.push(id);
                const publisher = publishers[step.who];
                acks.push(
                  publisher === undefined ? hub.publish(CHANNEL, { id }) : publisher.publish(CHANNEL, { id }),
                );
              }
            } else if (step.kind === 'cut') {
              const proxy = step.which < 4 ? subs[step.which]?.proxy : pubProxies[step.which - 4];
              proxy?.cut();
            } else {
              await new Promise((r) => setTimeout(r, step.ms));
            }
          }
          // Every publish is acknowledged (client publishes are retried across cuts, not lost).
          await Promise.all(acks);
          const end = await hub.publish(CHANNEL, { id: 'end' });
          await until('every subscriber to see the last message', () =>
            subs.every((s) => s.got.some((r) => r.id === 'end')),
          );

          // Each acknowledged message is stored exactly once.
          const stored = (await hub.history(CHANNEL, { limit: 100_000 })).publications.map(
            (p) => (p.data as { id: string }).id,
          );
          assert.deepEqual(stored, ['start', ...sortedLike(stored, sent), 'end']);
          assert.equal(new Set(stored).size, stored.length, 'no message stored twice');

          for (const [i, s] of subs.entries()) {
            assert.equal(s.unrecovered, 0, `subscriber ${i}: recovery was possible, yet recovered: false`);
            const expected = stored.slice(1); // everything after the position at the first confirmation
            assert.deepEqual(
              s.got.map((r) => r.id),
              expected,
              `subscriber ${i}: exactly the messages after its first position, once, in order`,
            );
            s.got.forEach((r, k) => {
              assert.equal(r.epoch, end.epoch);
              assert.equal(r.offset, start.offset + 1 + k, `subscriber ${i}: gap-free offsets`);
            });
          }
        } finally {
          for (const c of [...subs.map((s) => s.client), ...publishers]) c.close();
          for (const p of [...subs.map((s) => s.proxy), ...pubProxies]) await p.close();
          await hub.close();
          http.close();
        }
      }),
      { numRuns: 12, endOnFailure: true },
    );
  });

  it('says recovered: false first when the history no longer reaches back, then continues exactly', async () => {
    const { hub, http, port } = await startHub({ size: 5, ttlMs: 3_600_000 });
    const s = await subscriber(port);
    try {
      const first = await hub.publish(CHANNEL, { id: 'a0' });
      await until('a0', () => s.got.length === 1);
      s.proxy.refuse = true;
      s.proxy.cut();
      for (let i = 1; i <= 20; i++) await hub.publish(CHANNEL, { id: `a${i}` });
      s.proxy.refuse = false;
      await until('resubscription', () => s.unrecovered === 1);
      const after = await hub.publish(CHANNEL, { id: 'b0' });
      await until('b0', () => s.got.some((r) => r.id === 'b0'));
      // Messages a1..a20 were lost (only 5 kept); what came after the resubscription is exact.
      assert.deepEqual(
        s.got.map((r) => r.id),
        ['a0', 'b0'],
      );
      assert.equal(s.got[1]?.offset, after.offset);
      assert.equal(after.offset, first.offset + 21);
    } finally {
      s.client.close();
      await s.proxy.close();
      await hub.close();
      http.close();
    }
  });
});

/** sortedLike returns the ids of `sent` in the order the hub stored them (a publish's order is the hub's). */
function sortedLike(stored: string[], sent: string[]): string[] {
  const want = new Set(sent);
  const inner = stored.filter((id) => want.has(id));
  assert.equal(inner.length, sent.length, 'every acknowledged publish is stored');
  return inner;
}
