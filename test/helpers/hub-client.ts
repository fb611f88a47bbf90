/**
 * hub-client is a small raw client of the hub protocol `duplex.v1` for the hub tests: Duplex's
 * own WebSocket plus JSON, no HubClient. It records every message, matches replies by id,
 * attaches announced binary frames to their message (`payload`), and can stop reading
 * (`pause`) to play a slow consumer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'duplexjs';
import { Hub, type HubOptions } from 'duplexjs/hub';

/** TIMEOUT bounds every wait of these tests. */
export const TIMEOUT = 10_000;

// biome-ignore lint/suspicious/noExplicitAny: the tests read fields of any message
export type Msg = Record<string, any> & { type: string; payload?: Buffer };

/** until waits for `check` to pass, polling a bounded number of times. */
export async function until(check: () => boolean, what: string, ms = TIMEOUT): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

export class RawHubClient {
  readonly ws: WebSocket;
  /** Every JSON message received, in order. */
  readonly log: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeInfo: { code: number; reason: string } | undefined;
  #nextId = 1;
  #binaryTargets: Msg[] = [];
  #iterator: AsyncIterator<unknown> | undefined;
  autoPong = true;

  constructor(url: string, protocols: string[] = ['duplex.v1']) {
    this.ws = new WebSocket(url, protocols);
    this.ws.addEventListener('message', (event) => this.#onMessage(event.data as string | Buffer));
    this.closed = new Promise((resolve) =>
      this.ws.addEventListener('close', (e) => {
        this.closeInfo = { code: e.code, reason: e.reason };
        resolve(this.closeInfo);
      }),
    );
  }

  static async open(url: string, protocols?: string[]): Promise<RawHubClient> {
    const client = new RawHubClient(url, protocols);
    await new Promise<void>((resolve, reject) => {
      client.ws.addEventListener('open', () => resolve(), { once: true });
      client.ws.addEventListener('error', (e) => reject(e.error ?? new Error('connection failed')), {
        once: true,
      });
    });
    return client;
  }

  /** connected opens a client and completes `connect`. */
  static async connected(url: string, token?: string): Promise<RawHubClient> {
    const client = await RawHubClient.open(url);
    const reply = await client.request({ type: 'connect', token });
    if (reply.type !== 'connected') throw new Error(`connect failed: ${JSON.stringify(reply)}`);
    return client;
  }

  #onMessage(data: string | Buffer): void {
    if (typeof data !== 'string') {
      const target = this.#binaryTargets.shift();
      if (target) target.payload = data;
      else this.log.push({ type: '<unannounced binary>', payload: data });
      return;
    }
    const msg = JSON.parse(data) as Msg;
    if (msg.binary === true) this.#binaryTargets.push(msg);
    if (msg.type === 'history') for (const p of msg.publications) if (p.binary) this.#binaryTargets.push(p);
    if (msg.type === 'ping' && this.autoPong) this.send({ type: 'pong' });
    this.log.push(msg);
  }

  send(message: object | string | Buffer): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** id reserves a request id. */
  id(): number {
    return this.#nextId++;
  }

  /** request sends a request with a fresh id and resolves with the reply carrying that id. */
  async request(message: Record<string, unknown>, binary?: Buffer): Promise<Msg> {
    const id = this.id();
    this.send({ ...message, id });
    if (binary) this.send(binary);
    return this.reply(id);
  }

  /** reply waits for the message that answers request `id`. */
  async reply(id: number): Promise<Msg> {
    const msg = await this.waitFor((m) => m.id === id && m.type !== 'pub', `reply to ${id}`);
    if (msg.binary || msg.publications?.some((p: Msg) => p.binary)) {
      await until(
        () => msg.payload !== undefined || msg.publications?.every((p: Msg) => !p.binary || p.payload),
        'binary',
      );
    }
    return msg;
  }

  /** waitFor resolves with the first logged message (already logged or to come) that matches. */
  async waitFor(match: (m: Msg) => boolean, what: string, ms = TIMEOUT): Promise<Msg> {
    let found: Msg | undefined;
    await until(
      () => {
        found = this.log.find(match);
        return found !== undefined || this.closeInfo !== undefined;
      },
      what,
      ms,
    );
    if (!found) throw new Error(`closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}`);
    return found;
  }

  /** pubs lists the `pub` messages received on a channel. */
  pubs(channel: string): Msg[] {
    return this.log.filter((m) => m.type === 'pub' && m.channel === channel);
  }

  /** subscribe subscribes and returns the `subscribed` reply (throws on an error reply). */
  async subscribe(channel: string, since?: { offset: number; epoch: string }): Promise<Msg> {
    const reply = await this.request(
      since ? { type: 'subscribe', channel, since } : { type: 'subscribe', channel },
    );
    if (reply.type !== 'subscribed') throw new Error(`subscribe failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  /** pause stops reading from the socket (after at most 16 more messages), as a slow consumer. */
  pause(): void {
    this.#iterator = this.ws[Symbol.asyncIterator]();
  }

  /** resume reads again. */
  resume(): void {
    void this.#iterator?.return?.();
    this.#iterator = undefined;
  }

  close(): void {
    this.ws.close();
  }
}

/** TestHub is a hub on an HTTP server on a free loopback port. */
export interface TestHub {
  hub: Hub;
  url: string;
  server: Server;
  clients: RawHubClient[];
  /** connect opens a connected client that is closed with the hub. */
  connect(token?: string): Promise<RawHubClient>;
  stop(): Promise<void>;
}

export async function startHub(options: Omit<HubOptions, 'server' | 'path'> = {}): Promise<TestHub> {
  const server = createServer();
  const hub = new Hub({ ...options, server, path: '/hub' });
  hub.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/hub`;
  const clients: RawHubClient[] = [];
  return {
    hub,
    url,
    server,
    clients,
    async connect(token?: string) {
      const client = await RawHubClient.connected(url, token);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.ws.terminate();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
