/**
 * util holds the small helpers of the node-layer tests: a standalone server on a free
 * loopback port, and event waits that always have a deadline.
 */
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer, type WebSocketServerOptions } from 'duplexjs';

/** TIMEOUT bounds every wait in these tests. */
export const TIMEOUT = 5_000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** withTimeout rejects when `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, what: string, ms = TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** nextEvent resolves with the next event of `type` on an EventTarget. */
export function nextEvent<E extends { type: string } = Event>(
  target: EventTarget | WebSocket,
  type: string,
  ms = TIMEOUT,
): Promise<E> {
  return withTimeout(
    new Promise<E>((resolve) =>
      (target as EventTarget).addEventListener(type, (e: unknown) => resolve(e as E), { once: true }),
    ),
    `event ${type}`,
    ms,
  );
}

/** nextEmit resolves with the arguments of the next `name` event of an EventEmitter. */
export function nextEmit<T extends unknown[] = unknown[]>(
  emitter: { once(name: string, fn: (...args: T) => void): unknown },
  name: string,
  ms = TIMEOUT,
): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve) => emitter.once(name, (...args: T) => resolve(args))),
    `emit ${name}`,
    ms,
  );
}

/** Started is a standalone server listening on 127.0.0.1 with its port and base URL. */
export interface Started {
  wss: WebSocketServer;
  port: number;
  url: string;
}

/** startServer starts a standalone WebSocketServer on a free loopback port. */
export async function startServer(options: Omit<WebSocketServerOptions, 'port'> = {}): Promise<Started> {
  const wss = new WebSocketServer({ host: '127.0.0.1', ...options, port: 0 });
  await nextEmit(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}/` };
}

/** nextConnection resolves with the server side of the next connection. */
export async function nextConnection(wss: WebSocketServer): Promise<WebSocket> {
  const [ws] = await nextEmit<[WebSocket]>(wss, 'connection');
  return ws;
}

/** stop closes a server with a deadline, whatever state its clients are in. */
export async function stop(wss: WebSocketServer): Promise<void> {
  await withTimeout(wss.close(), 'server close', 10_000);
}
