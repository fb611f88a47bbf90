// Duplex's side of each interop pair, through its public API only (`import from 'duplexjs'`): the
// WebSocketServer attached to an http(s) server, and the WHATWG-style WebSocket client.

import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type ErrorEvent,
  type OfferedProtocols,
  WebSocket,
  type WebSocketOptions,
  WebSocketServer,
} from 'duplexjs';
import type { SelfSignedCert } from '../helpers/tls.js';
import { type Endpoint, EventLog, messageOf, type Observed, withTimeout } from './endpoint.js';
import { CHOSEN_PROTOCOL } from './payloads.js';

/** duplexEndpoint wraps an open Duplex WebSocket (either end) through its EventTarget API. */
export function duplexEndpoint(name: string, ws: WebSocket): Endpoint {
  const events = new EventLog<Observed>();
  // Blob data (a client's WHATWG default) is read asynchronously: keep arrival order.
  let chain = Promise.resolve();
  const inOrder = (make: () => Observed | Promise<Observed>) => {
    chain = chain.then(make).then(
      (e) => events.push(e),
      (err) => events.push({ kind: 'error', message: `reading a message: ${String(err)}` }),
    );
  };
  ws.addEventListener('message', (ev) => {
    const data: unknown = ev.data;
    inOrder(async () => {
      if (typeof data === 'string') return messageOf('text', data);
      return messageOf('binary', await toBuffer(data));
    });
  });
  ws.addEventListener('pong', (ev) => {
    const data: unknown = (ev as unknown as { data: unknown }).data;
    inOrder(async () => ({ kind: 'pong', data: await toBuffer(data ?? Buffer.alloc(0)) }));
  });
  ws.addEventListener('close', (ev) => {
    inOrder(() => ({ kind: 'close', code: ev.code, reason: ev.reason, wasClean: ev.wasClean }));
  });
  ws.addEventListener('error', (ev) => {
    const error = (ev as unknown as { error?: unknown }).error;
    inOrder(() => ({ kind: 'error', message: `error event: ${String(error ?? ev.type)}` }));
  });
  return {
    name,
    events,
    protocol: ws.protocol,
    extensions: ws.extensions,
    sendText: async (text) => {
      ws.send(text);
    },
    sendBinary: async (data) => {
      ws.send(data);
    },
    ping: async (data) => ws.ping(data),
    close: async (code, reason) => ws.close(code, reason),
    dispose: async () => ws.terminate(),
  };
}

async function toBuffer(data: unknown): Promise<Buffer> {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof Blob) return Buffer.from(await data.arrayBuffer());
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  throw new TypeError(`unexpected message data: ${Object.prototype.toString.call(data)}`);
}

/** openDuplexClient connects a Duplex client and waits for `open` (or fails with what happened). */
export async function openDuplexClient(
  url: string,
  protocols: string[],
  ca?: string,
  options: WebSocketOptions = {},
): Promise<Endpoint> {
  const ws = new WebSocket(url, protocols, ca ? { ca, ...options } : options);
  ws.binaryType = 'arraybuffer';
  const early: string[] = [];
  const onError = (ev: ErrorEvent) =>
    early.push(`error: ${String((ev as unknown as { error?: unknown }).error)}`);
  ws.addEventListener('error', onError);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve(), { once: true });
        ws.addEventListener(
          'close',
          (ev) => reject(new Error(`closed before open: ${ev.code} ${ev.reason} ${early.join('; ')}`)),
          { once: true },
        );
      }),
      15_000,
      `Duplex client connecting to ${url}`,
    );
  } catch (err) {
    ws.terminate();
    throw err;
  }
  ws.removeEventListener('error', onError);
  return duplexEndpoint('Duplex client', ws);
}

export interface DuplexServerFixtureOptions {
  /** Serve wss:// with this certificate (attached to an https server). */
  tls?: SelfSignedCert;
  /** Origins of pages allowed to connect (browser peers). */
  allowedOrigins?: string[];
  /** Standalone mode (`port: 0, host: '127.0.0.1'`) instead of attached to our own http server. */
  standalone?: boolean;
}

/**
 * DuplexServerFixture is a Duplex WebSocketServer on 127.0.0.1, attached to an http(s) server
 * or standalone. It picks CHOSEN_PROTOCOL and records what each client offered, as
 * handleProtocols saw it.
 */
export class DuplexServerFixture {
  readonly http: Server | undefined;
  readonly wss: WebSocketServer;
  readonly connections = new EventLog<{ endpoint: Endpoint; offered: string[] }>();
  readonly #listening: Promise<void>;
  url = '';

  private constructor(options: DuplexServerFixtureOptions) {
    const offered = new WeakMap<IncomingMessage, string[]>();
    const common = {
      allowedOrigins: options.allowedOrigins ?? [],
      handleProtocols: (protocols: OfferedProtocols, req: IncomingMessage) => {
        offered.set(req, [...protocols]);
        return protocols.includes(CHOSEN_PROTOCOL) ? CHOSEN_PROTOCOL : false;
      },
    };
    if (options.standalone) {
      if (options.tls) throw new Error('a standalone Duplex server serves ws:// only');
      let listening = () => {};
      this.#listening = new Promise<void>((resolve) => {
        listening = resolve;
      });
      this.wss = new WebSocketServer({ ...common, port: 0, host: '127.0.0.1' }, listening);
    } else {
      const http = options.tls
        ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert })
        : createHttpServer();
      this.http = http;
      this.wss = new WebSocketServer({ ...common, server: http });
      this.#listening = new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    }
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      this.connections.push({
        endpoint: duplexEndpoint('Duplex server', ws),
        offered: offered.get(req) ?? [],
      });
    });
  }

  static async start(options: DuplexServerFixtureOptions = {}): Promise<DuplexServerFixture> {
    const fixture = new DuplexServerFixture(options);
    await withTimeout(fixture.#listening, 10_000, 'the Duplex server to listen');
    const { port } = (fixture.http ?? fixture.wss).address() as AddressInfo;
    fixture.url = `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/interop`;
    return fixture;
  }

  nextConnection(): Promise<{ endpoint: Endpoint; offered: string[] }> {
    return this.connections.take(() => true, 'a connection on the Duplex server');
  }

  async close(): Promise<void> {
    await withTimeout(this.wss.close(), 15_000, 'Duplex server close()').catch(() => {});
    const http = this.http;
    if (!http) return;
    http.closeAllConnections();
    await withTimeout(
      new Promise<void>((resolve) => http.close(() => resolve())),
      15_000,
      'the http server under Duplex to close',
    ).catch(() => {});
  }
}
