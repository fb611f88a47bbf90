import { Opcode, serializeFrame } from '../protocol/index.js';

/** PrepareOptions chooses the message type of a prepared message. */
export interface PrepareOptions {
  /** Send as binary. @default false for a string, true for anything else */
  binary?: boolean;
}

/** PreparableData is what `prepareMessage` accepts: a string is UTF-8 encoded once. */
export type PreparableData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** SharedEncoder serializes a message for every recipient with its shared encoding key (a Transport). */
export interface SharedEncoder {
  encodeShared(payload: Buffer, binary: boolean): Buffer[];
}

/**
 * PreparedMessage is one message serialized once per encoding, so that it can be written to
 * many sockets without re-framing or re-compressing (DESIGN: "Broadcast writes one
 * serialized frame to many sockets"): the unmasked, uncompressed server frame at once, and
 * the frame of each other shared encoding key (permessage-deflate without server context
 * takeover, per set of parameters) the first time a recipient with that key needs it. The
 * same Buffers go to every recipient with the same key. Recipients without a key (a client
 * socket, which must mask each frame, or a socket that compresses with context takeover)
 * get `data` sent the usual way, encoded for them alone.
 */
export class PreparedMessage {
  /** binary tells whether the message goes out as binary (else text). */
  readonly binary: boolean;
  /** data is the payload (UTF-8 bytes for text). */
  readonly data: Buffer;
  /** frames are the wire bytes of the plain frame, header and payload, to write in order. */
  readonly frames: readonly Buffer[];
  /** The frames of each shared encoding key met so far; '' is the plain frame. */
  readonly #encoded = new Map<string, readonly Buffer[]>();

  /**
   * Made by `prepareMessage`, which checks and converts the data: `data` is the payload
   * (UTF-8 bytes for text), `binary` whether it goes out as binary.
   */
  constructor({ data, binary }: { data: Buffer; binary: boolean }) {
    this.binary = binary;
    this.data = data;
    this.frames = serializeFrame({ opcode: binary ? Opcode.BINARY : Opcode.TEXT, payload: data });
    this.#encoded.set('', this.frames);
  }

  /**
   * framesFor returns the frames for recipients whose connection has the shared encoding key
   * `key`, serializing them with `encoder` (any recipient with that key) the first time.
   */
  framesFor(key: string, encoder: SharedEncoder): readonly Buffer[] {
    let frames = this.#encoded.get(key);
    if (frames === undefined) {
      frames = encoder.encodeShared(this.data, this.binary);
      this.#encoded.set(key, frames);
    }
    return frames;
  }

  /** byteLength is the size of the frame on the wire. */
  get byteLength(): number {
    let n = 0;
    for (const frame of this.frames) n += frame.length;
    return n;
  }
}

/**
 * prepareMessage serializes a message once for `WebSocket#sendPrepared` and
 * `WebSocketServer#broadcast`: encode once, fan out many times. A string is text unless
 * `binary` is set; anything else is binary unless `binary: false` (then it must hold UTF-8,
 * which is not re-checked). The payload Buffer is referenced, not copied, for frames over
 * 1 KiB: do not modify it while the message is in use.
 */
export function prepareMessage(data: PreparableData, options: PrepareOptions = {}): PreparedMessage {
  const binary = options.binary ?? typeof data !== 'string';
  let bytes: Buffer;
  if (typeof data === 'string') bytes = Buffer.from(data);
  else if (Buffer.isBuffer(data)) bytes = data;
  else if (ArrayBuffer.isView(data)) bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else if (data instanceof ArrayBuffer) bytes = Buffer.from(data);
  else throw new TypeError('prepareMessage needs a string, Buffer, ArrayBuffer or view');
  return new PreparedMessage({ data: bytes, binary });
}

/** BroadcastOptions configure `WebSocketServer#broadcast`. */
export interface BroadcastOptions extends PrepareOptions {
  /** A socket that must not receive the message (typically its sender). */
  except?: PreparedRecipient | undefined;
}

/** PreparedRecipient is what a broadcast writes to: a WebSocket. */
export interface PreparedRecipient {
  readonly readyState: number;
  sendPrepared(message: PreparedMessage): void;
}

/**
 * broadcastPrepared sends one prepared message to every open recipient but `except`, and
 * returns how many it was handed to. Each send goes through that socket's send-buffer
 * limit: a recipient whose buffer is over `maxBufferedAmount` is closed with 1008 instead of
 * queuing more, so a slow subscriber never blocks the publisher nor grows memory.
 */
export function broadcastPrepared(
  recipients: Iterable<PreparedRecipient>,
  message: PreparedMessage,
  except?: PreparedRecipient,
): number {
  let count = 0;
  for (const ws of recipients) {
    if (ws === except || ws.readyState !== 1) continue;
    ws.sendPrepared(message);
    count++;
  }
  return count;
}
