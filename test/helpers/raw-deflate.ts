/**
 * raw-deflate is the permessage-deflate (RFC 7692) side of raw-client.ts: a compressor and a
 * decompressor built on node:zlib streams that share no code with Duplex, and helpers to
 * read a whole (possibly fragmented, possibly compressed) message and to parse the
 * negotiated Sec-WebSocket-Extensions parameters from a response head.
 *
 * Stable API: `RawDeflater`, `RawInflater`, `TAIL`, `parseDeflateResponse(value)`,
 * `readMessage(socket)`, `windowProbe(bits)`, `bombPayload(bytes)`, `jsonLike(bytes)`.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { DEFAULT_TIMEOUT_MS, encodeFrames, type Frame, type FrameSocket, Op } from './raw-client.js';

/** TAIL is the end of a sync flush that RFC 7692 7.2.1 removes and 7.2.2 appends again. */
export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** DeflateSide configures one direction of compression. */
export interface DeflateSide {
  /** LZ77 window (8-15). zlib runs 8 as 9, whose reach is still within 256 bytes. @default 15 */
  windowBits?: number;
  /** Start from an empty context for every message. @default false */
  noContextTakeover?: boolean;
}

function run(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onError = (error: Error) => {
      stream.off('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * RawDeflater compresses messages as RFC 7692 7.2.1 says: DEFLATE, a sync flush, then the
 * trailing 0x00 0x00 0xff 0xff removed. It keeps its context across messages unless
 * `noContextTakeover`.
 */
export class RawDeflater {
  readonly #side: DeflateSide;
  #stream: zlib.DeflateRaw | undefined;

  constructor(side: DeflateSide = {}) {
    this.#side = side;
  }

  async compress(data: Buffer | string): Promise<Buffer> {
    const input = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.#side.noContextTakeover || this.#stream === undefined) {
      this.#stream?.close();
      this.#stream = zlib.createDeflateRaw({ windowBits: this.#side.windowBits ?? 15 });
    }
    const out = await run(this.#stream, input);
    if (!out.subarray(-4).equals(TAIL))
      throw new Error(`sync flush did not end with 00 00 ff ff: ${out.toString('hex')}`);
    return out.subarray(0, -4);
  }

  close(): void {
    this.#stream?.close();
  }
}

/**
 * RawInflater decompresses messages as RFC 7692 7.2.2 says: append 0x00 0x00 0xff 0xff and
 * inflate. With `strictWindow` its output chunks are 64 bytes, so that (nearly) every
 * back-reference is resolved through zlib's window of `windowBits`: data compressed with a
 * larger window than negotiated fails with "invalid distance too far back".
 */
export class RawInflater {
  readonly #side: DeflateSide & { strictWindow?: boolean };
  #stream: zlib.InflateRaw | undefined;

  constructor(side: DeflateSide & { strictWindow?: boolean } = {}) {
    this.#side = side;
  }

  async decompress(payload: Buffer): Promise<Buffer> {
    if (this.#side.noContextTakeover || this.#stream === undefined) {
      this.#stream?.close();
      this.#stream = zlib.createInflateRaw({
        windowBits: this.#side.windowBits ?? 15,
        ...(this.#side.strictWindow ? { chunkSize: 64 } : {}),
      });
    }
    return run(this.#stream, Buffer.concat([payload, TAIL]));
  }

  close(): void {
    this.#stream?.close();
  }
}

/** DeflateResponse is a parsed permessage-deflate response element. */
export interface DeflateResponse {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | undefined;
  /** Parameter names in the order they came, for "no duplicates, nothing unknown" checks. */
  names: string[];
}

/**
 * parseDeflateResponse reads one `permessage-deflate; a; b=1` element (no quoted values,
 * as a server sends it). Throws on anything else.
 */
export function parseDeflateResponse(value: string): DeflateResponse {
  const [name, ...params] = value.split(';').map((p) => p.trim());
  if (name !== 'permessage-deflate') throw new Error(`not a permessage-deflate response: ${value}`);
  const out: DeflateResponse = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
    names: [],
  };
  for (const param of params) {
    const [key = '', raw] = param.split('=').map((p) => p.trim());
    out.names.push(key);
    const bits = raw === undefined ? Number.NaN : Number(raw);
    switch (key) {
      case 'server_no_context_takeover':
        out.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        out.serverMaxWindowBits = bits;
        break;
      case 'client_max_window_bits':
        out.clientMaxWindowBits = bits;
        break;
      default:
        throw new Error(`unknown parameter ${key} in ${value}`);
    }
  }
  return out;
}

/** RawMessage is a whole message read from the wire. */
export interface RawMessage {
  opcode: number;
  /** RSV bits of the first frame. */
  rsv: number;
  /** The payloads of every frame, concatenated (still compressed when RSV1 was set). */
  payload: Buffer;
  frames: Frame[];
}

/**
 * readMessage reads frames until a data message is complete (control frames in between are
 * collected in `controls`), and checks RFC 7692 6.1: RSV1 only on the first frame.
 */
export async function readMessage(
  socket: FrameSocket,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  controls: Frame[] = [],
): Promise<RawMessage> {
  const deadline = Date.now() + timeoutMs;
  const frames: Frame[] = [];
  for (;;) {
    const frame = await socket.readFrame(Math.max(1, deadline - Date.now()));
    if (frame.opcode >= 0x8) {
      if (frame.rsv !== 0) throw new Error(`control frame with RSV bits ${frame.rsv}`);
      controls.push(frame);
      if (frame.opcode === Op.CLOSE) {
        throw new Error(
          `close frame (code ${frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : '-'}) instead of a message`,
        );
      }
      continue;
    }
    if (frames.length === 0 && frame.opcode === Op.CONTINUATION) throw new Error('continuation frame first');
    if (frames.length > 0 && frame.opcode !== Op.CONTINUATION) throw new Error('data frame inside a message');
    if (frames.length > 0 && frame.rsv !== 0)
      throw new Error(`continuation frame with RSV bits ${frame.rsv}`);
    frames.push(frame);
    if (frame.fin) break;
  }
  const first = frames[0] as Frame;
  return {
    opcode: first.opcode,
    rsv: first.rsv,
    payload: Buffer.concat(frames.map((f) => f.payload)),
    frames,
  };
}

/**
 * windowProbe is binary data whose only repetitions sit at distances just above 2^k for k
 * from `bits` to 14: a compressor that keeps to a window of 2^bits finds none of them,
 * one with a larger window refers back past what the receiver keeps.
 */
export function windowProbe(bits: number): Buffer {
  const parts: Buffer[] = [];
  // Random hex, not random bytes: bytes that look random are sent uncompressed
  // (skipIncompressible), and the probe is about the window of compressed echoes.
  const hex = (n: number): Buffer =>
    Buffer.from(
      randomBytes(Math.ceil(n / 2))
        .toString('hex')
        .slice(0, n),
    );
  for (let k = bits; k <= 14; k++) {
    const repeated = hex(258);
    parts.push(repeated, hex(2 ** k + 100), repeated);
  }
  parts.push(Buffer.from('end of probe '.repeat(100)));
  return Buffer.concat(parts);
}

/** jsonLike is `bytes` bytes of compressible JSON-looking ASCII text. */
export function jsonLike(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) {
    out += `{"id":${i},"user":"user-${i % 97}","text":"message number ${i} e","tags":["a","b"]},`;
  }
  return out.slice(0, bytes);
}

/**
 * bombPayload is a compressed message (RFC 7692 7.2.1 form) of `bytes` zero bytes, built
 * by streaming 1 MiB at a time so the test process never holds the inflated data.
 */
export async function bombPayload(bytes: number): Promise<Buffer> {
  const stream = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const block = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= block.length) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    if (!stream.write(piece)) await new Promise<void>((resolve) => stream.once('drain', resolve));
  }
  await new Promise<void>((resolve) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  stream.close();
  const out = Buffer.concat(chunks);
  return out.subarray(0, -4);
}

/** DeflateClientOptions shape the raw client's own compression. */
export interface DeflateClientOptions {
  /** Inflate the server's messages with 64-byte output chunks (see RawInflater). @default false */
  strictWindow?: boolean;
}

/**
 * DeflateSession is a raw client after a handshake that negotiated permessage-deflate: it
 * compresses what it sends with the client parameters of the response and inflates what it
 * receives with the server parameters, each with or without context takeover as agreed.
 */
export class DeflateSession {
  readonly socket: FrameSocket;
  readonly params: DeflateResponse;
  readonly deflater: RawDeflater;
  readonly inflater: RawInflater;

  /** `offeredClientBits` is the client_max_window_bits value we offered, if any (our own limit). */
  constructor(
    socket: FrameSocket,
    params: DeflateResponse,
    offeredClientBits?: number,
    options: DeflateClientOptions = {},
  ) {
    this.socket = socket;
    this.params = params;
    this.deflater = new RawDeflater({
      windowBits: Math.min(params.clientMaxWindowBits ?? 15, offeredClientBits ?? 15),
      noContextTakeover: params.clientNoContextTakeover,
    });
    this.inflater = new RawInflater({
      windowBits: params.serverMaxWindowBits ?? 15,
      noContextTakeover: params.serverNoContextTakeover,
      strictWindow: options.strictWindow ?? false,
    });
  }

  /**
   * sendCompressed writes one compressed message: RSV1 on the first frame only, the
   * compressed payload split into `fragments` frames (RFC 7692 6.1).
   */
  async sendCompressed(opcode: number, data: Buffer | string, fragments = 1): Promise<Buffer> {
    const compressed = await this.deflater.compress(data);
    await this.socket.send(fragmentFrames(opcode, compressed, fragments, 0x40));
    return compressed;
  }

  /** receive reads one message and inflates it when RSV1 is set. */
  async receive(
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<{ opcode: number; compressed: boolean; data: Buffer; message: RawMessage }> {
    const message = await readMessage(this.socket, timeoutMs);
    if (message.rsv & 0x30) throw new Error(`server set RSV2/RSV3: ${message.rsv}`);
    const compressed = (message.rsv & 0x40) !== 0;
    const data = compressed ? await this.inflater.decompress(message.payload) : message.payload;
    return { opcode: message.opcode, compressed, data, message };
  }

  close(): void {
    this.deflater.close();
    this.inflater.close();
  }
}

/**
 * fragmentFrames encodes `payload` as a message of `fragments` masked client frames, the
 * first with opcode and `rsv`, the others continuations without RSV bits.
 */
export function fragmentFrames(opcode: number, payload: Buffer, fragments: number, rsv: number): Buffer {
  const size = Math.ceil(payload.length / fragments);
  const specs = [];
  for (let i = 0; i < fragments; i++) {
    specs.push({
      opcode: i === 0 ? opcode : Op.CONTINUATION,
      rsv: i === 0 ? rsv : 0,
      fin: i === fragments - 1,
      payload: payload.subarray(i * size, Math.min(payload.length, (i + 1) * size)),
    });
  }
  return encodeFrames(specs);
}
