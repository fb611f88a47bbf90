import type { ClientRequest, IncomingMessage } from 'node:http';
import type { WebSocket } from './websocket.js';

/** RawData is a received message as an `on('message')` listener gets it: a Buffer (text too), or binary as `binaryType` says. */
export type RawData = Buffer | ArrayBuffer | Blob;

/** WebSocketEmitterEvents types the listeners of `on`/`once` (ws's EventEmitter style). */
export interface WebSocketEmitterEvents {
  open: [];
  message: [data: RawData, isBinary: boolean];
  close: [code: number, reason: Buffer];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  drain: [];
  /** Client: the 101 response, before `open`. */
  upgrade: [response: IncomingMessage];
  /** Client: a non-101 answer; the listener owns the response (no `error` event is fired). */
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** Client with `followRedirects`: a redirect is being followed. */
  redirect: [url: string, request: ClientRequest];
}

export type EmitterListener<K extends keyof WebSocketEmitterEvents> = (
  this: WebSocket,
  ...args: WebSocketEmitterEvents[K]
) => void;
