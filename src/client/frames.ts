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
