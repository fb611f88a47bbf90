import { randomFillSync } from 'node:crypto';
import { isValidWireCloseCode } from './close-code.js';
import {
  DuplexError,
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
   * Answer each ping with a pong (RFC 6455 5.5.2 says an endpoint MUST). `false` leaves it
   * to the application, which sees the ping event and calls `pong` itself.
   * @default true
   */
  autoPong?: boolean;
  /**
   * Skip the UTF-8 check of text messages and close reasons. Only for peers that are
   * trusted to send valid UTF-8: invalid text then reaches the application as is.
   * @default false
   */
  skipUtf8Validation?: boolean;
  /**
   * Let an extension decode a large message off the caller's thread
   * (Extension#decodeMessageAsync): `receive` then returns a `decode` event and reads no
   * further frame until its `done` resolves; the next `receive` (with the bytes not consumed
   * so far, or an empty chunk) delivers the message. Works with one negotiated extension
   * (permessage-deflate).
   * @default false
   */
  asyncDecode?: boolean;
}

/** SendOptions shape one outgoing data frame. */
export interface SendOptions {
  /**
   * Let the negotiated extensions (permessage-deflate) encode the message; `false` sends it
   * as is. A fragmented message (see `fin`) is never compressed. @default true
   */
  compress?: boolean;
  /**
   * `false` sends the data as a fragment of a message that later sends continue (as
   * continuation frames, whatever their type) until one is sent with `fin` true. @default true
   */
  fin?: boolean;
}

export type ConnectionEvent =
  | { type: 'message'; binary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; error: ProtocolError }
  /**
   * A message is being decoded off the thread (asyncDecode). Call `receive` again once
   * `done` resolves (it never rejects): the message, or the error it caused, comes then.
   * Until then `receive` consumes nothing.
   */
  | { type: 'decode'; done: Promise<void> };

/** PendingDecode is a message an extension decodes off the thread, and its outcome once settled. */
interface PendingDecode {
  binary: boolean;
  settled: boolean;
  data: Buffer | undefined;
  error: unknown;
}

/** ReceiveResult is what one `receive` call produced: events to dispatch and bytes to write, in order. */
export interface ReceiveResult {
  events: ConnectionEvent[];
  output: Buffer[];
  /**
   * The index up to which the chunk is consumed. Below its length when `receive` stopped at
   * a message (or a `decode`): the caller goes on with `receive(chunk, consumed)` when it is
   * ready for the next message.
   */
  consumed: number;
}

/**
 * TcpStep is what the transport does with TCP now, as `Connection#tcp` decides it after
 * every call (RFC 6455 7.1.1). 'open': nothing. 'await-close': our close frame is out, wait
 * (bounded by a timeout) for the peer's. 'await-fin': a client after the closing handshake
 * waits (bounded) for the server to close TCP first. 'end': half-close TCP after the
 * output written so far, then wait (bounded) for the peer to close it. Each timeout ends
 * in destroying the socket.
 */
export type TcpStep = 'open' | 'await-close' | 'await-fin' | 'end';

/** CloseStatus is the close the application is told about once TCP is gone (the close event). */
export interface CloseStatus {
  code: number;
  reason: string;
  /** True when both close frames passed (RFC 6455 7.1.4 "the WebSocket Connection is Closed" cleanly) and no data was dropped. */
  wasClean: boolean;
}

/** ABNORMAL is the status of a connection whose TCP ended without a closing handshake (RFC 6455 7.1.5: 1006). */
const ABNORMAL: CloseStatus = Object.freeze({ code: 1006, reason: '', wasClean: false });

export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** Bookkeeping charged per fragment: a message may have at most maxPayload / FRAGMENT_COST fragments. */
const FRAGMENT_COST = 8;
const MAX_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;
const EMPTY = Buffer.alloc(0);
/** The extensions of every connection that negotiated none, shared rather than one array each. */
const NO_EXTENSIONS: readonly Extension[] = [];

/**
 * Phase is where a connection stands in the closing handshake; `state`, `closeSent` and
 * `closeReceived` derive from it, so that a connection keeps one field for all four. CLOSING:
 * our close frame is sent, the peer's awaited. CLOSED: both were exchanged. FAILED: we sent a
 * close frame because the peer broke the protocol, and read nothing more.
 */
const Phase = { OPEN: 0, CLOSING: 1, CLOSED: 2, FAILED: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Bits of Connection#bits: the settings and the fragmented-send state in one field. */
const NO_AUTO_PONG = 1;
const SKIP_UTF8 = 2;
const SENDING_FRAGMENTS = 4;
/** The peer's byte stream ended (receiveEof). */
const EOF_RECEIVED = 8;
/** The connection failed (also after a closing handshake, where the phase stays CLOSED). */
const FAILED = 16;

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
 * or in FrameParser, and `fail` alone decides the close code.
 *
 * It owns the whole close: the closing handshake, the peer's end of stream (`receiveEof`),
 * what to do with TCP next (`tcp`) and the status reported once TCP is gone (`closeStatus`);
 * the transport arms the timers and writes, ends or destroys as `tcp` says.
 *
 * `receive` stops after each message, so that the application can answer it before a close
 * frame later in the same chunk ends the connection (RFC 6455 5.5.1: no data may be sent
 * after our close frame), and so that a paused reader stops between messages: the caller
 * keeps the bytes not consumed and passes them to the next `receive` when it is ready.
 *
 * An idle connection holds no receive-side state: the FrameParser is created by the first
 * bytes received, and a MessageBuffer (with its Utf8Validator) lives only while a fragmented
 * message is reassembled. Servers hold thousands of idle connections; each field counts.
 */
export class Connection {
  readonly role: Role;
  private phase: Phase = Phase.OPEN;
  private readonly maxPayload: number;
  private readonly maskKey: (() => Uint8Array) | undefined;
  private readonly extensions: readonly Extension[];
  /** NO_AUTO_PONG, SKIP_UTF8, SENDING_FRAGMENTS, EOF_RECEIVED and FAILED: the flags in one field. */
  private bits: number;
  private readonly asyncDecode: boolean;
  /** The message being decoded off the thread (asyncDecode); no frame is read meanwhile. */
  private decoding: PendingDecode | undefined;
  /** The parser of the peer's bytes; undefined until the first bytes arrive. */
  private parser: FrameParser | undefined;
  /** The fragmented message being reassembled, if any. */
  private message: MessageBuffer | undefined;
  /** The close to report, once decided (see closeStatus); undefined while none is. */
  private outcome: CloseStatus | undefined;
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
    this.extensions =
      options.extensions !== undefined && options.extensions.length > 0 ? options.extensions : NO_EXTENSIONS;
    this.bits =
      (options.autoPong === false ? NO_AUTO_PONG : 0) | (options.skipUtf8Validation === true ? SKIP_UTF8 : 0);
    this.asyncDecode = options.asyncDecode === true && this.extensions.length === 1;
    const keys = this.extensions.map((ext) => ext.sharedEncodingKey);
    this.sharedEncodingKey =
      options.role === 'server' && keys.every((key) => key !== undefined) ? keys.join(',') : undefined;
  }

  /**
   * state is OPEN until a close frame went either way or the peer's stream ended, CLOSING
   * while the closing handshake (or the teardown after an end of stream) runs, CLOSED once
   * both close frames passed or the connection failed. The transport reports CLOSED to the
   * application only when TCP is gone.
   */
  get state(): ReadyState {
    const phase = this.phase;
    return phase === Phase.OPEN
      ? (this.bits & EOF_RECEIVED) === 0
        ? ReadyState.OPEN
        : ReadyState.CLOSING
      : phase === Phase.CLOSING
        ? ReadyState.CLOSING
        : ReadyState.CLOSED;
  }
  get closeSent(): boolean {
    return this.phase !== Phase.OPEN;
  }
  get closeReceived(): boolean {
    return this.phase === Phase.CLOSED;
  }

  /**
   * tcp is what to do with TCP now. RFC 6455 7.1.1: "The underlying TCP connection, in most
   * normal cases, SHOULD be closed first by the server"; "the client SHOULD wait for the
   * server to close the connection but MAY close the connection at any time after sending
   * and receiving a Close message, e.g., if it has not received a TCP Close from the server
   * in a reasonable time period." After a failure (RFC 6455 7.1.7) or the peer's end of
   * stream, either side ends TCP at once.
   */
  get tcp(): TcpStep {
    const phase = this.phase;
    if ((this.bits & (EOF_RECEIVED | FAILED)) !== 0) return 'end';
    if (phase === Phase.CLOSED) return this.role === 'server' ? 'end' : 'await-fin';
    return phase === Phase.CLOSING ? 'await-close' : 'open';
  }

  /**
   * closeStatus is the close to report once TCP is gone: the peer's code and reason after
   * the closing handshake (wasClean true); the failure's code after `fail` or a protocol
   * error, or ours after `abandon` (wasClean false); 1006 when TCP ended without a closing
   * handshake (RFC 6455 7.1.5: "If _The WebSocket Connection is Closed_ and no Close
   * control frame was received by the endpoint ... _The WebSocket Connection Close Code_ is
   * considered to be 1006").
   */
  get closeStatus(): CloseStatus {
    return this.outcome ?? ABNORMAL;
  }

  /**
   * receive consumes bytes from the peer, `chunk` from index `from` on (taking ownership of
   * them: they may be unmasked in place), up to the end of the first message they complete,
   * and says where it stopped (`consumed`); the caller goes on from there with the next
   * call. Bytes of an incomplete frame are consumed (kept here); bytes after a close frame
   * or a failure are consumed and ignored.
   *
   * A `borrowed` chunk stays the caller's: a read buffer it reuses once the call returns.
   * Nothing returned is then a view of it (payloads are copies, which costs nothing extra
   * for the small masked frames a server mostly gets: the copy is the unmasking pass), and
   * the bytes of an incomplete frame are copied before the call returns.
   */
  receive(chunk: Buffer, from = 0, borrowed = false): ReceiveResult {
    const result: ReceiveResult = { events: [], output: [], consumed: chunk.length };
    // RFC 6455 5.5.1: after the peer's Close frame, "the endpoint ... MUST NOT" expect more data; it is ignored.
    if (this.phase === Phase.CLOSED || this.phase === Phase.FAILED) return result;
    const pending = this.decoding;
    if (pending !== undefined) {
      // Nothing behind a message being decoded is read before it is delivered.
      result.consumed = from;
      if (!pending.settled) return result;
      this.decoding = undefined;
      try {
        if (pending.data === undefined) throw pending.error;
        this.emit(pending.data, pending.binary, undefined, result);
      } catch (e) {
        this.failInto(e, result);
        result.consumed = chunk.length;
      }
      return result;
    }
    let parser = this.parser;
    if (parser === undefined) {
      if (chunk.length <= from) return result;
      parser = this.parser = this.createParser();
    }
    parser.push(chunk, from, borrowed);
    try {
      for (;;) {
        parser.messageBytes = this.message === undefined ? 0 : this.message.length;
        const frame = parser.next();
        if (frame === undefined) return result;
        const events = result.events.length;
        this.handleFrame(frame, result);
        if (this.closeReceived) return result;
        if (
          this.decoding !== undefined ||
          (result.events.length > events && result.events[events]!.type === 'message')
        ) {
          // Stop at the message: what follows it in the chunk is the caller's to pass again.
          result.consumed = chunk.length - parser.release();
          return result;
        }
      }
    } catch (e) {
      this.failInto(e, result);
    } finally {
      if (borrowed) parser.settle();
    }
    return result;
  }

  /**
   * receiveEof records that the peer's byte stream ended (TCP FIN, or the socket closed
   * under us). Before a closing handshake that is an abnormal closure (1006, see
   * closeStatus); a frame or message left incomplete is dropped. `tcp` is 'end' from now on.
   */
  receiveEof(): void {
    this.bits |= EOF_RECEIVED;
    this.message = undefined;
    this.parser = undefined;
  }

  /**
   * fail fails the connection (RFC 6455 7.1.7) for a reason found outside `receive`: an
   * exception in the caller's handling of the connection (an internal error, 1011), or a
   * DuplexError that names its close code. Returns the error event and our close frame
   * (none when a close frame was already sent); `tcp` is 'end' from now on.
   */
  fail(error: unknown): ReceiveResult {
    const result: ReceiveResult = { events: [], output: [], consumed: 0 };
    this.failInto(error, result);
    return result;
  }

  /**
   * failInternal fails an OPEN connection with 1011 (RFC 6455 7.4.1: "a server is
   * terminating the connection because it encountered an unexpected condition that
   * prevented it from fulfilling the request") for a fault on our side that `receive` did
   * not see: an application's listener that threw, data handed to send that could not be
   * read. `reason` says what failed: the error event's message (`internal error: <reason>`,
   * code DUPLEX_INTERNAL_ERROR, `cause` the exception), never sent to the peer. The code is
   * 1011 whatever `cause` is, even a DuplexError that names another (a ConnectionClosedError
   * that escaped a loop). Once the connection is no longer OPEN the close under way stands
   * and nothing happens (an empty result). Otherwise as `fail`: `tcp` is 'end' and
   * closeStatus `{ code: 1011, reason: '', wasClean: false }`.
   */
  failInternal(reason: string, cause?: unknown): ReceiveResult {
    const result: ReceiveResult = { events: [], output: [], consumed: 0 };
    if (this.state === ReadyState.OPEN) this.failInto(cause, result, reason);
    return result;
  }

  private createParser(): FrameParser {
    let rsv = 0;
    for (const ext of this.extensions) rsv |= ext.rsvBits;
    return new FrameParser({
      expectMasked: this.role === 'server',
      allowedRsv: rsv,
      maxMessagePayload: this.extensions.length > 0 ? encodedLimit(this.maxPayload) : this.maxPayload,
    });
  }

  private handleFrame(frame: Frame, result: ReceiveResult): void {
    switch (frame.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY: {
        if (this.message !== undefined) {
          // RFC 6455 5.4: fragments of one message "MUST NOT be interleaved" with another message's.
          throw new ProtocolError({
            code: 'DUPLEX_UNEXPECTED_DATA_FRAME',
            message: 'new message started inside a fragmented message',
          });
        }
        const binary = frame.opcode === Opcode.BINARY;
        if (frame.fin) {
          // A message in one frame, the common case, is its payload: nothing to reassemble.
          if (frame.rsv === 0 && frame.payload.length > this.maxPayload) {
            throw new PayloadTooBigError({ size: frame.payload.length, limit: this.maxPayload });
          }
          this.deliver(frame.payload, binary, frame.rsv, undefined, result);
          return;
        }
        // Plain text is checked fragment by fragment, so that invalid UTF-8 fails at once;
        // encoded text is checked once decoded.
        const utf8 =
          !binary && frame.rsv === 0 && (this.bits & SKIP_UTF8) === 0 ? new Utf8Validator() : undefined;
        this.message = new MessageBuffer({ limit: this.maxPayload, binary, rsv: frame.rsv, utf8 });
        this.appendFragment(this.message, frame, result);
        return;
      }
      case Opcode.CONTINUATION:
        if (this.message === undefined) {
          throw new ProtocolError({
            code: 'DUPLEX_UNEXPECTED_CONTINUATION',
            message: 'continuation frame without a message to continue',
          });
        }
        if (frame.rsv !== 0) {
          // RFC 7692 6.1 and extensions in general mark a message on its first frame only.
          throw new ProtocolError({
            code: 'DUPLEX_RESERVED_BITS',
            message: 'reserved bits set on a continuation frame',
          });
        }
        this.appendFragment(this.message, frame, result);
        return;
      case Opcode.PING:
        result.events.push({ type: 'ping', data: frame.payload });
        // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
        // response, unless it already received a Close frame." That holds while our own close
        // frame waits for its answer, too (no frame is read after the peer's close).
        if ((this.bits & NO_AUTO_PONG) === 0) result.output.push(...this.frame(Opcode.PONG, frame.payload));
        return;
      case Opcode.PONG:
        // RFC 6455 5.5.3: "A response to an unsolicited Pong frame is not expected."
        result.events.push({ type: 'pong', data: frame.payload });
        return;
      case Opcode.CLOSE:
        this.handleClose(frame.payload, result);
        return;
      default:
        throw new ProtocolError({
          code: 'DUPLEX_RESERVED_OPCODE',
          message: `reserved opcode 0x${frame.opcode.toString(16)}`,
        });
    }
  }

  private appendFragment(message: MessageBuffer, frame: Frame, result: ReceiveResult): void {
    const fragments = message.fragments + 1;
    if (fragments * FRAGMENT_COST > this.maxPayload && !frame.fin) {
      throw new PayloadTooBigError({
        size: message.length + fragments * FRAGMENT_COST,
        limit: this.maxPayload,
      });
    }
    if (message.rsv === 0 && message.length + frame.payload.length > this.maxPayload) {
      // The parser's limit has room for encoded (compressed) messages; a plain one is held to maxPayload.
      throw new PayloadTooBigError({ size: message.length + frame.payload.length, limit: this.maxPayload });
    }
    if (message.utf8 !== undefined && !message.utf8.push(frame.payload)) {
      throw new InvalidUtf8Error('text message');
    }
    message.append(frame.payload);
    if (!frame.fin) return;
    this.message = undefined;
    this.deliver(message.take(), message.binary, message.rsv, message.utf8, result);
  }

  /**
   * deliver decodes a whole message (`rsv` names the extensions that encoded it), checks its
   * size and its text, and adds its event. `utf8` holds the check of text validated fragment
   * by fragment; other text is validated here in one pass.
   */
  private deliver(
    data: Buffer,
    binary: boolean,
    rsv: number,
    utf8: Utf8Validator | undefined,
    result: ReceiveResult,
  ): void {
    if (rsv !== 0) {
      const only = this.asyncDecode ? this.extensions[0] : undefined;
      if (only?.decodeMessageAsync !== undefined) {
        const decoded = only.decodeMessageAsync(data, rsv & only.rsvBits, this.maxPayload);
        if (decoded instanceof Promise) {
          this.defer(decoded, binary, result);
          return;
        }
        data = decoded;
      } else {
        for (const ext of this.extensions) {
          const bits = rsv & ext.rsvBits;
          if (bits !== 0) data = ext.decodeMessage(data, bits, this.maxPayload);
        }
      }
    }
    this.emit(data, binary, utf8, result);
  }

  /** defer holds a message decoded off the thread and adds the `decode` event that waits for it. */
  private defer(decoded: Promise<Buffer>, binary: boolean, result: ReceiveResult): void {
    const pending: PendingDecode = { binary, settled: false, data: undefined, error: undefined };
    this.decoding = pending;
    const done = decoded.then(
      (data) => {
        pending.data = data;
        pending.settled = true;
      },
      (error: unknown) => {
        pending.error = error;
        pending.settled = true;
      },
    );
    result.events.push({ type: 'decode', done });
  }

  /** emit checks a decoded message's size and text and adds its event. */
  private emit(data: Buffer, binary: boolean, utf8: Utf8Validator | undefined, result: ReceiveResult): void {
    if (data.length > this.maxPayload)
      throw new PayloadTooBigError({ size: data.length, limit: this.maxPayload });
    if (!binary && (this.bits & SKIP_UTF8) === 0) {
      // RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
      // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_."
      const valid = utf8 !== undefined ? utf8.end() : isValidUtf8(data);
      if (!valid) throw new InvalidUtf8Error('text message');
    }
    result.events.push({ type: 'message', binary, data });
  }

  private handleClose(payload: Buffer, result: ReceiveResult): void {
    let code = 1005;
    let reason = '';
    if (payload.length === 1) {
      throw new ProtocolError({
        code: 'DUPLEX_INVALID_CLOSE_PAYLOAD',
        message: 'close frame payload of 1 byte',
      });
    }
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      // RFC 6455 7.4: codes outside the defined and registered ranges are a protocol error.
      if (!isValidWireCloseCode(code)) {
        throw new ProtocolError({ code: 'DUPLEX_INVALID_CLOSE_CODE', message: `invalid close code ${code}` });
      }
      const raw = payload.subarray(2);
      if ((this.bits & SKIP_UTF8) === 0 && !isValidUtf8(raw)) throw new InvalidUtf8Error('close reason');
      reason = raw.toString('utf8');
    }
    const closeSent = this.phase !== Phase.OPEN;
    this.phase = Phase.CLOSED;
    this.outcome ??= { code, reason, wasClean: true };
    result.events.push({ type: 'close', code, reason });
    if (!closeSent) {
      // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a
      // Close frame, the endpoint MUST send a Close frame in response. ... It SHOULD do so as
      // soon as practical. ... the endpoint typically echos the status code it received."
      result.output.push(...this.frame(Opcode.CLOSE, code === 1005 ? EMPTY : payload.subarray(0, 2)));
    }
  }

  /**
   * failInto is the one place that decides the close code of a failure: the code a
   * ProtocolError (or another DuplexError) carries, 1011 for anything else and for every
   * fault the caller names as internal (`internal`, see failInternal): an internal error,
   * whose text never goes to the peer.
   */
  private failInto(e: unknown, result: ReceiveResult, internal?: string): void {
    const error =
      internal === undefined && e instanceof ProtocolError
        ? e
        : internal === undefined && e instanceof DuplexError && e.closeCode !== undefined
          ? new ProtocolError({ code: e.code, message: e.message, closeCode: e.closeCode })
          : new ProtocolError({
              code: 'DUPLEX_INTERNAL_ERROR',
              message: `internal error: ${internal ?? (e as Error)?.message ?? String(e)}`,
              closeCode: 1011,
              cause: e,
            });
    const code = error.closeCode ?? 1002;
    const closeSent = this.phase !== Phase.OPEN;
    // A peer's close frame, once received, stays received (only our echo of it can fail here).
    if (this.phase !== Phase.CLOSED) this.phase = Phase.FAILED;
    this.bits |= FAILED;
    this.message = undefined;
    this.decoding = undefined;
    if (this.outcome === undefined || this.outcome.wasClean)
      this.outcome = { code, reason: '', wasClean: false };
    result.events.push({ type: 'error', error });
    if (!closeSent) {
      // Internal error text never goes to the peer; protocol errors say what the peer did wrong.
      const reason = code === 1011 ? '' : error.message;
      result.output.push(...this.frame(Opcode.CLOSE, closePayload(code, reason, true)));
    }
  }

  /** sendText returns the frames of a text message. A Buffer argument must already hold UTF-8. */
  sendText(data: string | Buffer, options?: SendOptions): Buffer[] {
    return this.sendMessage(Opcode.TEXT, toBuffer(data), options);
  }

  /** sendBinary returns the frames of a binary message. */
  sendBinary(data: Uint8Array, options?: SendOptions): Buffer[] {
    return this.sendMessage(Opcode.BINARY, toBuffer(data), options);
  }

  private sendMessage(opcode: number, payload: Buffer, options: SendOptions | undefined): Buffer[] {
    this.assertOpen();
    if (options === undefined || (options.fin !== false && options.compress !== false && !this.fragmenting)) {
      return this.encode(opcode, payload);
    }
    const fin = options.fin !== false;
    if (this.fragmenting || !fin) {
      // RFC 6455 5.4: a fragmented message is its first frame's type, then continuation
      // frames; only the last one has FIN set. Its fragments are sent uncompressed (RFC 7692
      // 6.1 lets any message go out without RSV1), so no frame waits for later data.
      const first = !this.fragmenting;
      this.bits = fin ? this.bits & ~SENDING_FRAGMENTS : this.bits | SENDING_FRAGMENTS;
      return serializeFrame({
        opcode: first ? opcode : Opcode.CONTINUATION,
        payload,
        fin,
        maskKey: this.maskKey?.(),
      });
    }
    return serializeFrame({ opcode, payload, maskKey: this.maskKey?.() });
  }

  /** fragmenting tells whether a message sent with `fin: false` still waits for its last fragment. */
  get fragmenting(): boolean {
    return (this.bits & SENDING_FRAGMENTS) !== 0;
  }

  /**
   * sendData returns the frames of a data message, or a Promise of them when the one
   * negotiated extension encodes it off the caller's thread (a large message:
   * Extension#encodeMessageAsync). The connection's state moves on at the call, so the
   * frames of later calls (data, ping, close) belong after these on the wire: the caller
   * writes in call order. The Promise rejects only on an internal error.
   */
  sendData(data: string | Uint8Array, binary: boolean): Buffer[] | Promise<Buffer[]> {
    this.assertOpen();
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    const payload = toBuffer(data);
    const only = this.extensions.length === 1 ? this.extensions[0] : undefined;
    if (only?.encodeMessageAsync === undefined) return this.encode(opcode, payload);
    const encoded = only.encodeMessageAsync(payload, binary);
    if (encoded instanceof Promise) {
      return encoded.then((e) =>
        serializeFrame({ opcode, payload: e.payload, rsv: e.rsv, maskKey: this.maskKey?.() }),
      );
    }
    return serializeFrame({ opcode, payload: encoded.payload, rsv: encoded.rsv, maskKey: this.maskKey?.() });
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
    if (this.phase !== Phase.OPEN) return [];
    this.phase = Phase.CLOSING;
    return this.frame(Opcode.CLOSE, payload);
  }

  /**
   * abandon closes the connection because this side dropped data the application asked it
   * to send (the transport's send-buffer limit): the close frame goes out as with `close`
   * (none if one already did), and the close is reported with this code and reason and
   * wasClean false, whatever the peer answers.
   */
  abandon(code: number, reason: string): Buffer[] {
    if (this.outcome === undefined || this.outcome.wasClean) this.outcome = { code, reason, wasClean: false };
    return this.close(code, reason);
  }

  private assertOpen(): void {
    if (this.phase !== Phase.OPEN || (this.bits & EOF_RECEIVED) !== 0) {
      throw new InvalidStateError(`cannot send: the connection is ${this.closeSent ? 'closing' : 'closed'}`);
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
