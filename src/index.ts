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
export { BufferFullError, ConnectionClosedError, UnexpectedResponseError } from './node/errors.js';
export type { ListenerOptions, WebSocketData, WebSocketEventMap } from './node/event-target.js';
export { CloseEvent, type DataEvent, ErrorEvent } from './node/events.js';
export type {
  AuthenticateRefusal,
  AuthenticateResult,
  HeartbeatOptions,
  SocketOptions,
  TlsOptions,
  WebSocketOptions,
  WebSocketServerOptions,
} from './node/options.js';
export { WebSocketServer, type WebSocketServerEvents } from './node/server.js';
export { type BinaryType, type SendData, WebSocket } from './node/websocket.js';
export {
  CloseCode,
  DuplexError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  ProtocolError,
} from './protocol/index.js';
