/**
 * duplexjs/protocol: the sans-I/O core of RFC 6455. Bytes in, events out; calls in, bytes out.
 * No sockets and no timers live here.
 */
export { CloseCode, isValidWireCloseCode } from './close-code.js';
export {
  type CloseStatus,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  DEFAULT_MAX_PAYLOAD,
  ReadyState,
  type ReceiveResult,
  type Role,
  type SendOptions,
  type TcpStep,
} from './connection.js';
export {
  acceptDeflateResponse,
  type DeflateParams,
  negotiateDeflate,
  offerDeflate,
  type PerMessageDeflateOptions,
} from './deflate-negotiation.js';
export { ErrorCode } from './error-codes.js';
export {
  DuplexError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  ProtocolError,
  type ProtocolErrorOptions,
} from './errors.js';
export type { EncodedMessage, Extension, ExtensionFactory } from './extension.js';
export { type ExtensionOffer, formatExtensionHeader, parseExtensionHeader } from './extension-header.js';
export { type Frame, isControlOpcode, MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
export { FrameParser, type FrameParserOptions } from './frame-parser.js';
export { headerLength, type SerializeOptions, serializeFrame } from './frame-serializer.js';
export {
  buildRejectResponse,
  buildServerResponse,
  clientRequestHeaders,
  computeAccept,
  generateKey,
  type HeaderMap,
  parseTokenList,
  type ValidatedRequest,
  validateClientRequest,
  validateServerResponse,
} from './handshake.js';
export { mask, unmask } from './mask.js';
export { deflateFactory, PerMessageDeflate, type PerMessageDeflateInit } from './permessage-deflate.js';
export { isValidUtf8, Utf8Validator } from './utf8.js';
