/**
 * duplexjs/client: HubClient, the browser-safe client of the Duplex hub (docs/client.md). It
 * imports nothing from Node: the same code runs in browsers (the bundle dist/duplex-client.js)
 * and in Node with `import { WebSocket } from 'duplexjs'` as its WebSocket option.
 */

export { HubCloseCode, HubErrorCode } from '../wire/codes.js';
export type { JsonValue, StreamPosition, WirePresenceMember as PresenceMember } from '../wire/messages.js';
export type { BackoffOptions } from './backoff.js';
export type { Clock } from './clock.js';
export type { Listener } from './emitter.js';
export { HubClientError, type HubClientErrorOptions } from './errors.js';
export {
  type CallArgs,
  HubClient,
  type HubClientEvents,
  type HubClientState,
  type HubSession,
  type PublishOptions,
  type PublishResult,
  type SubscribeOptions,
} from './hub-client.js';
export type { HubClientOptions, TokenSource } from './options.js';
export type { RequestOptions } from './requests.js';
export type {
  ChannelData,
  ChannelName,
  ChannelsOf,
  HubSchema,
  MethodName,
  MethodParams,
  MethodResult,
  MethodSpec,
  MethodsOf,
} from './schema.js';
export {
  type HistoryOptions,
  type HistoryPage,
  type HistoryPublication,
  Subscription,
} from './subscription.js';
export type {
  Member,
  MessageMeta,
  SubscribedInfo,
  SubscriptionEvents,
  SubscriptionState,
  UnsubscribedInfo,
} from './subscription-core.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
