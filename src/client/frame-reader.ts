import type { ServerMessage } from '../wire/messages.js';

/**
 * toBytes views binary data as a Uint8Array without copying: an ArrayBuffer (what a WebSocket
 * with binaryType 'arraybuffer' delivers) or any ArrayBuffer view. Undefined for anything else.
 */
export function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** parseServerMessage reads one text frame: a JSON object with a string `type`, or undefined. */
export function parseServerMessage(text: string): ServerMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return typeof (value as { type?: unknown }).type === 'string' ? (value as ServerMessage) : undefined;
}

/** randomKeyPrefix is 16 hex digits from the platform's crypto, or Math.random without one. */
export function randomKeyPrefix(): string {
  const bytes = new Uint8Array(8);
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.getRandomValues !== undefined) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Announced is a complete server message: its JSON and the binary frames announced with it. */
export type Announced = (message: ServerMessage, binaries: Uint8Array[]) => void;

/** announcedBinaries is how many binary frames follow a message (docs/protocol.md, Transport). */
function announcedBinaries(message: ServerMessage): number {
  if (message.type === 'pub') return message.binary === true ? 1 : 0;
  if (message.type === 'history' && Array.isArray(message.publications)) {
    return message.publications.filter((p) => p.binary === true).length;
  }
  return 0;
}

/**
 * FrameReader turns a connection's frames into messages: each text frame is one JSON message,
 * and a message that announces binary payloads (a binary `pub`, a `history` with binary
 * publications) is complete once that many binary frames followed it. `read` returns a
 * description of the hub's protocol violation, if the frame is one.
 */
export class FrameReader {
  #waiting: { message: ServerMessage; count: number; frames: Uint8Array[] } | undefined;

  constructor(readonly deliver: Announced) {}

  read(data: unknown): string | undefined {
    if (typeof data === 'string') {
      if (this.#waiting !== undefined) return 'a text frame came where a binary one was announced';
      const message = parseServerMessage(data);
      if (message === undefined) return 'a text frame that is not a JSON object with a type';
      const count = announcedBinaries(message);
      if (count === 0) this.deliver(message, []);
      else this.#waiting = { message, count, frames: [] };
      return undefined;
    }
    const bytes = toBytes(data);
    const waiting = this.#waiting;
    if (bytes === undefined) return 'binary data the client cannot read (binaryType ignored?)';
    if (waiting === undefined) return 'a binary frame nobody announced';
    waiting.frames.push(bytes);
    if (waiting.frames.length === waiting.count) {
      this.#waiting = undefined;
      this.deliver(waiting.message, waiting.frames);
    }
    return undefined;
  }

  /** reset forgets a partly read message (the connection is gone). */
  reset(): void {
    this.#waiting = undefined;
  }
}
