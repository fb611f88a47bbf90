/**
 * duplexjs/hub: the server side of the real-time layer. `Hub` serves the `duplex.v1`
 * protocol (docs/protocol.md) over Duplex's WebSocketServer; `memoryBroker` is the default,
 * one-process `Broker`.
 */
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
  type MemoryBackend,
  type MemoryBroker,
  type MemoryBrokerOptions,
  memoryBroker,
} from './memory-broker.js';
