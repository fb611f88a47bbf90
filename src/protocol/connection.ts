import { randomFillSync } from 'node:crypto';
import { isValidWireCloseCode } from './close-code.js';
import {
  InvalidArgumentError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  ProtocolError,
} from './errors.js';
import type { Extension } from './extension.js';
import { type Frame, MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import { FrameParser } from './frame-parser.js';
import { serializeFrame } from './frame-serializer.js';
import { MessageBuffer } from './message-buffer.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

export type Role = 'client' | 'server';

/** ReadyState names the states of a WebSocket connection (WHATWG `readyState` values). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** ConnectionOptions configures one side of a WebSocket connection. */
export interface ConnectionOptions {
  role: Role;
  /**
   * Largest message accepted, after reassembly and after extension decoding; larger ones
   * fail the connection with 1009. A message may also have at most maxPayload / 8 fragments,
   * so that an endless run of empty fragments is refused too.
   * @default 16 MiB
   */
  maxPayload?: number;
  /** Client only: returns the 4-byte masking key of each frame. @default 4 crypto-random bytes per frame */
  maskKey?: () => Uint8Array;
  /** Negotiated extensions, in the order of the handshake response. @default [] */
  extensions?: Extension[];
  /**
   * Stop after each message event, leaving later frames buffered, so that the application
   * can answer a message before a close frame that arrived in the same chunk ends the
   * connection (RFC 6455 5.5.1: no data may be sent after our close frame). The caller
   * continues with `receive()` (no argument) while the last event was a message.
   * @default false
   */
  yieldAfterMessage?: boolean;
}

export type ConnectionEvent =
  | { type: 'message'; binary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; error: ProtocolError };

/** ReceiveResult is what one `receive` call produced: events to dispatch and bytes to write, in order. */
export interface ReceiveResult {
  events: ConnectionEvent[];
  output: Buffer[];
}

export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** Bookkeeping charged per fragment: a message may have at most maxPayload / FRAGMENT_COST fragments. */
const FRAGMENT_COST = 8;
const MAX_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;
const EMPTY = Buffer.alloc(0);

function randomMaskKey(): Uint8Array {
  return randomFillSync(Buffer.allocUnsafe(4));
}

function toBuffer(data: string | Uint8Array | undefined): Buffer {
  if (data === undefined) return EMPTY;
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Connection is one side of an open WebSocket connection as a state machine, without I/O
 * (RFC 6455 sections 5 to 7). `receive` takes bytes from the peer and returns the events
 * they carry and the bytes to send back (pongs, the close echo); the send methods return the
 * bytes of the frames to write. Every rule whose breach fails the connection is checked here
 * or in FrameParser, and `receive` alone decides the close code.
 */
export class Connection {
  readonly role: Role;
  private _state: ReadyState = ReadyState.OPEN;
  private _closeSent = false;
  private _closeReceived = false;
  private failed = false;
  private readonly maxPayload: number;
  private readonly maskKey: (() => Uint8Array) | undefined;
  private readonly extensions: Extension[];
  private readonly parser: FrameParser;
  // The message being reassembled.
  private message: MessageBuffer | undefined;
  private messageBinary = false;
  private messageRsv = 0;
  private fragments = 0;
  private readonly utf8 = new Utf8Validator();
  private readonly yieldAfterMessage: boolean;
  /**
   * sharedEncodingKey names how this side puts a data message on the wire when that does not
   * depend on the connection's history: '' for a server without extensions, the extensions'
   * keys joined when every one of them encodes statelessly (Extension#sharedEncodingKey),
   * undefined otherwise (a client, which masks every frame with a fresh key, or an extension
   * that keeps context, such as permessage-deflate with our context takeover). Connections
   * with equal keys send the same bytes for the same message, so a broadcast serializes it
   * once per key with `encodeShared` and writes those frames to each of them.
   */
  readonly sharedEncodingKey: string | undefined;

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!(this.maxPayload >= 0))
      throw new InvalidArgumentError('DUPLEX_INVALID_OPTION', 'maxPayload must be >= 0');
    this.maskKey = options.role === 'client' ? (options.maskKey ?? randomMaskKey) : undefined;
    this.extensions = options.extensions ?? [];
    this.yieldAfterMessage = options.yieldAfterMessage ?? false;
    let rsv = 0;
    for (const ext of this.extensions) rsv |= ext.rsvBits;
    const keys = this.extensions.map((ext) => ext.sharedEncodingKey);
    this.sharedEncodingKey =
      options.role === 'server' && keys.every((key) => key !== undefined) ? keys.join(',') : undefined;
    this.parser = new FrameParser({
      expectMasked: options.role === 'server',
      allowedRsv: rsv,
      maxMessagePayload: this.extensions.length > 0 ? encodedLimit(this.maxPayload) : this.maxPayload,
    });
  }

  get state(): ReadyState {
    return this._state;
  }
  get closeSent(): boolean {
    return this._closeSent;
  }
  get closeReceived(): boolean {
    return this._closeReceived;
  }

  /**
   * receive consumes bytes from the peer (taking ownership of `chunk`: it may be unmasked in
   * place). Without an argument it continues with bytes already buffered (see `yieldAfterMessage`).
   */
  receive(chunk: Buffer = EMPTY): ReceiveResult {
    const result: ReceiveResult = { events: [], output: [] };
    // RFC 6455 5.5.1: after the peer's Close frame, "the endpoint ... MUST NOT" expect more data; it is ignored.
    if (this.failed || this._closeReceived) return result;
    this.parser.push(chunk);
    try {
      for (;;) {
        this.parser.messageBytes = this.message === undefined ? 0 : this.message.length;
        const frame = this.parser.next();
        if (frame === undefined) break;
        this.handleFrame(frame, result);
        if (this._closeReceived) break;
        if (this.yieldAfterMessage && result.events[result.events.length - 1]?.type === 'message') break;
      }
    } catch (e) {
      this.fail(e, result);
    }
    return result;
  }

  private handleFrame(frame: Frame, result: ReceiveResult): void {
    switch (frame.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
        if (this.message !== undefined) {
          // RFC 6455 5.4: fragments of one message "MUST NOT be interleaved" with another message's.
          throw new ProtocolError(
            'DUPLEX_UNEXPECTED_DATA_FRAME',
            'new message started inside a fragmented message',
          );
        }
        this.message = new MessageBuffer(this.maxPayload);
        this.messageBinary = frame.opcode === Opcode.BINARY;
        this.messageRsv = frame.rsv;
        this.fragments = 0;
        this.appendFragment(frame, result);
        return;
      case Opcode.CONTINUATION:
        if (this.message === undefined) {
          throw new ProtocolError(
            'DUPLEX_UNEXPECTED_CONTINUATION',
            'continuation frame without a message to continue',
          );
        }
        if (frame.rsv !== 0) {
          // RFC 7692 6.1 and extensions in general mark a message on its first frame only.
          throw new ProtocolError('DUPLEX_RESERVED_BITS', 'reserved bits set on a continuation frame');
        }
        this.appendFragment(frame, result);
        return;
      case Opcode.PING:
        result.events.push({ type: 'ping', data: frame.payload });
        // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
        // response, unless it already received a Close frame." That holds while our own close
        // frame waits for its answer, too (no frame is read after the peer's close).
        result.output.push(...this.frame(Opcode.PONG, frame.payload));
        return;
      case Opcode.PONG:
        // RFC 6455 5.5.3: "A response to an unsolicited Pong frame is not expected."
        result.events.push({ type: 'pong', data: frame.payload });
        return;
      case Opcode.CLOSE:
        this.handleClose(frame.payload, result);
        return;
      default:
        throw new ProtocolError('DUPLEX_RESERVED_OPCODE', `reserved opcode 0x${frame.opcode.toString(16)}`);
    }
  }

  private appendFragment(frame: Frame, result: ReceiveResult): void {
    const message = this.message!;
    this.fragments++;
    if (this.fragments * FRAGMENT_COST > this.maxPayload && !frame.fin) {
      throw new PayloadTooBigError({
        size: message.length + this.fragments * FRAGMENT_COST,
        limit: this.maxPayload,
      });
    }
    if (this.messageRsv === 0 && message.length + frame.payload.length > this.maxPayload) {
      // The parser's limit has room for encoded (compressed) messages; a plain one is held to maxPayload.
      throw new PayloadTooBigError({ size: message.length + frame.payload.length, limit: this.maxPayload });
    }
    const plainText = !this.messageBinary && this.messageRsv === 0;
    if (plainText && !(frame.fin && this.fragments === 1) && !this.utf8.push(frame.payload)) {
      throw new InvalidUtf8Error('text message');
    }
    message.append(frame.payload);
    if (!frame.fin) return;

    let data = message.take();
    this.message = undefined;
    if (this.messageRsv !== 0) {
      for (const ext of this.extensions) {
        const bits = this.messageRsv & ext.rsvBits;
        if (bits !== 0) data = ext.decodeMessage(data, bits, this.maxPayload);
      }
      if (data.length > this.maxPayload)
        throw new PayloadTooBigError({ size: data.length, limit: this.maxPayload });
    }
    if (!this.messageBinary) {
      // RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
      // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_."
      const valid = plainText && this.fragments > 1 ? this.utf8.end() : isValidUtf8(data);
      if (!valid) throw new InvalidUtf8Error('text message');
    }
    result.events.push({ type: 'message', binary: this.messageBinary, data });
  }

  private handleClose(payload: Buffer, result: ReceiveResult): void {
    let code = 1005;
    let reason = '';
    if (payload.length === 1) {
      throw new ProtocolError('DUPLEX_INVALID_CLOSE_PAYLOAD', 'close frame payload of 1 byte');
    }
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      // RFC 6455 7.4: codes outside the defined and registered ranges are a protocol error.
      if (!isValidWireCloseCode(code)) {
        throw new ProtocolError('DUPLEX_INVALID_CLOSE_CODE', `invalid close code ${code}`);
      }
      const raw = payload.subarray(2);
      if (!isValidUtf8(raw)) throw new InvalidUtf8Error('close reason');
      reason = raw.toString('utf8');
    }
    this._closeReceived = true;
    result.events.push({ type: 'close', code, reason });
    if (!this._closeSent) {
      // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a
      // Close frame, the endpoint MUST send a Close frame in response. ... It SHOULD do so as
      // soon as practical. ... the endpoint typically echos the status code it received."
      this._closeSent = true;
      result.output.push(...this.frame(Opcode.CLOSE, code === 1005 ? EMPTY : payload.subarray(0, 2)));
    }
    this._state = ReadyState.CLOSED;
  }

  /** fail is the one place that decides the close code when the peer broke the protocol. */
  private fail(e: unknown, result: ReceiveResult): void {
    const error =
      e instanceof ProtocolError
        ? e
        : new ProtocolError(
            'DUPLEX_INTERNAL_ERROR',
            `internal error: ${(e as Error)?.message ?? String(e)}`,
            1011,
          );
    this.failed = true;
    this.message = undefined;
    result.events.push({ type: 'error', error });
    if (!this._closeSent) {
      this._closeSent = true;
      // Internal error text never goes to the peer; protocol errors say what the peer did wrong.
      const reason = error.closeCode === 1011 ? '' : error.message;
      result.output.push(...this.frame(Opcode.CLOSE, closePayload(error.closeCode ?? 1002, reason, true)));
    }
    this._state = ReadyState.CLOSED;
  }

  /** sendText returns the frames of a text message. A Buffer argument must already hold UTF-8. */
  sendText(data: string | Buffer): Buffer[] {
    return this.sendMessage(Opcode.TEXT, toBuffer(data));
  }

  /** sendBinary returns the frames of a binary message. */
  sendBinary(data: Uint8Array): Buffer[] {
    return this.sendMessage(Opcode.BINARY, toBuffer(data));
  }

  private sendMessage(opcode: number, payload: Buffer): Buffer[] {
    this.assertOpen();
    return this.encode(opcode, payload);
  }

  /**
   * encodeShared returns the frames of a data message as every connection with this
   * `sharedEncodingKey` would send it, without touching this connection's state: a broadcast
   * calls it once per key and writes the same frames to each recipient with that key. It
   * throws InvalidStateError when the key is undefined (the encoding is per connection).
   */
  encodeShared(payload: Buffer, binary: boolean): Buffer[] {
    if (this.sharedEncodingKey === undefined)
      throw new InvalidStateError('this connection encodes every message with its own context');
    return this.encode(binary ? Opcode.BINARY : Opcode.TEXT, payload);
  }

  private encode(opcode: number, payload: Buffer): Buffer[] {
    let rsv = 0;
    for (const ext of this.extensions) {
      const encoded = ext.encodeMessage(payload, opcode === Opcode.BINARY);
      payload = encoded.payload;
      rsv |= encoded.rsv;
    }
    return serializeFrame({ opcode, payload, rsv, maskKey: this.maskKey?.() });
  }

  /** ping returns a ping frame; its payload may be at most 125 bytes. */
  ping(data?: string | Uint8Array): Buffer[] {
    return this.control(Opcode.PING, data);
  }

  /** pong returns an unsolicited pong frame (RFC 6455 5.5.3 allows them as a heartbeat). */
  pong(data?: string | Uint8Array): Buffer[] {
    return this.control(Opcode.PONG, data);
  }

  private control(opcode: number, data: string | Uint8Array | undefined): Buffer[] {
    const payload = toBuffer(data);
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new InvalidArgumentError(
        'DUPLEX_CONTROL_PAYLOAD_TOO_BIG',
        `control frame payload of ${payload.length} bytes exceeds 125`,
      );
    }
    this.assertOpen();
    return this.frame(opcode, payload);
  }

  /**
   * close starts the closing handshake (or answers it) and returns the close frame; [] when
   * a close frame was already sent. Without a code the frame has no payload (the peer sees 1005).
   */
  close(code?: number, reason = ''): Buffer[] {
    const payload = code === undefined ? EMPTY : closePayload(code, reason, false);
    if (code === undefined && reason !== '') {
      throw new InvalidArgumentError('DUPLEX_INVALID_CLOSE_CODE', 'a close reason needs a close code');
    }
    if (this._closeSent) return [];
    this._closeSent = true;
    this._state = this._closeReceived ? ReadyState.CLOSED : ReadyState.CLOSING;
    return this.frame(Opcode.CLOSE, payload);
  }

  private assertOpen(): void {
    if (this._state !== ReadyState.OPEN) {
      throw new InvalidStateError(`cannot send: the connection is ${this._closeSent ? 'closing' : 'closed'}`);
    }
  }

  private frame(opcode: number, payload: Buffer): Buffer[] {
    return serializeFrame({ opcode, payload, maskKey: this.maskKey?.() });
  }
}

/**
 * encodedLimit is the wire budget of a message an extension encoded. Data that does not
 * compress grows a little under deflate (stored blocks add 5 bytes per 64 KiB, plus the
 * block headers of other strategies), so a message of maxPayload bytes must be allowed a
 * small margin on the wire; its decoded size is still held to maxPayload exactly.
 */
function encodedLimit(maxPayload: number): number {
  return maxPayload + Math.ceil(maxPayload / 1024) + 1024;
}

/** closePayload builds a close frame body; `truncate` shortens an over-long reason at a character boundary instead of throwing. */
function closePayload(code: number, reason: string, truncate: boolean): Buffer {
  if (!isValidWireCloseCode(code)) {
    throw new InvalidArgumentError('DUPLEX_INVALID_CLOSE_CODE', `close code ${code} may not be sent`);
  }
  let text = Buffer.from(reason);
  if (text.length > MAX_REASON_BYTES) {
    if (!truncate) {
      throw new InvalidArgumentError(
        'DUPLEX_CLOSE_REASON_TOO_LONG',
        `close reason of ${text.length} bytes exceeds ${MAX_REASON_BYTES}`,
      );
    }
    let end = MAX_REASON_BYTES;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}
