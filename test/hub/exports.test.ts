import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as hub from 'duplexjs/hub';

describe('duplexjs/hub exports', () => {
  it('is the deliberate list', () => {
    assert.deepEqual(Object.keys(hub).sort(), [
      'Hub',
      'HubCloseCode',
      'HubError',
      'HubErrorCode',
      'SUBPROTOCOL',
      'memoryBroker',
    ]);
  });

  it('HubError carries a wire code and whether it is retryable', () => {
    const e = new hub.HubError('DUPLEX_HUB_BROKER_UNAVAILABLE', 'down');
    assert.ok(e instanceof Error);
    assert.deepEqual([e.code, e.retryable], ['DUPLEX_HUB_BROKER_UNAVAILABLE', true]);
    assert.equal(new hub.HubError('DUPLEX_HUB_FORBIDDEN', 'no').retryable, false);
  });
});
