/**
 * micro measures the protocol core alone (no sockets): frame parsing, serialization,
 * masking and UTF-8 validation, in operations and megabytes per second. Run by
 * `npm run bench` (scenario `micro`) or on its own: `node build/bench/micro.js [--quick]`.
 * Each case runs in batches until its time is up (0.5 s, 0.1 s with --quick) after a
 * warm-up batch, and prints one row of a Markdown table.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  Connection,
  type ConnectionEvent,
  FrameParser,
  isValidUtf8,
  Opcode,
  serializeFrame,
  Utf8Validator,
  unmask,
} from 'duplexjs/protocol';

const quick = process.argv.includes('--quick');
const TIME_MS = quick ? 100 : 500;
const KiB = 1024;
const MiB = 1024 * KiB;

interface Row {
  name: string;
  bytes: number;
  opsPerS: number;
}

const rows: Row[] = [];
let sink = 0;

/**
 * measure runs `op` repeatedly for TIME_MS and records its rate. One call of `op` handles
 * `per` operations (frames, messages) of `bytes` bytes each.
 */
function measure(name: string, bytes: number, op: () => void, per = 1): void {
  const batch = Math.max(1, Math.min(10_000, Math.floor((4 * MiB) / Math.max(bytes * per, 64))));
  for (let i = 0; i < batch; i++) op(); // warm-up
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < TIME_MS) {
    for (let i = 0; i < batch; i++) op();
    ops += batch;
    t = performance.now();
  }
  rows.push({ name, bytes, opsPerS: (ops * per) / ((t - t0) / 1000) });
}

/**
 * maskedFrame builds a client frame masked with the all-zero key: legal (the mask bit is set
 * and the key is sent), unmasked with the same work as any key, and left intact by it, so
 * the same input can be parsed again and again.
 */
/** receiveAll feeds a whole chunk: Connection#receive stops at each message, and the rest goes in again. */
function receiveAll(conn: Connection, chunk: Buffer): ConnectionEvent[] {
  const events: ConnectionEvent[] = [];
  let from = 0;
  for (;;) {
    const r = conn.receive(chunk, from);
    events.push(...r.events);
    if (r.consumed === chunk.length || r.events.length === 0) return events;
    from = r.consumed;
  }
}

function maskedFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  return Buffer.concat(serializeFrame({ opcode, payload, fin, maskKey: Buffer.alloc(4) }));
}

function ascii(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x61 + (i % 26);
  return b;
}

/** mixedUtf8 is text with 1- to 4-byte sequences, cut to whole characters. */
function mixedUtf8(n: number): Buffer {
  const unit = Buffer.from('héllo wörld € 𝄞 — ünïcödé ');
  const b = Buffer.alloc(n);
  let off = 0;
  while (off + unit.length <= n) off += unit.copy(b, off);
  b.fill(0x20, off);
  return b;
}

// ---- parse: a FrameParser over a server's input (masked frames), as one chunk
for (const [label, size, count] of [
  ['32 B', 32, 1000],
  ['16 KiB', 16 * KiB, 64],
  ['1 MiB', MiB, 1],
] as const) {
  const one = maskedFrame(Opcode.BINARY, randomFillSync(Buffer.alloc(size)));
  const input = Buffer.concat(Array.from({ length: count }, () => one));
  const parser = new FrameParser({ expectMasked: true, maxMessagePayload: 64 * MiB });
  measure(
    `parse ${label} frames (FrameParser, ${count} per chunk)`,
    size,
    () => {
      parser.push(input);
      for (let f = parser.next(); f !== undefined; f = parser.next()) sink += f.payload.length;
    },
    count,
  );
}

// ---- parse: frames cut across socket-sized chunks (64 KiB, as node:net reads them), so that
// headers and payloads straddle chunk boundaries and a payload is gathered from several chunks
for (const [label, size, count] of [
  ['16 KiB', 16 * KiB, 64],
  ['1 MiB', MiB, 1],
] as const) {
  const one = maskedFrame(Opcode.BINARY, randomFillSync(Buffer.alloc(size)));
  const input = Buffer.concat(Array.from({ length: count }, () => one));
  const pieces: Buffer[] = [];
  for (let off = 0; off < input.length; off += 64 * KiB) pieces.push(input.subarray(off, off + 64 * KiB));
  const parser = new FrameParser({ expectMasked: true, maxMessagePayload: 64 * MiB });
  measure(
    `parse ${label} frames (FrameParser, ${count === 1 ? 'one frame' : `${count} frames`} in 64 KiB chunks)`,
    size,
    () => {
      for (const piece of pieces) {
        parser.push(piece);
        for (let f = parser.next(); f !== undefined; f = parser.next()) sink += f.payload.length;
      }
    },
    count,
  );
}

// ---- receive: the whole Connection path (parse, unmask, reassembly, events), binary and text
for (const [label, size, count, text] of [
  ['32 B text', 32, 1000, true],
  ['16 KiB binary', 16 * KiB, 64, false],
  ['1 MiB binary', MiB, 1, false],
] as const) {
  const payload = text ? ascii(size) : randomFillSync(Buffer.alloc(size));
  const frames = Array.from({ length: count }, () =>
    maskedFrame(text ? Opcode.TEXT : Opcode.BINARY, payload),
  );
  const input = Buffer.concat(frames);
  const conn = new Connection({ role: 'server', maxPayload: 64 * MiB });
  const events = receiveAll(conn, input);
  if (events.length !== count || events.some((e) => e.type !== 'message'))
    throw new Error(`receive ${label}`);
  measure(
    `receive ${label} (Connection, ${count} per chunk)`,
    size,
    () => {
      sink += receiveAll(conn, input).length;
    },
    count,
  );
}

// ---- fragmented: a 1 MiB binary message in 64 fragments of 16 KiB, through Connection
{
  const frags: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    frags.push(
      maskedFrame(
        i === 0 ? Opcode.BINARY : Opcode.CONTINUATION,
        randomFillSync(Buffer.alloc(16 * KiB)),
        i === 63,
      ),
    );
  }
  const input = Buffer.concat(frags);
  const conn = new Connection({ role: 'server', maxPayload: 64 * MiB });
  const first = receiveAll(conn, input)[0];
  if (first?.type !== 'message' || first.data.length !== MiB) throw new Error('fragmented receive');
  measure('receive 1 MiB binary in 64 fragments (Connection)', MiB, () => {
    sink += receiveAll(conn, input).length;
  });
}

// ---- serialize
for (const [label, size] of [
  ['32 B', 32],
  ['16 KiB', 16 * KiB],
  ['1 MiB', MiB],
] as const) {
  const payload = randomFillSync(Buffer.alloc(size));
  measure(
    `serialize ${label} server frame${size > 1024 ? ' (payload referenced, not copied)' : ''}`,
    size,
    () => {
      sink += serializeFrame({ opcode: Opcode.BINARY, payload }).length;
    },
  );
  const key = randomFillSync(Buffer.alloc(4));
  measure(`serialize ${label} masked client frame`, size, () => {
    sink += serializeFrame({ opcode: Opcode.BINARY, payload, maskKey: key }).length;
  });
}
{
  const conn = new Connection({ role: 'client' });
  const payload = ascii(32);
  measure('Connection.sendText 32 B, client (random mask key per frame)', 32, () => {
    sink += conn.sendText(payload).length;
  });
}

// ---- mask / unmask in place
for (const [label, size] of [
  ['32 B', 32],
  ['16 KiB', 16 * KiB],
  ['1 MiB', MiB],
] as const) {
  const data = randomFillSync(Buffer.alloc(size));
  const key = randomFillSync(Buffer.alloc(4));
  measure(`unmask ${label}`, size, () => unmask(data, key));
}

// ---- UTF-8 validation
for (const [label, data] of [
  ['32 B ASCII', ascii(32)],
  ['16 KiB mixed', mixedUtf8(16 * KiB)],
  ['1 MiB ASCII', ascii(MiB)],
  ['1 MiB mixed', mixedUtf8(MiB)],
] as const) {
  measure(`isValidUtf8 ${label}`, data.length, () => {
    sink += isValidUtf8(data) ? 1 : 0;
  });
}
{
  const data = mixedUtf8(MiB);
  const validator = new Utf8Validator();
  measure('Utf8Validator 1 MiB mixed in 1000-byte pieces (split sequences)', MiB, () => {
    for (let off = 0; off < data.length; off += 1000) validator.push(data.subarray(off, off + 1000));
    sink += validator.end() ? 1 : 0;
  });
}

const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const lines = ['| micro-benchmark | ops/s (frames, messages or calls) | MB/s |', '|---|---|---|'];
for (const r of rows) lines.push(`| ${r.name} | ${fmt(r.opsPerS)} | ${fmt((r.opsPerS * r.bytes) / 1e6)} |`);
process.stdout.write(`${lines.join('\n')}\n`);
if (sink === -1) process.stdout.write('\n');
