import { constants as bufferConstants } from 'node:buffer';
import {
  deflateRaw,
  deflateRawSync,
  inflateRaw,
  inflateRawSync,
  type ZlibOptions,
  constants as zlibConstants,
} from 'node:zlib';
import { CompressionGate, pays } from './compression-gate.js';
import type { Role } from './connection.js';
import {
  acceptDeflateResponse,
  type DeflateParams,
  negotiateDeflate,
  offerDeflate,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from './deflate-negotiation.js';
import { PayloadTooBigError, ProtocolError } from './errors.js';
import type { EncodedMessage, Extension, ExtensionFactory } from './extension.js';
import { parseExtensionHeader } from './extension-header.js';
import { SlidingWindow } from './sliding-window.js';

/** RFC 7692 7.2.1 / 7.2.2: the tail of an empty stored block left by a sync flush. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);
const RSV1 = 0x40;
/**
 * Most history our compressor uses as its preset dictionary, whatever the negotiated
 * window. Every message with context takeover pays for hashing the dictionary, so a
 * smaller one is faster; on JSON-like traffic 8 KiB compresses as well as 32 KiB
 * (docs/design/permessage-deflate.md has the figures). The peer's decompressor keeps its
 * whole window, so it reads our back-references all the same.
 */
const COMPRESS_HISTORY = 8 * 1024;
/** Inflating always uses the largest window: it exists only during the call, and it reads any peer's data. */
const INFLATE_WINDOW_BITS = 15;
/**
 * zlib's output block on the thread-pool path. Each block full is one trip back to the
 * event loop, and one job of the thread pool: bigger blocks mean fewer trips but longer
 * jobs, which on a busy core delay the event loop more. Measured with bench/deflate-stall.ts
 * (16 MiB JSON, server pinned to one CPU): event-loop delay p99 7.7 ms at 16 KiB, 5.7-9.9 ms
 * at 64 KiB, 12.4 ms at 256 KiB, 22.4 ms at 1 MiB; 64 KiB also echoed the most.
 */
const ASYNC_CHUNK = 64 * 1024;
/** An incoming message counts its compressed size times this against asyncThreshold. */
const INFLATE_ESTIMATE = 8;

/** PerMessageDeflateInit is what a PerMessageDeflate is made of; deflateFactory makes one from a handshake. */
export interface PerMessageDeflateInit {
  /** role is our side: it decides which of the negotiated parameters apply to what we compress and what we inflate. */
  role: Role;
  /** params are the parameters both sides agreed on in the handshake (negotiateDeflate, acceptDeflateResponse). */
  params: DeflateParams;
  /** options are the local settings (level, memLevel, threshold, skipIncompressible, asyncThreshold); each has its default. */
  options?: PerMessageDeflateOptions | undefined;
}

/**
 * PerMessageDeflate is the Extension a Connection uses once permessage-deflate (RFC 7692)
 * was negotiated. All zlib work is synchronous, one message at a time, on the caller's
 * thread: zlib's one-shot calls do each message, and context takeover is kept as a plain
 * copy of the last window of plaintext (a SlidingWindow per direction) handed to zlib as a
 * preset dictionary. So a connection holds no zlib stream between messages, only its
 * history buffers (docs/design/permessage-deflate.md).
 */
export class PerMessageDeflate implements Extension {
  readonly name = PERMESSAGE_DEFLATE;
  readonly rsvBits = RSV1;
  /**
   * sharedEncodingKey is equal for every PerMessageDeflate whose encodeMessage gives bytes
   * that every other one could have sent for the same message whatever was sent before (no
   * context takeover on our side, same window, level, memLevel, threshold and
   * skipIncompressible; whether a message is compressed may depend on the messages before
   * it, but either way any peer with these parameters reads it), and undefined with context
   * takeover: broadcast encodes once per key and writes that frame to every recipient.
   */
  readonly sharedEncodingKey: string | undefined;
  readonly params: DeflateParams;
  private readonly options: ResolvedDeflateOptions;
  /** The window of what we compress; 8 means we never compress (see encodeMessage). */
  private readonly outBits: number;
  /** History of what we compressed, for context takeover; undefined without it. */
  private readonly outHistory: SlidingWindow | undefined;
  /** History of what the peer compressed, for its context takeover; undefined without it. */
  private readonly inHistory: SlidingWindow | undefined;
  /** Whether to compress each message (skipIncompressible); undefined when every message is. */
  private readonly gate: CompressionGate | undefined;

  constructor({ role, params, options }: PerMessageDeflateInit) {
    this.params = { ...params };
    this.options = resolveDeflateOptions(options);
    const server = role === 'server';
    this.outBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    const inBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    const outTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    const inTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.outHistory =
      outTakeover && this.outBits > 8
        ? new SlidingWindow(Math.min(1 << this.outBits, COMPRESS_HISTORY))
        : undefined;
    this.inHistory = inTakeover ? new SlidingWindow(1 << inBits) : undefined;
    this.gate = this.options.skipIncompressible ? new CompressionGate() : undefined;
    const { level, memLevel, threshold, skipIncompressible } = this.options;
    this.sharedEncodingKey = outTakeover
      ? undefined
      : this.outBits === 8
        ? `${PERMESSAGE_DEFLATE};plain`
        : `${PERMESSAGE_DEFLATE};w=${this.outBits};l=${level};m=${memLevel};t=${threshold};s=${skipIncompressible ? 1 : 0}`;
  }

  /**
   * decodeMessage inflates a message whose first frame had RSV1 set. RFC 7692 7.2.2: "1.
   * Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the message.
   * 2. Decompress the resulting data using DEFLATE." zlib stops producing output past
   * `maxPayload` bytes (PayloadTooBigError, 1009); data that is not DEFLATE fails with
   * DUPLEX_DEFLATE_INVALID_DATA (1007).
   */
  decodeMessage(payload: Buffer, _rsv: number, maxPayload: number): Buffer {
    // An empty payload is no DEFLATE data at all; RFC 7692 7.2.3.6 writes an empty message
    // as 0x00, but some peers send nothing, and the result is the same empty message.
    if (payload.length === 0) return EMPTY;
    let out: Buffer;
    try {
      out = inflateRawSync(Buffer.concat([payload, TAIL]), this.inflateOptions(maxPayload));
    } catch (e) {
      throw inflateError(e, maxPayload);
    }
    return this.inflated(out, maxPayload);
  }

  /**
   * decodeMessageAsync is decodeMessage on zlib's thread pool for a message whose
   * compressed size times 8 reaches `asyncThreshold`, synchronous below. zlib stops at
   * `maxPayload` bytes of output there too.
   */
  decodeMessageAsync(payload: Buffer, rsv: number, maxPayload: number): Buffer | Promise<Buffer> {
    if (payload.length === 0 || payload.length * INFLATE_ESTIMATE < this.options.asyncThreshold)
      return this.decodeMessage(payload, rsv, maxPayload);
    const input = Buffer.concat([payload, TAIL]);
    return new Promise((resolve, reject) => {
      inflateRaw(input, { ...this.inflateOptions(maxPayload), chunkSize: ASYNC_CHUNK }, (e, out) => {
        if (e) reject(inflateError(e, maxPayload));
        else {
          try {
            resolve(this.inflated(out, maxPayload));
          } catch (e2) {
            reject(e2);
          }
        }
      });
    });
  }

  private inflateOptions(maxPayload: number): ZlibOptions {
    return {
      windowBits: INFLATE_WINDOW_BITS,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      // zlib stops once its output passes maxOutputLength, so a bomb costs at most
      // maxPayload bytes plus one output chunk.
      maxOutputLength: Math.min(Math.max(maxPayload, 1), bufferConstants.MAX_LENGTH),
      ...(this.inHistory?.bytes ? { dictionary: this.inHistory.bytes } : {}),
    };
  }

  /** inflated checks an inflated message's size and adds it to the peer's history. */
  private inflated(out: Buffer, maxPayload: number): Buffer {
    if (out.length > maxPayload) throw new PayloadTooBigError({ size: out.length, limit: maxPayload });
    this.inHistory?.push(out);
    return compact(out);
  }

  /**
   * encodeMessage compresses a data message and marks it with RSV1, or returns it as is
   * (RSV1 clear, always allowed by RFC 7692 6) when it is under `threshold`, when our
   * window is 8, or when compressing it does not pay (skipIncompressible: the
   * CompressionGate predicts no gain, or the result saves less than 1/16). RFC 7692 7.2.1:
   * "1. Compress all the octets of the payload of the message using DEFLATE. 2. If the
   * resulting data does not end with an empty DEFLATE block with no compression (the
   * "BTYPE" bits are set to 00), append an empty DEFLATE block with no compression to the
   * tail end. 3. Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
   */
  encodeMessage(payload: Buffer, _binary: boolean): EncodedMessage {
    const plan = this.plan(payload);
    if (plan === 'plain') return { payload, rsv: 0 };
    // A sync flush ends the output with the empty stored block 00 00 ff ff (step 2).
    const out = deflateRawSync(payload, this.deflateOptions(this.outHistory?.bytes));
    return this.deflated(payload, out, plan === 'probe', true);
  }

  /**
   * encodeMessageAsync is encodeMessage on zlib's thread pool for a message of
   * `asyncThreshold` bytes or more, synchronous below. Such a message is committed to the
   * context before it is compressed (later messages refer to it), so it goes out compressed
   * even when that does not pay.
   */
  encodeMessageAsync(payload: Buffer, binary: boolean): EncodedMessage | Promise<EncodedMessage> {
    if (payload.length < this.options.asyncThreshold) return this.encodeMessage(payload, binary);
    const plan = this.plan(payload);
    if (plan === 'plain') return { payload, rsv: 0 };
    const history = this.outHistory?.bytes;
    // The history moves on now; zlib reads its own copy of the dictionary later.
    const options = { ...this.deflateOptions(history && Buffer.from(history)), chunkSize: ASYNC_CHUNK };
    this.outHistory?.push(payload);
    return new Promise((resolve, reject) => {
      deflateRaw(payload, options, (e, out) => {
        if (e) reject(e);
        else resolve(this.deflated(payload, out, plan === 'probe', false));
      });
    });
  }

  /** plan tells how to send `payload`: 'plain', or compressed ('compress', 'probe': see CompressionGate). */
  private plan(payload: Buffer): 'plain' | 'compress' | 'probe' {
    // zlib cannot deflate with a 256-byte window: it would use 512 bytes, and a peer that
    // asked for 8 may keep only 256. Uncompressed messages are always allowed.
    if (payload.length < this.options.threshold || this.outBits === 8) return 'plain';
    const admitted = this.gate?.admit(payload) ?? 'compress';
    return admitted === 'skip' ? 'plain' : admitted;
  }

  private deflateOptions(dictionary: Buffer | undefined): ZlibOptions {
    return {
      windowBits: this.outBits,
      level: this.options.level,
      memLevel: this.options.memLevel,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      ...(dictionary ? { dictionary } : {}),
    };
  }

  /**
   * deflated turns zlib's output into the message to send: compressed (and, when `mayRefuse`,
   * only if that pays; then the message joins our history) or the plain payload.
   */
  private deflated(payload: Buffer, out: Buffer, probe: boolean, mayRefuse: boolean): EncodedMessage {
    const body = out.subarray(0, out.length - TAIL.length);
    if (this.gate !== undefined) {
      this.gate.record(payload, body.length, probe);
      // Not compressed, not part of the context (RFC 7692 7.1.1): the peer never sees it as such.
      if (mayRefuse && !pays(payload.length, body.length)) return { payload, rsv: 0 };
    }
    if (mayRefuse) this.outHistory?.push(payload);
    return { payload: compact(body), rsv: RSV1 };
  }
}

/**
 * deflateFactory is permessage-deflate as an ExtensionFactory with `options`: the client's
 * offer (offerDeflate), the server's choice (negotiateDeflate), the client's check of the
 * response (acceptDeflateResponse), and a PerMessageDeflate for each connection. The options
 * are checked here, once (InvalidArgumentError DUPLEX_INVALID_OPTION).
 */
export function deflateFactory(options: PerMessageDeflateOptions = {}): ExtensionFactory {
  resolveDeflateOptions(options);
  return {
    name: PERMESSAGE_DEFLATE,
    offer: () => parseExtensionHeader(offerDeflate(options)),
    accept(offers) {
      const agreed = negotiateDeflate(offers, options);
      if (agreed === undefined) return undefined;
      return {
        response: agreed.response,
        extension: new PerMessageDeflate({ role: 'server', params: agreed.params, options }),
      };
    },
    accepted: (response) =>
      new PerMessageDeflate({ role: 'client', params: acceptDeflateResponse(response, options), options }),
  };
}

/** inflateError maps a zlib failure to the error that fails the connection. */
function inflateError(e: unknown, maxPayload: number): unknown {
  const code = (e as { code?: unknown }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE')
    return new PayloadTooBigError({ size: maxPayload + 1, limit: maxPayload });
  if (typeof code === 'string' && code.startsWith('Z_')) {
    // RFC 7692 does not name a close code for data that does not inflate; 1007 is RFC
    // 6455's "data within a message that was not consistent with the type of the message".
    return new ProtocolError({
      code: 'DUPLEX_DEFLATE_INVALID_DATA',
      message: 'invalid compressed data',
      closeCode: 1007,
    });
  }
  return e;
}

/**
 * compact copies a small result out of the larger block zlib wrote it into (16 KiB per
 * output chunk), so that a queued 1 KiB frame or a 1 KiB message does not hold 16 KiB.
 */
function compact(data: Buffer): Buffer {
  return data.buffer.byteLength > 2 * data.length ? Buffer.from(data) : data;
}
