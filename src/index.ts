/**
 * duplexjs: the Node.js WebSocket server and client. The protocol core lives in
 * `duplexjs/protocol`; this entry point re-exports its errors so that applications can
 * handle every error Duplex raises from one import.
 */

export {
  type BroadcastOptions,
  type PreparableData,
  PreparedMessage,
  type PrepareOptions,
  prepareMessage,
} from './node/broadcast.js';
export type { Clock, ClockTimer } from './node/clock.js';
export type { RawData, WebSocketEmitterEvents } from './node/emitter-events.js';
export { BufferFullError, ConnectionClosedError, UnexpectedResponseError } from './node/errors.js';
export type { ListenerOptions, WebSocketData, WebSocketEventMap } from './node/event-target.js';
export { CloseEvent, type DataEvent, ErrorEvent } from './node/events.js';
export type {
  AuthenticateAcceptance,
  AuthenticateRefusal,
  AuthenticateResult,
  HeartbeatOptions,
  OfferedProtocols,
  SocketOptions,
  TlsOptions,
  VerifyClient,
  VerifyClientCallback,
  VerifyClientInfo,
  WebSocketOptions,
  WebSocketServerOptions,
} from './node/options.js';
export { proxyFromEnv } from './node/proxy.js';
export type { HandshakeRefusal } from './node/refusal.js';
export { WebSocketServer, type WebSocketServerEvents } from './node/server.js';
export { createWebSocketStream } from './node/stream.js';
export {
  type BinaryType,
  type SendCallback,
  type SendData,
  type SendOptions,
  WebSocket,
} from './node/websocket.js';
export {
  CloseCode,
  DuplexError,
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  ProtocolError,
} from './protocol/index.js';

import { WebSocketServer } from './node/server.js';
import { createWebSocketStream } from './node/stream.js';
import { WebSocket } from './node/websocket.js';

// ws's default export is its WebSocket class carrying the rest (`WebSocket.Server`,
// `WebSocket.WebSocketServer`, `WebSocket.createWebSocketStream`), so that
// `import WebSocket, { WebSocketServer } from 'ws'` code runs with the import renamed.
WebSocket.Server = WebSocketServer;
WebSocket.WebSocketServer = WebSocketServer;
WebSocket.WebSocket = WebSocket;
WebSocket.createWebSocketStream = createWebSocketStream;

export default WebSocket;
