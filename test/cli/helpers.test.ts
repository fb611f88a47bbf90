// The CLI's small pure helpers, loaded from the build (dist/cli) the way the command runs them:
// proxy selection from the environment, reconnect backoff, close code names, exit statuses.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const dist = (file: string) => new URL(`../../../dist/cli/${file}`, import.meta.url).href;

// The proxy choice lives in the client (duplexjs's proxyFromEnv); the CLI uses it as it is.
const { proxyFromEnv: proxyFor } = (await import(
  new URL('../../../dist/node/proxy.js', import.meta.url).href
)) as {
  proxyFromEnv(target: URL, env: Record<string, string>): URL | undefined;
};
const { backoffDelay } = (await import(dist('backoff.js'))) as {
  backoffDelay(attempt: number, o?: { initialMs?: number; maxMs?: number; random?: () => number }): number;
};
const { describeClose } = (await import(dist('close-names.js'))) as {
  describeClose(code: number, reason: string): string;
};
const { exitForClose } = (await import(dist('connect.js'))) as {
  exitForClose(code: number, wasClean: boolean): number;
};

describe('proxyFromEnv', () => {
  const env = { HTTP_PROXY: 'http://p:1', HTTPS_PROXY: 'proxy.corp:3128' };
  it('picks HTTP_PROXY for ws: and HTTPS_PROXY for wss:, lower case first, http:// assumed', () => {
    assert.equal(proxyFor(new URL('ws://a.example/'), env)?.href, 'http://p:1/');
    assert.equal(proxyFor(new URL('wss://a.example/'), env)?.href, 'http://proxy.corp:3128/');
    assert.equal(
      proxyFor(new URL('ws://a.example/'), { ...env, http_proxy: 'http://lower:2' })?.href,
      'http://lower:2/',
    );
    assert.equal(proxyFor(new URL('wss://a.example/'), { HTTP_PROXY: 'http://p:1' }), undefined);
  });
  it('goes direct for NO_PROXY hosts: exact, subdomains, a leading dot, a port, *', () => {
    const direct = (url: string, noProxy: string) =>
      proxyFor(new URL(url), { ...env, NO_PROXY: noProxy }) === undefined;
    assert.ok(direct('ws://example.com/', 'example.com'));
    assert.ok(direct('ws://api.example.com/', 'example.com'));
    assert.ok(direct('ws://api.example.com/', '.example.com'));
    assert.ok(!direct('ws://badexample.com/', 'example.com'));
    assert.ok(direct('ws://h.test:8080/', 'other, h.test:8080'));
    assert.ok(!direct('ws://h.test:9090/', 'h.test:8080'));
    assert.ok(direct('ws://[::1]:80/', '::1'));
    assert.ok(direct('wss://anything/', '*'));
  });
  it('refuses a proxy that is not http://', () => {
    assert.throws(
      () => proxyFor(new URL('ws://a/'), { HTTP_PROXY: 'socks5://p:1' }),
      /only http:\/\/ proxies/,
    );
  });
});

describe('backoffDelay', () => {
  it('doubles from 250 ms up to 30 s, with jitter between half and all of it', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 8, 20].map((n) => backoffDelay(n, { random: () => 0.999_999 })),
      [250, 500, 1000, 2000, 30_000, 30_000],
    );
    assert.deepEqual(
      [1, 2, 8].map((n) => backoffDelay(n, { random: () => 0 })),
      [125, 250, 15_000],
    );
  });
});

describe('close codes and exit statuses', () => {
  it('names close codes', () => {
    assert.equal(describeClose(1001, 'server shutting down'), '1001 going away: "server shutting down"');
    assert.equal(describeClose(1006, ''), '1006 abnormal closure, no close frame');
    assert.equal(describeClose(4000, ''), '4000 application-defined');
    assert.equal(describeClose(3001, 'x'), '3001 registered by a library: "x"');
  });
  it('maps how a connection ended to the documented exit status', () => {
    assert.equal(exitForClose(1000, true), 0);
    assert.equal(exitForClose(1001, true), 0);
    assert.equal(exitForClose(1005, true), 0);
    assert.equal(exitForClose(1006, false), 3);
    assert.equal(exitForClose(1002, false), 3);
    assert.equal(exitForClose(1011, true), 4);
    assert.equal(exitForClose(4001, true), 4);
  });
});
