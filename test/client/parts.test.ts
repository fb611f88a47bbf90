// The pure parts of HubClient, on their own: backoff delays and the 1012 hint, UTF-8 lengths
// for the offline queue's byte bound. They are not exported by duplexjs/client, so this test
// loads them from the built package (dist/client).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

const dist = new URL('../../../dist/client/', import.meta.url);
const { backoffDelay, hintDelay, retryAfterHint } = (await import(
  new URL('backoff.js', dist).href
)) as typeof import('../../dist/client/backoff.js');
const { utf8Length } = (await import(
  new URL('utf8.js', dist).href
)) as typeof import('../../dist/client/utf8.js');

describe('backoff', () => {
  const options = { baseMs: 500, maxMs: 30_000 };

  it('is full jitter under min(maxMs, baseMs * 2^attempt)', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 5, 6, 7, 60].map((n) => backoffDelay(n, options, () => 0.999999)),
      [499, 999, 1_999, 3_999, 15_999, 29_999, 29_999, 29_999],
    );
    assert.equal(
      backoffDelay(4, options, () => 0),
      0,
    );
    fc.assert(
      fc.property(fc.nat(100), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const delay = backoffDelay(n, options, () => r);
        return Number.isInteger(delay) && delay >= 0 && delay < Math.min(30_000, 500 * 2 ** n);
      }),
    );
  });

  it('reads the 1012 hint only from a JSON object with a non-negative retryAfterMs', () => {
    assert.equal(retryAfterHint('{"retryAfterMs":1500}'), 1_500);
    assert.equal(retryAfterHint('{"retryAfterMs":0}'), 0);
    for (const reason of ['', 'restarting', '{"retryAfterMs":-1}', '{"retryAfterMs":"5"}', '{"retry', '{}']) {
      assert.equal(retryAfterHint(reason), undefined, reason);
    }
  });

  it('waits between the hint and twice it, the hint capped', () => {
    assert.equal(
      hintDelay(1_000, 300_000, () => 0),
      1_000,
    );
    assert.equal(
      hintDelay(1_000, 300_000, () => 0.5),
      1_500,
    );
    assert.equal(
      hintDelay(10_000_000, 300_000, () => 0),
      300_000,
    );
  });
});

describe('utf8Length', () => {
  it('equals the encoded length for any string, lone surrogates included', () => {
    const encoder = new TextEncoder();
    for (const s of ['', 'a', 'é', '€', '😀', '\ud800', '\udc00x', 'a\ud800\ud800']) {
      assert.equal(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
    }
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => utf8Length(s) === encoder.encode(s).length));
  });
});
