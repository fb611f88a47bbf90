/**
 * scripted-hub is a stand-in for the Duplex hub in HubClient's tests: Duplex's own
 * WebSocketServer on 127.0.0.1 (a free port) that speaks `duplex.v1` only as the test script
 * says, so a test can also send what a correct hub never would (gaps, duplicates, epoch changes,
 * close codes with hints). It also has FakeClock, the injectable clock whose timers a test fires
 * by hand, so backoff delays and liveness checks are exact and nothing waits on real time.
 *
 * Stable API: `startScriptedHub()` -> `ScriptedHub` (`url`, `accept()`, `close()`);
 * `ScriptedConnection` (`next()`, `expect(type)`, `send()`, `sendBinary()`, `close()`,
 * `terminate()`, `handshake()`, `closed`); `FakeClock`; `waitFor()`.
 */
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'duplexjs';
import type { Clock } from 'duplexjs/client';

/** DEADLINE bounds every wait (a safety net, never an assertion about speed). */
export const DEADLINE = 5_000;

/** Received is one frame from the client: a parsed JSON message, or a binary frame's bytes. */
// biome-ignore lint/suspicious/noExplicitAny: test scripts read arbitrary fields of the client's messages
export type Message = { type: string; [field: string]: any };
export type Received = Message | { type: '<binary>'; bytes: Uint8Array };

/** waitFor resolves when `register` calls back with a value that passes `test`. */
export function waitFor<T>(
  what: string,
  register: (callback: (value: T) => void) => () => void,
  test: (value: T) => boolean = () => true,
  ms = DEADLINE,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${ms} ms`));
    }, ms);
    const off = register((value) => {
      if (!test(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** ScriptedConnection is one client connection, driven by the test. */
export class ScriptedConnection {
  readonly socket: WebSocket;
  /** Resolves with the close code and reason when the connection is gone. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #inbox: Received[] = [];
  #wake: (() => void) | undefined;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (event) => {
      const data = event.data;
      if (typeof data === 'string') this.#inbox.push(JSON.parse(data) as Message);
      else this.#inbox.push({ type: '<binary>', bytes: new Uint8Array(data as ArrayBuffer) });
      this.#wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.addEventListener('close', (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#wake?.();
      }),
    );
  }

  /** next resolves with the next frame the client sent. */
  async next(ms = DEADLINE): Promise<Received> {
    const until = Date.now() + ms;
    while (this.#inbox.length === 0) {
      if (Date.now() > until) throw new Error(`no message from the client within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
      this.#wake = undefined;
    }
    return this.#inbox.shift()!;
  }

  /** expect resolves with the next message and fails unless it has `type`. */
  async expect(type: string): Promise<Message> {
    const message = await this.next();
    if (message.type !== type) {
      throw new Error(`expected a ${type} message, got ${JSON.stringify(message)}`);
    }
    return message as Message;
  }

  /** pending is what the client sent that the test has not read yet. */
  get pending(): readonly Received[] {
    return this.#inbox;
  }

  send(message: Message): void {
    this.socket.send(JSON.stringify(message));
  }

  sendBinary(bytes: Uint8Array): void {
    this.socket.send(bytes);
  }

  /** handshake reads `connect` and answers `connected` (fields of `reply` override the defaults). */
  async handshake(reply: Partial<Message> = {}): Promise<Message> {
    const connect = await this.expect('connect');
    this.send({
      type: 'connected',
      id: connect.id,
      client: 'c1',
      user: 'alice',
      pingIntervalMs: 25_000,
      limits: { maxMessageBytes: 65_536, maxSubscriptions: 128 },
      ...reply,
    });
    return connect;
  }

  close(code: number, reason = ''): void {
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/** ScriptedHub accepts HubClient connections under `duplex.v1`. */
export interface ScriptedHub {
  url: string;
  /** accept resolves with the next connection (already upgraded). */
  accept(ms?: number): Promise<ScriptedConnection>;
  /** connections counts every connection so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startScriptedHub(): Promise<ScriptedHub> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    heartbeat: false,
    dangerouslyAllowAnyOrigin: true, // browser pages of the tests come from another port
    handleProtocols: (protocols) => (protocols.includes('duplex.v1') ? 'duplex.v1' : false),
  });
  await new Promise<void>((resolve) => wss.on('listening', resolve));
  const ready: ScriptedConnection[] = [];
  let wake: (() => void) | undefined;
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    ready.push(new ScriptedConnection(socket));
    wake?.();
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/hub`,
    get connections() {
      return connections;
    },
    async accept(ms = DEADLINE) {
      const until = Date.now() + ms;
      while (ready.length === 0) {
        if (Date.now() > until) throw new Error(`no client connection within ${ms} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
        wake = undefined;
      }
      return ready.shift()!;
    },
    async close() {
      for (const socket of wss.clients) socket.terminate();
      await wss.close();
    },
  };
}

/** FakeTimer is one timer the client set on a FakeClock. */
export interface FakeTimer {
  id: number;
  ms: number;
  at: number;
  callback: () => void;
}

/**
 * FakeClock implements the client's Clock with timers that only run when the test fires
 * them; `now` moves only when the test moves it (firing a timer moves it to the timer's time).
 */
export class FakeClock implements Clock {
  time = 1_000_000;
  readonly timers = new Map<number, FakeTimer>();
  #nextId = 1;
  #listeners = new Set<() => void>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.timers.set(id, { id, ms, at: this.time + ms, callback });
    for (const listener of this.#listeners) listener();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** find is a pending timer that passes `test`. */
  find(test: (timer: FakeTimer) => boolean): FakeTimer | undefined {
    for (const timer of this.timers.values()) if (test(timer)) return timer;
    return undefined;
  }

  /** waitForTimer resolves with a pending timer that passes `test` (now or once set). */
  waitForTimer(what: string, test: (timer: FakeTimer) => boolean): Promise<FakeTimer> {
    const found = this.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return waitFor<FakeTimer>(
      `timer ${what}`,
      (callback) => {
        const listener = () => {
          const timer = this.find(test);
          if (timer !== undefined) callback(timer);
        };
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
      () => true,
    );
  }

  /** fire runs a pending timer, moving the clock to its time first. */
  fire(timer: FakeTimer): void {
    if (!this.timers.delete(timer.id)) throw new Error(`timer ${timer.id} (${timer.ms} ms) is not pending`);
    this.time = Math.max(this.time, timer.at);
    timer.callback();
  }
}
