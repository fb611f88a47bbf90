/**
 * frames is the WebSocket framing of the raw load generators (bench/load.ts,
 * bench/deflate-load.ts, bench/churn.ts), which talk RFC 6455 over node:net sockets with no
 * WebSocket library: `clientFrame` builds the frames they send (built once and reused where
 * the payload allows), `ServerFrameReader` walks the frames servers send back without copying
 * payloads, and `upgradeRequest` / `responseHead` are the opening handshake around them.
 */
import { randomFillSync } from 'node:crypto';

/** ClientFrameOptions are the bits of a client frame besides its opcode and payload. */
export interface ClientFrameOptions {
  /**
   * Mask the payload with a fresh random key. RFC 6455 5.3: "The masking key is a 32-bit value
   * chosen at random by the client." Off only for the node:net floor (`load --raw`). @default true
   */
  masked?: boolean;
  /** Set RSV1: the payload is a compressed permessage-deflate message (RFC 7692 6). @default false */
  compressed?: boolean;
}

/** clientFrame builds one final frame (FIN set) carrying `payload`, masked unless told otherwise. */
export function clientFrame(opcode: number, payload: Buffer, options: ClientFrameOptions = {}): Buffer {
  const masked = options.masked ?? true;
  const length = payload.length;
  const start = (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
  const out = Buffer.alloc(start + length);
  out[0] = 0x80 | (options.compressed ? 0x40 : 0) | opcode;
  const m = masked ? 0x80 : 0;
  if (length < 126) out[1] = m | length;
  else if (length < 0x10000) {
    out[1] = m | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = m | 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!masked) {
    payload.copy(out, start);
    return out;
  }
  const key = start - 4;
  randomFillSync(out, key, 4);
  for (let i = 0; i < length; i++) out[start + i] = payload[i]! ^ out[key + (i & 3)]!;
  return out;
}

/** MessageSink is what a ServerFrameReader tells its connection, message by message. */
export interface MessageSink {
  /** messageStart: a data message begins, with its first frame's opcode and RSV1 bit. */
  messageStart(opcode: number, rsv1: boolean): void;
  /** messageData: `chunk[start, end)` is the next part of the message's payload (a view, not a copy). */
  messageData(chunk: Buffer, start: number, end: number): void;
  /** messageEnd: the final frame ended: `length` payload bytes, `wire` bytes of frames (headers too). */
  messageEnd(length: number, wire: number): void;
  /** closeFrame: the server sent a close frame; the reader reads nothing after it. */
  closeFrame(): void;
  /** protocolError: a frame header breaks the rules the reader checks; the reader stops. */
  protocolError(why: string): void;
}

/**
 * ServerFrameReader walks the frames a server sends, chunk by chunk: partial headers and
 * payloads wait for the next chunk. It checks that frames are unmasked (RFC 6455 5.1: "A server
 * MUST NOT mask any frames that it sends to the client") and that no RSV bit is set but RSV1
 * where `compressed` allows it; control frames other than close are skipped (a ping gets no
 * pong: runs are far shorter than any heartbeat).
 */
export class ServerFrameReader {
  private readonly hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private inPayload = false;
  private need = 0;
  private fin = false;
  private control = false;
  private stopped = false;
  private length = 0;
  private wire = 0;
  private readonly rsvMask: number;
  private readonly rsvError: string;

  constructor(
    private readonly sink: MessageSink,
    options: { compressed?: boolean } = {},
  ) {
    this.rsvMask = options.compressed ? 0x30 : 0x70;
    this.rsvError = options.compressed
      ? 'RSV2/3 or mask on a server frame'
      : 'RSV bit or mask on a server frame';
  }

  /** stop ends the reading: the connection failed, the rest of its bytes do not matter. */
  stop(): void {
    this.stopped = true;
  }

  /** push reads the server's bytes in `chunk` from `start` to `end`. */
  push(chunk: Buffer, start = 0, end = chunk.length): void {
    const n = end;
    let pos = start;
    while (pos < n && !this.stopped) {
      if (this.inPayload) {
        const take = Math.min(this.need, n - pos);
        if (!this.control && take > 0) {
          this.length += take;
          this.wire += take;
          this.sink.messageData(chunk, pos, pos + take);
        }
        pos += take;
        this.need -= take;
        if (this.need === 0) this.endFrame();
        continue;
      }
      while (this.hdrLen < 2 && pos < n) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < 2) return;
      const b1 = this.hdr[1]!;
      const len7 = b1 & 0x7f;
      const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      while (this.hdrLen < size && pos < n) this.hdr[this.hdrLen++] = chunk[pos++]!;
      if (this.hdrLen < size) return;
      const b0 = this.hdr[0]!;
      if ((b0 & this.rsvMask) !== 0 || (b1 & 0x80) !== 0) {
        this.stopped = true;
        this.sink.protocolError(this.rsvError);
        return;
      }
      const length =
        len7 === 126 ? this.hdr.readUInt16BE(2) : len7 === 127 ? Number(this.hdr.readBigUInt64BE(2)) : len7;
      const opcode = b0 & 0x0f;
      this.hdrLen = 0;
      this.fin = (b0 & 0x80) !== 0;
      this.control = opcode >= 8;
      if (opcode === 8) {
        this.stopped = true;
        this.sink.closeFrame();
        return;
      }
      if (!this.control) {
        if (opcode !== 0) {
          this.length = 0;
          this.wire = 0;
          this.sink.messageStart(opcode, (b0 & 0x40) !== 0);
        }
        this.wire += size;
      }
      this.inPayload = true;
      this.need = length;
      if (length === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    this.inPayload = false;
    if (!this.control && this.fin) this.sink.messageEnd(this.length, this.wire);
  }
}

/** UpgradeTarget is what an opening handshake asks for besides host and port. */
export interface UpgradeTarget {
  /** The request target: path and query. @default '/' */
  path?: string;
  /** The subprotocol offered in Sec-WebSocket-Protocol (the hub's `duplex.v1`); none when undefined. */
  protocol?: string;
}

/**
 * upgradeRequest is the opening handshake request (RFC 6455 4.1) for ws://host:port/ (or the
 * target's path) with a fresh random key, offering `extensions` and the target's subprotocol
 * when given.
 */
export function upgradeRequest(
  host: string,
  port: number,
  extensions?: string,
  target: UpgradeTarget = {},
): string {
  return (
    `GET ${target.path ?? '/'} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomFillSync(Buffer.alloc(16)).toString('base64')}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`}` +
    `${target.protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${target.protocol}\r\n`}\r\n`
  );
}

/** ResponseHead is the server's answer to the opening handshake. */
export interface ResponseHead {
  /** The status line, e.g. `HTTP/1.1 101 Switching Protocols`. */
  statusLine: string;
  /** Whether the server switched to WebSocket (status 101). */
  switched: boolean;
  /** The Sec-WebSocket-Extensions header's value, undefined when the server sent none. */
  extensions: string | undefined;
  /** The Sec-WebSocket-Protocol header's value (the subprotocol chosen), undefined when none. */
  protocol: string | undefined;
  /** The bytes after the head: the server's first frames. */
  rest: Buffer;
}

/** responseHead parses the response head at the start of `received`; undefined while it is incomplete. */
export function responseHead(received: Buffer): ResponseHead | undefined {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const text = received.toString('latin1', 0, end);
  return {
    statusLine: text.split('\r\n')[0] ?? '',
    switched: text.startsWith('HTTP/1.1 101'),
    extensions: /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(text)?.[1],
    protocol: /\r\nsec-websocket-protocol:\s*([^\r]*)/i.exec(text)?.[1]?.trim(),
    rest: received.subarray(end + 4),
  };
}
