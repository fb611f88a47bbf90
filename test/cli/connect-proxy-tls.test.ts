// duplex connect through an HTTP CONNECT proxy written here (with Basic authorization), and
// over TLS with a certificate made at test time (and duplex bench over TLS).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli-run.js';
import { type ConnectProxy, startConnectProxy } from '../helpers/connect-proxy.js';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { type PemFiles, writePemFiles } from '../interop/python-peer.js';
import { startWsTarget, type WsTarget } from './ws-target.js';

const T = { timeout: 30_000 };

describe('duplex connect through an HTTP proxy', () => {
  let echo: EchoProcess;
  let proxy: ConnectProxy;
  before(async () => {
    echo = await startEcho();
    proxy = await startConnectProxy('alice:s3cret');
  });
  after(async () => {
    await proxy.close();
    await echo.stop();
  });

  it('tunnels ws:// through HTTP_PROXY with Basic authorization', T, async () => {
    proxy.requests.length = 0;
    const r = await runCli(['connect', echo.url, '-x', 'via proxy', '-w', '0.5'], {
      env: { HTTP_PROXY: proxy.url() },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'via proxy\n');
    assert.deepEqual(proxy.requests, [
      { target: `127.0.0.1:${echo.port}`, auth: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    ]);
  });

  it('exits 1 naming the proxy status when the proxy refuses (407)', T, async () => {
    const r = await runCli(['connect', echo.url, '-x', 'x'], {
      env: { http_proxy: proxy.url('alice:wrong') },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /refused the tunnel to 127\.0\.0\.1:\d+: 407 Proxy Authentication Required/);
  });

  it('exits 1 naming the proxy when it cannot be reached, or is not http://', T, async () => {
    const gone = await startConnectProxy('x:y');
    const url = gone.url();
    await gone.close();
    const r = await runCli(['connect', echo.url, '-x', 'x'], { env: { HTTP_PROXY: url } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot connect to ws:.*cannot reach proxy 127\.0\.0\.1:\d+/);
    const socks = await runCli(['connect', echo.url, '-x', 'x'], {
      env: { HTTP_PROXY: 'socks5://127.0.0.1:1' },
    });
    assert.equal(socks.code, 1, socks.stderr);
    assert.match(socks.stderr, /only http:\/\/ proxies are supported/);
  });

  it('goes direct for hosts in NO_PROXY', T, async () => {
    proxy.requests.length = 0;
    const r = await runCli(['connect', echo.url, '-x', 'direct', '-w', '0.3'], {
      env: { HTTP_PROXY: proxy.url(), NO_PROXY: 'example.com, 127.0.0.1' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'direct\n');
    assert.equal(proxy.requests.length, 0);
  });
});

describe('duplex connect over TLS', () => {
  let wss: WsTarget;
  let pems: PemFiles;
  let proxy: ConnectProxy;
  before(async () => {
    const cert = await makeSelfSignedCert();
    wss = await startWsTarget(cert);
    pems = await writePemFiles({ ca: cert.cert });
    proxy = await startConnectProxy('bob:pw');
  });
  after(async () => {
    await proxy.close();
    await wss.close();
    await pems.remove();
  });

  it('trusts a CA given with --ca', T, async () => {
    const r = await runCli([
      'connect',
      wss.url('/echo', 'localhost'),
      '--ca',
      pems.paths['ca']!,
      '-x',
      'secure',
      '-w',
      '0.5',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'secure\n');
  });

  it('exits 1 on an untrusted certificate, and --insecure connects with a warning', T, async () => {
    const r = await runCli(['connect', wss.url('/echo'), '-x', 'x']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot connect to wss:.*self[- ]signed/i);
    const insecure = await runCli(['connect', wss.url('/echo'), '--insecure', '-x', 'anyway', '-w', '0.5']);
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal(insecure.stdout, 'anyway\n');
    assert.match(insecure.stderr, /WARNING: --insecure: the TLS certificate of the server is not checked/);
  });

  it('duplex bench measures a wss:// echo with --ca', T, async () => {
    const r = await runCli([
      'bench',
      wss.url('/echo', 'localhost'),
      '--ca',
      pems.paths['ca']!,
      '-c',
      '2',
      '-d',
      '0.5',
      '-w',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { connected: number; messages: number; errors: number };
    assert.equal(result.connected, 2);
    assert.equal(result.errors, 0);
    assert.ok(result.messages > 0);
    const untrusted = await runCli([
      'bench',
      wss.url('/echo', 'localhost'),
      '-c',
      '1',
      '-d',
      '0.5',
      '--json',
    ]);
    assert.equal(untrusted.code, 1, untrusted.stderr);
    assert.match(untrusted.stderr, /self[- ]signed/i);
  });

  it('tunnels wss:// through HTTPS_PROXY with TLS end to end, checking the real host name', T, async () => {
    proxy.requests.length = 0;
    const url = wss.url('/hello', 'localhost');
    const r = await runCli(['connect', url, '--ca', pems.paths['ca']!, '-x', 'x', '-w', '0.5'], {
      env: { HTTPS_PROXY: proxy.url() },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.split('\n')[0]!).host, `localhost:${wss.port}`);
    assert.equal(proxy.requests[0]?.target, `localhost:${wss.port}`);
  });
});
