/**
 * Extension is the hook through which a negotiated WebSocket extension (RFC 6455 section 9,
 * e.g. permessage-deflate of RFC 7692) takes part in a Connection. RSV bits belong to the
 * negotiated extensions: a frame with an RSV bit that no extension claims fails the
 * connection with 1002.
 *
 * The hook works per message, synchronously, as permessage-deflate does: the Connection
 * reassembles a message and hands its payload to `decodeMessage` when the first frame had
 * any of the extension's RSV bits set; on the way out `encodeMessage` may transform a data
 * message's payload and set RSV bits on its first frame. Control frames never pass through it.
 */
import type { ExtensionOffer } from './extension-header.js';

/** EncodedMessage is a data message's payload as an extension puts it on the wire, and the RSV bits of its first frame. */
export interface EncodedMessage {
  payload: Buffer;
  rsv: number;
}

export interface Extension {
  /** The registered extension token, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The RSV bits this extension claims, as they sit in the first header byte: 0x40 RSV1, 0x20 RSV2, 0x10 RSV3. */
  readonly rsvBits: number;
  /**
   * decodeMessage turns the reassembled payload of a message whose first frame carried
   * `rsv` (masked to this extension's bits) into the plain payload. It must not produce
   * more than `maxPayload` bytes: it throws PayloadTooBigError (1009) past that, and a
   * ProtocolError with the right close code for corrupt data.
   */
  decodeMessage(payload: Buffer, rsv: number, maxPayload: number): Buffer;
  /**
   * encodeMessage returns the payload to put on the wire for a data message and the RSV
   * bits to set on its first frame (0 to send it unchanged).
   */
  encodeMessage(payload: Buffer, binary: boolean): EncodedMessage;
  /**
   * decodeMessageAsync, when the extension has it, is decodeMessage for a caller that can
   * wait: it returns a Promise for a message it decodes off the caller's thread (a large
   * one, e.g. permessage-deflate on zlib's thread pool) and the result itself otherwise. It
   * rejects as decodeMessage throws. The Connection reads no further frame until it settles.
   */
  decodeMessageAsync?(payload: Buffer, rsv: number, maxPayload: number): Buffer | Promise<Buffer>;
  /**
   * encodeMessageAsync, when the extension has it, is encodeMessage for a caller that can
   * wait, the same way. The extension's state moves on at the call, so later messages may be
   * encoded before the Promise settles: their frames belong after this message's on the wire.
   */
  encodeMessageAsync?(payload: Buffer, binary: boolean): EncodedMessage | Promise<EncodedMessage>;
  /**
   * sharedEncodingKey is set when encodeMessage is a pure function of the message (it keeps
   * no history, e.g. permessage-deflate without our context takeover) and equal for every
   * extension instance that encodes a message to the same bytes; undefined when the result
   * depends on what was sent before. Broadcast encodes once per key (Connection#encodeShared).
   */
  readonly sharedEncodingKey?: string | undefined;
}

/**
 * ExtensionFactory negotiates one extension in the opening handshake (RFC 6455 9.1) and
 * creates its Extension for the connection. The node layer keeps a list of factories and
 * asks each in turn, so an extension plugs in without changes there; permessage-deflate is
 * one (`deflateFactory`).
 */
export interface ExtensionFactory {
  /** The extension token, e.g. `permessage-deflate` (matched case-insensitively). */
  readonly name: string;
  /** Client: the elements to offer in Sec-WebSocket-Extensions, most preferred first. */
  offer(): ExtensionOffer[];
  /**
   * Server: picks among the client's offers of this extension (in the client's order; RFC
   * 7692 5: invalid ones are declined, not refused) and returns the response element and
   * the connection's Extension, or undefined to decline them all.
   */
  accept(offers: ExtensionOffer[]): { response: ExtensionOffer; extension: Extension } | undefined;
  /**
   * Client: checks the server's response element against what was offered and returns the
   * connection's Extension; throws HandshakeError (DUPLEX_HANDSHAKE_BAD_EXTENSIONS) when the
   * client must fail the connection.
   */
  accepted(response: ExtensionOffer): Extension;
}
