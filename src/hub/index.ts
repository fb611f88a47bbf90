/**
 * duplexjs/hub: the server side of the real-time layer. `Hub` serves the `duplex.v1`
 * protocol (docs/protocol.md) over Duplex's WebSocketServer; `memoryBroker` is the default,
 * one-process `Broker`.
 */

export { HubCloseCode, HubErrorCode } from '../wire/codes.js';
export { type JsonValue, type StreamPosition, SUBPROTOCOL } from '../wire/messages.js';
export type {
  Broker,
  BrokerListener,
  BrokerPublication,
  BrokerState,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  PublishInput,
  PublishResult,
} from './broker.js';
export { HubError, type HubWireErrorCode } from './errors.js';
export {
  type CloseOptions,
  Hub,
  type HubEvents,
  type HubStats,
  type MethodContext,
  type MethodHandler,
  type PresenceMember,
} from './hub.js';
export {
  type MemoryBackend,
  type MemoryBroker,
  type MemoryBrokerOptions,
  memoryBroker,
} from './memory-broker.js';
export type {
  AuthenticateContext,
  ChannelPolicy,
  ClientInfo,
  HubAction,
  HubLimits,
  HubOptions,
  Identity,
  SlowConsumerPolicy,
} from './options.js';
