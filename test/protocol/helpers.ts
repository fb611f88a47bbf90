/**
 * Helpers for the protocol tests: hex byte strings in, hex byte strings out. Nothing here
 * parses frames for the code under test; `maskClientFrame` only builds test input.
 */
import assert from 'node:assert/strict';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type ProtocolError,
} from 'duplexjs/protocol';

/** hex turns 'a1 b2c3' into bytes; spaces are for the reader. */
export function hex(s: string): Buffer {
  const clean = s.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex string: ${s}`);
  return Buffer.from(clean, 'hex');
}

/** toHex renders bytes (or a list of chunks) as plain lower-case hex. */
export function toHex(bytes: Buffer | Uint8Array | readonly (Buffer | Uint8Array)[]): string {
  if (bytes instanceof Uint8Array) return Buffer.from(bytes).toString('hex');
  return Buffer.concat(bytes.map((b) => Buffer.from(b))).toString('hex');
}

/** assertBytes compares actual bytes to an expected hex string, showing both as hex on failure. */
export function assertBytes(
  actual: Buffer | Uint8Array | readonly (Buffer | Uint8Array)[],
  expected: string,
  message?: string,
): void {
  assert.equal(toHex(actual), toHex(hex(expected)), message);
}

/** FIXED_KEY is the injected client masking key, so masked output is predictable. */
export const KEY = [1, 2, 3, 4] as const;
export const FIXED_KEY = (): Buffer => Buffer.from(KEY);

/** naiveMask is the reference masking loop of RFC 6455 5.3: j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j. */
export function naiveMask(data: Uint8Array, key: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[i % 4]!;
  return out;
}

/** header builds a minimal frame header (no mask key) for a payload length. */
export function header(first: number, length: number, masked: boolean): Buffer {
  const m = masked ? 0x80 : 0;
  if (length < 126) return Buffer.from([first, m | length]);
  if (length < 65536) {
    const h = Buffer.alloc(4);
    h[0] = first;
    h[1] = m | 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = first;
  h[1] = m | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** frame builds an unmasked frame (what a server sends). */
export function frame(first: number, payload: Uint8Array | string = Buffer.alloc(0)): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  return Buffer.concat([header(first, p.length, false), p]);
}

/** maskedFrame builds a frame masked with `key` (what a client sends). */
export function maskedFrame(
  first: number,
  payload: Uint8Array | string = Buffer.alloc(0),
  key: ArrayLike<number> = KEY,
): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  return Buffer.concat([header(first, p.length, true), Buffer.from(Array.from(key)), naiveMask(p, key)]);
}

/**
 * maskClientFrame turns the hex of an unmasked frame whose header uses the 7-bit length
 * form into the same frame masked with KEY, so server-side tests can be written like the
 * client-side ones: `maskClientFrame('81 05 48656c6c6f')`.
 */
export function maskClientFrame(frameHex: string): Buffer {
  const f = hex(frameHex);
  const len = f[1]! & 0x7f;
  assert.ok(len < 126 && f.length === 2 + len, `maskClientFrame takes a short unmasked frame: ${frameHex}`);
  return Buffer.concat([Buffer.from([f[0]!, 0x80 | len]), FIXED_KEY(), naiveMask(f.subarray(2), KEY)]);
}

/** closePayload is the body of a close frame: 2-byte code then UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/** expectedClose is the exact close frame a Connection of `role` sends with `code` and `reason`, masked with KEY for clients. */
export function expectedClose(role: 'client' | 'server', code: number, reason = ''): string {
  const body = closePayload(code, reason);
  return role === 'server' ? toHex(frame(0x88, body)) : toHex(maskedFrame(0x88, body));
}

export function client(opts: Partial<ConnectionOptions> = {}): Connection {
  return new Connection({ role: 'client', maskKey: FIXED_KEY, ...opts });
}

export function server(opts: Partial<ConnectionOptions> = {}): Connection {
  return new Connection({ role: 'server', ...opts });
}

export interface Collected {
  events: ConnectionEvent[];
  output: Buffer[];
}

/**
 * feed passes each chunk to `conn.receive` in turn, going on from where it stopped after
 * each message (receive stops there), and gathers all events and output.
 */
export function feed(conn: Connection, ...chunks: Buffer[]): Collected {
  const events: ConnectionEvent[] = [];
  const output: Buffer[] = [];
  for (const c of chunks) {
    let from = 0;
    for (;;) {
      const r = conn.receive(c, from);
      events.push(...r.events);
      output.push(...r.output);
      assert.ok(r.consumed >= from && r.consumed <= c.length, `consumed up to ${r.consumed} of ${c.length}`);
      if (r.consumed === c.length || r.events.at(-1)?.type !== 'message') break;
      from = r.consumed;
    }
  }
  return { events, output };
}

/** bytewise splits bytes into 1-byte chunks. */
export function bytewise(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i++) out.push(b.subarray(i, i + 1));
  return out;
}

/**
 * expectFailure checks that the connection failed with `closeCode`: exactly one error
 * event, last, whose error carries the close code; our close frame with that code in the
 * output, its reason the error's short message (docs/design/protocol-choices.md: "the close
 * frame carries the code and a short reason naming the rule the peer broke"; none for 1011);
 * state CLOSED. Returns the error for further checks.
 */
export function expectFailure(conn: Connection, got: Collected, closeCode: number): ProtocolError {
  const errors = got.events.filter((e) => e.type === 'error');
  assert.equal(
    errors.length,
    1,
    `expected one error event, got ${JSON.stringify(got.events.map((e) => e.type))}`,
  );
  assert.equal(got.events.at(-1)?.type, 'error', 'the error is the last event');
  const ev = errors[0]!;
  assert.ok(ev.type === 'error');
  assert.equal(ev.error.closeCode, closeCode, `close code (error: ${ev.error.code} ${ev.error.message})`);
  const reason = closeCode === 1011 ? '' : ev.error.message;
  assert.ok(Buffer.byteLength(reason) <= 123, 'the reason fits a control frame');
  assertBytes(got.output, expectedClose(conn.role, closeCode, reason), 'our close frame');
  assert.equal(conn.state, 3, 'CLOSED after failing');
  return ev.error;
}

/** messages keeps only the message events, as [binary, data-as-hex]. */
export function messages(got: Collected): Array<{ binary: boolean; data: string }> {
  return got.events.flatMap((e) => (e.type === 'message' ? [{ binary: e.binary, data: toHex(e.data) }] : []));
}
