import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as client from 'duplexjs/client';

describe('duplexjs/client exports', () => {
  it('is the deliberate list', () => {
    assert.deepEqual(Object.keys(client).sort(), [
      'HubClient',
      'HubClientError',
      'HubCloseCode',
      'HubErrorCode',
      'Subscription',
    ]);
  });

  it('is declared in package.json with types and default', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    assert.deepEqual(pkg.exports['./client'], {
      types: './dist/client/index.d.ts',
      default: './dist/client/index.js',
    });
  });

  it('HubClientError carries code, retryable and closeCode', () => {
    const error = new client.HubClientError(client.HubErrorCode.Disconnected, 'gone', { closeCode: 1006 });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'HubClientError');
    assert.deepEqual([error.code, error.retryable, error.closeCode], ['DUPLEX_HUB_DISCONNECTED', true, 1006]);
    assert.equal(new client.HubClientError(client.HubErrorCode.Forbidden, 'no').retryable, false);
  });
});
