/**
 * Options are resolved once, by one resolver per side (src/node/options.ts:
 * resolveServerOptions, resolveClientOptions), and every misuse is an InvalidArgumentError
 * with code DUPLEX_INVALID_OPTION whose `option` (and message) names the option. The tables
 * below hold one bad value for every option each side knows, and a test checks that they
 * cover the lists of known names, so a new option cannot come without its check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, WebSocket, WebSocketServer } from 'duplexjs';
// Internal modules of the node layer: typed from the source tree, loaded from the build.
import type * as Names from '../../dist/node/option-names.js';
import type * as Options from '../../dist/node/options.js';

const { SERVER_OPTION_NAMES, CLIENT_OPTION_NAMES, DEFLATE_OPTION_NAMES } = (await import(
  new URL('../../../dist/node/option-names.js', import.meta.url).href
)) as typeof Names;
const { DEFAULTS, resolveClientOptions, resolveServerOptions } = (await import(
  new URL('../../../dist/node/options.js', import.meta.url).href
)) as typeof Options;

/** A bad case: the option the error must name, and the options that carry the bad value. */
type Case = [option: string, options: Record<string, unknown>];

/** One bad value for each server option (beside noServer: true where the mode is not the point). */
const SERVER_CASES: Case[] = [
  ['port', { port: 70_000 }],
  ['port', { port: 1.5 }],
  ['port', { port: 0, noServer: true }],
  ['host', { noServer: true, host: 80 }],
  ['backlog', { noServer: true, backlog: -1 }],
  ['server', { server: 'http' }],
  ['server', { server: {} }],
  ['noServer', { noServer: 'yes' }],
  ['path', { noServer: true, path: 42 }],
  ['allowedOrigins', { noServer: true, allowedOrigins: 'https://a.example' }],
  ['dangerouslyAllowAnyOrigin', { noServer: true, dangerouslyAllowAnyOrigin: 'yes' }],
  ['authenticate', { noServer: true, authenticate: true }],
  ['verifyClient', { noServer: true, verifyClient: 'no' }],
  ['verifyClient', { noServer: true, verifyClient: () => true, authenticate: () => true }],
  ['handleProtocols', { noServer: true, handleProtocols: ['a'] }],
  ['handshakeTimeout', { noServer: true, handshakeTimeout: 0 }],
  ['clientTracking', { noServer: true, clientTracking: 0 }],
  ['allowSynchronousEvents', { noServer: true, allowSynchronousEvents: 'yes' }],
  ['maxConnections', { noServer: true, maxConnections: 0 }],
  ['maxConnections', { noServer: true, maxConnections: '10' }],
  ['maxConnectionsPerAddress', { noServer: true, maxConnectionsPerAddress: 1.5 }],
  ['handshakeRate', { noServer: true, handshakeRate: true }],
  ['handshakeRate.perSecond', { noServer: true, handshakeRate: { perSecond: 0, burst: 1 } }],
  ['handshakeRate.burst', { noServer: true, handshakeRate: { perSecond: 1, burst: 0 } }],
  ['handshakeRate.every', { noServer: true, handshakeRate: { perSecond: 1, every: 1 } }],
];

/** One bad value for each client option. */
const CLIENT_CASES: Case[] = [
  ['headers', { headers: 'Authorization: x' }],
  ['headers.x-count', { headers: { 'x-count': 3 } }],
  ['origin', { origin: 443 }],
  ['handshakeTimeout', { handshakeTimeout: -1 }],
  ['followRedirects', { followRedirects: 'yes' }],
  ['maxRedirects', { maxRedirects: -1 }],
  ['maxRedirects', { maxRedirects: 2.5 }],
  ['agent', { agent: 'keep-alive' }],
  ['createConnection', { createConnection: {} }],
  ['proxy', { proxy: 'socks5://127.0.0.1:1080' }],
  ['proxy', { proxy: 'not a url' }],
  ['allowSynchronousEvents', { allowSynchronousEvents: 1 }],
  ['ca', { ca: 5 }],
  ['cert', { cert: null }],
  ['key', { key: 5 }],
  ['passphrase', { passphrase: 5 }],
  ['pfx', { pfx: [5] }],
  ['rejectUnauthorized', { rejectUnauthorized: 'false' }],
  ['servername', { servername: 5 }],
  ['ciphers', { ciphers: ['A'] }],
  ['minVersion', { minVersion: 1.2 }],
  ['maxVersion', { maxVersion: 1.3 }],
  ['checkServerIdentity', { checkServerIdentity: true }],
];

/** One bad value for each option both sides share, and for the settings inside heartbeat and perMessageDeflate. */
const SHARED_CASES: Case[] = [
  ['maxPayload', { maxPayload: -1 }],
  ['maxPayload', { maxPayload: '16MiB' }],
  ['closeTimeout', { closeTimeout: Number.NaN }],
  ['maxBufferedAmount', { maxBufferedAmount: Number.POSITIVE_INFINITY }],
  ['heartbeat', { heartbeat: true }],
  ['heartbeat.interval', { heartbeat: { interval: 0, timeout: 1000 } }],
  ['heartbeat.timeout', { heartbeat: { interval: 1000, timeout: '1s' } }],
  ['heartbeat.every', { heartbeat: { every: 1000 } }],
  ['perMessageDeflate', { perMessageDeflate: 'on' }],
  ['perMessageDeflate.serverNoContextTakeover', { perMessageDeflate: { serverNoContextTakeover: 1 } }],
  ['perMessageDeflate.clientNoContextTakeover', { perMessageDeflate: { clientNoContextTakeover: 'y' } }],
  ['perMessageDeflate.serverMaxWindowBits', { perMessageDeflate: { serverMaxWindowBits: 16 } }],
  ['perMessageDeflate.clientMaxWindowBits', { perMessageDeflate: { clientMaxWindowBits: 7 } }],
  ['perMessageDeflate.threshold', { perMessageDeflate: { threshold: -1 } }],
  ['perMessageDeflate.level', { perMessageDeflate: { level: 10 } }],
  ['perMessageDeflate.memLevel', { perMessageDeflate: { memLevel: 0 } }],
  ['perMessageDeflate.skipIncompressible', { perMessageDeflate: { skipIncompressible: 'no' } }],
  ['perMessageDeflate.asyncThreshold', { perMessageDeflate: { asyncThreshold: 0.5 } }],
  ['zlibDeflateOptions', { perMessageDeflate: { zlibDeflateOptions: { level: 3 } } }],
  ['autoPong', { autoPong: 'no' }],
  ['skipUTF8Validation', { skipUTF8Validation: 1 }],
  ['clock', { clock: Date }],
];

/** throwsNaming checks that `make` throws DUPLEX_INVALID_OPTION naming `option`. */
function throwsNaming(make: () => unknown, option: string, options: Record<string, unknown>): void {
  assert.throws(
    make,
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, `${String(e)} for ${option}`);
      assert.equal(e.code, 'DUPLEX_INVALID_OPTION');
      assert.equal(e.option, option);
      assert.ok(e.message.includes(option), `the message names ${option}: ${e.message}`);
      return true;
    },
    `${option}: ${JSON.stringify(options)}`,
  );
}

const URL_ = 'ws://127.0.0.1:9/';

describe('every option misuse is DUPLEX_INVALID_OPTION naming the option', () => {
  it('the tables cover every option name each side knows', () => {
    const top = (cases: Case[]) => new Set(cases.map(([option]) => option.split('.')[0]));
    const server = top([...SERVER_CASES, ...SHARED_CASES]);
    const client = top([...CLIENT_CASES, ...SHARED_CASES]);
    for (const name of SERVER_OPTION_NAMES) assert.ok(server.has(name), `no bad server case for ${name}`);
    for (const name of CLIENT_OPTION_NAMES) assert.ok(client.has(name), `no bad client case for ${name}`);
    const deflate = new Set(SHARED_CASES.map(([option]) => option.replace(/^perMessageDeflate\./, '')));
    for (const name of DEFLATE_OPTION_NAMES)
      assert.ok(deflate.has(name), `no bad case for perMessageDeflate.${name}`);
  });

  for (const [option, options] of [...SERVER_CASES, ...SHARED_CASES]) {
    it(`new WebSocketServer: ${option} = ${JSON.stringify(options)}`, () => {
      const full =
        'port' in options || 'server' in options || 'noServer' in options
          ? options
          : { noServer: true, ...options };
      throwsNaming(() => new WebSocketServer(full as never), option, full);
    });
  }

  for (const [option, options] of [...CLIENT_CASES, ...SHARED_CASES]) {
    it(`new WebSocket: ${option} = ${JSON.stringify(options)}`, () => {
      throwsNaming(() => new WebSocket(URL_, [], options as never), option, options);
    });
  }

  it('an unknown name is refused on either side, with a hint for ws names', () => {
    throwsNaming(() => new WebSocketServer({ noServer: true, maxPayLoad: 1 } as never), 'maxPayLoad', {});
    throwsNaming(() => new WebSocket(URL_, [], { handshakeTimout: 1 } as never), 'handshakeTimout', {});
    assert.throws(
      () => new WebSocket(URL_, [], { perMessageDeflate: { concurrencyLimit: 10 } } as never),
      /concurrencyLimit.*asyncThreshold/,
    );
  });

  it('options that are not an object are refused', () => {
    throwsNaming(() => new WebSocketServer('8080' as never), 'options', {});
    throwsNaming(() => resolveClientOptions(5 as never), 'options', {});
  });
});

describe('defaults come from one table', () => {
  it('an empty option object resolves to DEFAULTS on both sides', () => {
    const server = resolveServerOptions({ noServer: true });
    const client = resolveClientOptions({});
    for (const resolved of [server, client]) {
      assert.equal(resolved.maxPayload, DEFAULTS.maxPayload);
      assert.equal(resolved.closeTimeout, DEFAULTS.closeTimeout);
      assert.equal(resolved.maxBufferedAmount, DEFAULTS.maxBufferedAmount);
      assert.equal(resolved.handshakeTimeout, DEFAULTS.handshakeTimeout);
      assert.equal(resolved.autoPong, DEFAULTS.autoPong);
      assert.equal(resolved.skipUTF8Validation, DEFAULTS.skipUTF8Validation);
      assert.deepEqual(
        resolved.extensions.map((factory) => factory.name),
        ['permessage-deflate'],
      );
    }
    assert.deepEqual(server.heartbeat, DEFAULTS.heartbeat);
    assert.equal(client.heartbeat, DEFAULTS.clientHeartbeat);
    assert.equal(server.clientTracking, DEFAULTS.clientTracking);
    assert.equal(server.dangerouslyAllowAnyOrigin, DEFAULTS.dangerouslyAllowAnyOrigin);
    assert.equal(server.maxConnections, DEFAULTS.maxConnections);
    assert.equal(server.maxConnectionsPerAddress, DEFAULTS.maxConnectionsPerAddress);
    assert.equal(server.handshakeRate, DEFAULTS.handshakeRate);
    assert.equal(client.followRedirects, DEFAULTS.followRedirects);
    assert.equal(client.maxRedirects, DEFAULTS.maxRedirects);
    assert.deepEqual(resolveClientOptions({ perMessageDeflate: false }).extensions, []);
  });
});
