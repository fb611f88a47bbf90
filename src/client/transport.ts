/**
 * WebSocketLike is the part of the WHATWG WebSocket that HubClient uses, so that the browser's
 * WebSocket and Duplex's (`import { WebSocket } from 'duplexjs'`) both fit. The handlers take
 * `never` so that any WebSocket's own event types are accepted; HubClient reads only `data` of
 * a message event and `code` and `reason` of a close event.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  onopen: ((event: never) => unknown) | null;
  onmessage: ((event: never) => unknown) | null;
  onerror: ((event: never) => unknown) | null;
  onclose: ((event: never) => unknown) | null;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** WebSocketConstructor is a WebSocket class: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The event shapes HubClient reads. */
export interface MessageEventLike {
  data: unknown;
}
export interface CloseEventLike {
  code: number;
  reason: string;
}

/** defaultWebSocket is the platform's global WebSocket, if it has one. */
export function defaultWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}
