/**
 * hub-wire is what bench/hub-load.ts says to the two real-time servers of the hub benchmark,
 * written by hand over raw WebSocket frames (bench/lib/frames.ts), no client library:
 *
 * - `duplex`: the hub's protocol duplex.v1 (docs/protocol.md): JSON text frames under the
 *   subprotocol `duplex.v1` at the hub's path; `connect` -> `connected`, `subscribe` ->
 *   `subscribed`, `publish` -> `published`, `pub` pushes, `ping` -> `pong`.
 * - `socketio`: Socket.IO 4 (engine.io protocol 4) over the websocket transport only:
 *   `GET /socket.io/?EIO=4&transport=websocket`, the server's open packet `0{...}`, the
 *   client's namespace connect `40` answered by `40{...}`, events `42["event",...]` (with an
 *   ack id: `42<id>[...]`, answered by `43<id>[...]`), ping `2` answered by pong `3`.
 *
 * The published data is a string of `size` characters: `@`, the send time in microseconds
 * (16 hex digits, process.hrtime, the same clock in every thread of the generator), the
 * sequence number (8 hex digits), then filler. Subscribers find it in the frame by the
 * two-byte marker `"@` and decode it without allocating.
 */
import { clientFrame } from './frames.js';

export type HubProtocol = 'duplex' | 'socketio';
export const HUB_PROTOCOLS: readonly HubProtocol[] = ['duplex', 'socketio'];

/** STAMP is the length of the data's head: `@`, 16 hex digits of time, 8 of sequence. */
export const STAMP = 25;

/** nowUs is the monotonic clock in microseconds, shared by all threads of a process. */
export function nowUs(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + t[1] / 1e3;
}

const HEX = '0123456789abcdef';

/** stampedData is the published data: the stamp of `tsUs` and `seq`, then filler up to `size`. */
export function stampedData(size: number, tsUs: number, seq: number, filler: string): string {
  let ts = Math.round(tsUs);
  let head = '';
  for (let i = 0; i < 16; i++) {
    head = HEX[ts % 16]! + head;
    ts = Math.floor(ts / 16);
  }
  let s = seq >>> 0;
  let tail = '';
  for (let i = 0; i < 8; i++) {
    tail = HEX[s & 15]! + tail;
    s >>>= 4;
  }
  return `@${head}${tail}${filler}`.slice(0, Math.max(size, STAMP));
}

/** fillerFor is the filler of `size`-character data (lower-case letters). */
export function fillerFor(size: number): string {
  let f = '';
  for (let i = 0; i < Math.max(0, size - STAMP); i++) f += String.fromCharCode(0x61 + (i % 26));
  return f;
}

function hexAt(buf: Buffer, from: number, digits: number): number {
  let v = 0;
  for (let i = from; i < from + digits; i++) {
    const c = buf[i]!;
    v = v * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return v;
}

const MARK = Buffer.from('"@', 'latin1');
/** DUPLEX_DATA is how a stamped string starts in a hub `pub` (its `data` field). */
const DUPLEX_DATA = Buffer.from('"data":"@', 'latin1');
/** SOCKETIO_EVENT is how a Socket.IO `msg` event with stamped data starts. */
const SOCKETIO_EVENT = Buffer.from('42["msg","@', 'latin1');

/** Stamp is a decoded data head; `readStamp` and `deliveryStamp` fill one in place. */
export interface Stamp {
  tsUs: number;
  seq: number;
  /**
   * Where the `@` was from the start of the last hub `pub` read into this stamp: the next
   * one of the same channel has it at the same place, or one further once the offset gains
   * a digit, so the search is mostly a comparison there. 0: not known yet.
   */
  hint?: number;
}

/** matchesAt tells whether `needle` is at `buf[at]`, within `end`. */
function matchesAt(buf: Buffer, at: number, end: number, needle: Buffer): boolean {
  if (at < 0 || at + needle.length > end) return false;
  for (let i = 0; i < needle.length; i++) if (buf[at + i] !== needle[i]) return false;
  return true;
}

/** decodeAt decodes the stamp whose `@` is at `at`, when it ends before `end`. */
function decodeAt(buf: Buffer, at: number, end: number, out: Stamp): boolean {
  if (at < 0 || at + STAMP > end) return false;
  out.tsUs = hexAt(buf, at + 1, 16);
  out.seq = hexAt(buf, at + 17, 8);
  return true;
}

/** readStamp decodes the stamp of the first data in `buf[0, length)`; false when there is none. */
export function readStamp(buf: Buffer, length: number, out: Stamp): boolean {
  const at = buf.indexOf(MARK);
  return at >= 0 && at < length && decodeAt(buf, at + 1, length, out);
}

/**
 * deliveryStamp is the fast path of a subscriber: whether `buf[start, end)`, the start of a
 * message, is a delivery whose stamp lies within it (then `out` holds the stamp). Socket.IO's
 * `msg` event has the stamp at a fixed place; in a hub `pub` it follows `"data":"`. Anything
 * else (false) goes the slow way through `classify`.
 */
export function deliveryStamp(
  protocol: HubProtocol,
  buf: Buffer,
  start: number,
  end: number,
  out: Stamp,
): boolean {
  if (protocol === 'socketio') {
    const n = SOCKETIO_EVENT.length;
    if (end - start < n) return false;
    for (let i = 0; i < n; i++) if (buf[start + i] !== SOCKETIO_EVENT[i]) return false;
    return decodeAt(buf, start + n - 1, end, out);
  }
  const back = DUPLEX_DATA.length - 1;
  const hint = out.hint ?? 0;
  let at = -1;
  if (hint > 0 && matchesAt(buf, start + hint - back, end, DUPLEX_DATA)) at = start + hint;
  else if (hint > 0 && matchesAt(buf, start + hint + 1 - back, end, DUPLEX_DATA)) at = start + hint + 1;
  else {
    const found = buf.indexOf(DUPLEX_DATA, start);
    if (found < 0 || found >= end) return false;
    at = found + back;
  }
  out.hint = at - start;
  return decodeAt(buf, at, end, out);
}

/** roomName is the channel or room of index `r`. */
export const roomName = (r: number): string => `room-${r}`;

/** handshakeTarget is the path and subprotocol a connection of `protocol` asks for. */
export function handshakeTarget(
  protocol: HubProtocol,
  hubPath: string,
  room: number | undefined,
): { path: string; protocol?: string } {
  if (protocol === 'duplex') return { path: hubPath, protocol: 'duplex.v1' };
  const join = room === undefined ? '' : `&room=${roomName(room)}`;
  return { path: `/socket.io/?EIO=4&transport=websocket${join}` };
}

const text = (s: string): Buffer => clientFrame(1, Buffer.from(s, 'utf8'));

/** Frames a client sends, each a masked text frame. */
export const duplexFrames = {
  connect: (id: number): Buffer => text(JSON.stringify({ type: 'connect', id, name: 'hub-load' })),
  subscribe: (id: number, channel: string): Buffer =>
    text(JSON.stringify({ type: 'subscribe', id, channel })),
  publish: (id: number, channel: string, data: string): Buffer =>
    text(JSON.stringify({ type: 'publish', id, channel, data })),
  pong: (): Buffer => text('{"type":"pong"}'),
};

export const socketioFrames = {
  /** The namespace connect of the main namespace `/`. */
  connect: (): Buffer => text('40'),
  /** `publish(room, data)` with an ack id: the server acknowledges as the hub answers `published`. */
  publish: (ackId: number, room: string, data: string): Buffer =>
    text(`42${ackId}${JSON.stringify(['publish', room, data])}`),
  pong: (): Buffer => text('3'),
};

/** What an incoming text message is, as far as the generator cares. */
export type Incoming =
  | 'delivery' // a published message (stamp decoded)
  | 'open' // socket.io: the engine.io open packet: send the namespace connect
  | 'connected' // duplex: `connected`; socket.io: `40{...}`
  | 'subscribed' // duplex: `subscribed`
  | 'ack' // duplex: `published`; socket.io: `43<id>[...]`
  | 'ping' // answer with pong
  | 'error'; // anything else: an error reply, a refusal, a close packet, or a message not understood

const DUPLEX_PUB = Buffer.from('"type":"pub"', 'latin1');

/**
 * classify reads the first `length` bytes of a text message (`total` bytes in all) and tells
 * what it is; for a delivery it fills `stamp`. Deliveries take the fast path (two byte
 * searches, no string); everything else is rare and parsed as JSON.
 */
export function classify(
  protocol: HubProtocol,
  buf: Buffer,
  length: number,
  total: number,
  stamp: Stamp,
): Incoming {
  if (protocol === 'socketio') {
    const c0 = buf[0];
    const c1 = buf[1];
    if (c0 === 0x34 /* 4 */ && c1 === 0x32 /* 2: event */)
      return readStamp(buf, length, stamp) ? 'delivery' : 'error';
    if (c0 === 0x32 /* 2: ping */ && total === 1) return 'ping';
    if (c0 === 0x34 && c1 === 0x33 /* 3: ack */) return 'ack';
    if (c0 === 0x34 && c1 === 0x30 /* 0: connect */) return 'connected';
    if (c0 === 0x30 /* engine.io open */) return 'open';
    return 'error';
  }
  const view = buf.subarray(0, length);
  if (view.indexOf(DUPLEX_PUB) >= 0 && readStamp(buf, length, stamp)) return 'delivery';
  if (total > length) return 'error';
  let type: unknown;
  try {
    type = (JSON.parse(view.toString('utf8')) as { type?: unknown }).type;
  } catch {
    return 'error';
  }
  if (type === 'published') return 'ack';
  if (type === 'ping') return 'ping';
  if (type === 'connected') return 'connected';
  if (type === 'subscribed') return 'subscribed';
  return 'error';
}
