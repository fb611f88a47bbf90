import { Opcode, serializeFrame } from '../protocol/index.js';

/** PrepareOptions chooses the message type of a prepared message. */
export interface PrepareOptions {
  /** Send as binary. @default false for a string, true for anything else */
  binary?: boolean;
}

/** PreparableData is what `prepareMessage` accepts: a string is UTF-8 encoded once. */
export type PreparableData = string | Buffer | ArrayBuffer | ArrayBufferView;

/**
 * PreparedMessage is one message serialized once as an unmasked, uncompressed server
 * frame, so that it can be written to many sockets without re-framing (DESIGN: "Broadcast
 * writes one serialized frame to many sockets"). It is immutable: the same Buffers go to
 * every recipient. Recipients that cannot take the frame as is (a client socket, which must
 * mask each frame, or a socket with a negotiated extension) get `data` sent the usual way.
 */
export class PreparedMessage {
  /** binary tells whether the message goes out as binary (else text). */
  readonly binary: boolean;
  /** data is the payload (UTF-8 bytes for text). */
  readonly data: Buffer;
  /** frames are the wire bytes of the frame, header and payload, to write in order. */
  readonly frames: readonly Buffer[];

  constructor(data: Buffer, binary: boolean) {
    this.binary = binary;
    this.data = data;
    this.frames = serializeFrame({ opcode: binary ? Opcode.BINARY : Opcode.TEXT, payload: data });
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
  return new PreparedMessage(bytes, binary);
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
