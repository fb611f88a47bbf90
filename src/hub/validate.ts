/**
 * validate turns a received text frame into a typed ClientMessage. Breaking the protocol's
 * framing rules (not JSON, not an object, no or an unknown `type`) is a ProtocolViolation
 * (close 1008); a known message with a bad field is a BadRequest (an `error` reply).
 */
import type { ClientMessage, JsonValue, StreamPosition } from '../wire/messages.js';

/** ProtocolViolation closes the connection with 1008. */
export class ProtocolViolation extends Error {}

/** BadRequest is answered with DUPLEX_HUB_BAD_REQUEST (with the request's id when it had a valid one). */
export class BadRequest extends Error {
  readonly id: number | undefined;
  constructor(id: number | undefined, message: string) {
    super(message);
    this.id = id;
  }
}

/** Deepest nesting accepted in `data` and `params`. */
export const MAX_DEPTH = 32;
const MAX_CHANNEL_BYTES = 256;
const MAX_KEY_BYTES = 128;
const MAX_EPOCH_LENGTH = 64;

const TYPES = new Set([
  'connect',
  'refresh',
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'history',
  'call',
  'cancel',
  'pong',
]);

/** CONTROL matches characters a channel name may not hold. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** channelError says what is wrong with a channel name, or undefined when it is fine. */
export function channelError(channel: unknown): string | undefined {
  if (typeof channel !== 'string' || channel.length === 0) return 'channel must be a non-empty string';
  if (Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) return `channel is over ${MAX_CHANNEL_BYTES} bytes`;
  if (CONTROL.test(channel)) return 'channel holds a control character';
  return undefined;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** depthOf tells whether a JSON value nests deeper than `max` (iteratively: no stack to blow). */
export function tooDeep(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function position(id: number, value: unknown, field: string): StreamPosition | undefined {
  if (value === undefined) return undefined;
  const p = value as Partial<StreamPosition> | null;
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.offset !== 'number' ||
    !Number.isSafeInteger(p.offset) ||
    p.offset < 0 ||
    typeof p.epoch !== 'string' ||
    p.epoch.length > MAX_EPOCH_LENGTH
  ) {
    throw new BadRequest(id, `${field} must be {offset, epoch}`);
  }
  return { offset: p.offset, epoch: p.epoch };
}

function optionalString(id: number, m: Record<string, unknown>, field: string, maxBytes: number): void {
  const v = m[field];
  if (v === undefined) return;
  if (typeof v !== 'string' || Buffer.byteLength(v) > maxBytes) {
    throw new BadRequest(id, `${field} must be a string of at most ${maxBytes} bytes`);
  }
}

/** parseClientMessage parses and checks one text frame from a client. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolViolation('message is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolViolation('message is not a JSON object');
  }
  const m = value as Record<string, unknown>;
  const type = m.type;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new ProtocolViolation('unknown message type');
  if (type === 'pong') return { type };
  const id = m.id;
  if (!isId(id)) throw new BadRequest(undefined, `${type} needs an id, a positive integer`);
  switch (type) {
    case 'connect':
      optionalString(id, m, 'token', 16_384);
      optionalString(id, m, 'name', 256);
      optionalString(id, m, 'version', 256);
      return m as unknown as ClientMessage;
    case 'refresh':
      if (typeof m.token !== 'string') throw new BadRequest(id, 'refresh needs a token');
      return { type, id, token: m.token };
    case 'cancel':
      return { type, id };
    case 'call': {
      if (typeof m.method !== 'string' || m.method.length === 0 || m.method.length > 256) {
        throw new BadRequest(id, 'call needs a method name');
      }
      const t = m.timeoutMs;
      if (t !== undefined && (typeof t !== 'number' || !(t > 0))) {
        throw new BadRequest(id, 'timeoutMs must be a positive number');
      }
      if (tooDeep(m.params, MAX_DEPTH)) throw new BadRequest(id, `params nest deeper than ${MAX_DEPTH}`);
      return m as unknown as ClientMessage;
    }
    default:
      break;
  }
  const problem = channelError(m.channel);
  if (problem) throw new BadRequest(id, problem);
  const channel = m.channel as string;
  switch (type) {
    case 'subscribe': {
      const since = position(id, m.since, 'since');
      return since ? { type, id, channel, since } : { type, id, channel };
    }
    case 'unsubscribe':
    case 'presence':
      return { type, id, channel } as ClientMessage;
    case 'history': {
      const limit = m.limit;
      if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0)) {
        throw new BadRequest(id, 'limit must be an integer of 0 or more');
      }
      if (m.reverse !== undefined && typeof m.reverse !== 'boolean') {
        throw new BadRequest(id, 'reverse must be a boolean');
      }
      const since = position(id, m.since, 'since');
      return { type, id, channel, limit: limit as number | undefined, since, reverse: m.reverse === true };
    }
    case 'publish': {
      if (m.binary !== undefined && m.binary !== true)
        throw new BadRequest(id, 'binary must be true or absent');
      if (m.binary === true && m.data !== undefined) throw new BadRequest(id, 'a binary publish has no data');
      optionalString(id, m, 'idempotencyKey', MAX_KEY_BYTES);
      optionalString(id, m, 'conflationKey', MAX_KEY_BYTES);
      if (tooDeep(m.data, MAX_DEPTH)) throw new BadRequest(id, `data nests deeper than ${MAX_DEPTH}`);
      const msg: ClientMessage = { type, id, channel, data: (m.data ?? null) as JsonValue };
      if (m.binary === true) {
        msg.binary = true;
        delete msg.data;
      }
      if (m.idempotencyKey !== undefined) msg.idempotencyKey = m.idempotencyKey as string;
      if (m.conflationKey !== undefined) msg.conflationKey = m.conflationKey as string;
      return msg;
    }
    default:
      throw new ProtocolViolation('unknown message type');
  }
}
