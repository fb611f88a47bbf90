/**
 * support holds the assertions the conformance files share: an echo must come back as the
 * exact bytes of an unmasked server frame, and a failure must come back as a close frame
 * with the expected code followed by the server closing TCP.
 */
import assert from 'node:assert/strict';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import {
  type CloseResult,
  connectRaw,
  describeFrame,
  type Frame,
  type RawClient,
  serverFrame,
} from '../helpers/raw-client.js';

/** TEST_TIMEOUT bounds each test. */
export const TEST = { timeout: 30_000 } as const;

/** READ_MS bounds each read of an answer. */
export const READ_MS = 10_000;

/** echoServer starts one `duplex echo` (default options) for a test file; call stop() in after(). */
export function echoServer(): {
  get: () => EchoProcess;
  start: () => Promise<void>;
  stop: () => Promise<void>;
} {
  let echo: EchoProcess | undefined;
  return {
    get: () => {
      if (echo === undefined) throw new Error('duplex echo did not start');
      if (echo.exited) throw new Error(`duplex echo has exited:\n${echo.output()}`);
      return echo;
    },
    start: async () => {
      echo = await startEcho();
    },
    stop: async () => {
      await echo?.stop();
    },
  };
}

/** withClient connects a raw client, runs `fn`, and always destroys the socket. */
export async function withClient<T>(echo: EchoProcess, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await connectRaw(echo.port);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

function assertBytesEqual(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  const show = (b: Buffer) => b.subarray(Math.max(0, i - 4), i + 12).toString('hex');
  assert.fail(
    `${what}: ${actual.length} bytes instead of ${expected.length}, first difference at byte ${i}: ` +
      `got …${show(actual)}… expected …${show(expected)}…`,
  );
}

/** expectFrame asserts that `frame` is exactly the unmasked server frame for opcode and payload. */
export function expectFrame(frame: Frame, opcode: number, payload: Buffer | string, what = 'frame'): void {
  const expected = serverFrame(opcode, payload);
  // RFC 6455 5.1: "A server MUST NOT mask any frames that it sends to the client."
  assert.equal(frame.masked, false, `${what}: server frame is masked: ${describeFrame(frame)}`);
  assertBytesEqual(frame.raw, expected, `${what} (${describeFrame(frame)})`);
}

/** expectEcho reads the next frame and asserts it is exactly the echo of a one-frame message. */
export async function expectEcho(c: RawClient, opcode: number, payload: Buffer | string, what = 'echo') {
  const frame = await c.readFrame(READ_MS);
  expectFrame(frame, opcode, payload, what);
}

/**
 * expectFailure reads until the server's close frame, asserts its code, that no other frame
 * came before it (unless `before` frames are expected and checked by the caller), and that
 * the server then closes TCP.
 *
 * RFC 6455 7.1.7: "If _The WebSocket Connection is Established_ prior to the point where the
 * endpoint is required to _Fail the WebSocket Connection_, the endpoint SHOULD send a Close
 * frame with an appropriate status code (Section 7.4) before proceeding to _Close the
 * WebSocket Connection_." and 7.1.1: "The server MUST close the underlying TCP connection
 * immediately".
 */
export async function expectFailure(
  c: RawClient,
  code: number,
  what: string,
  options: { allowBefore?: boolean } = {},
): Promise<CloseResult> {
  const res = await c.readClose(READ_MS);
  if (!options.allowBefore) {
    assert.deepEqual(res.before.map(describeFrame), [], `${what}: frames before the close frame`);
  }
  assert.equal(res.frame.masked, false, `${what}: close frame is masked`);
  assert.equal(res.frame.fin, true, `${what}: close frame without FIN`);
  assert.equal(
    res.code,
    code,
    `${what}: expected close ${code}, got ${res.code ?? 'no code'} ${JSON.stringify(res.reason.toString())}`,
  );
  await c.waitForTcpClose(READ_MS);
  return res;
}

/** failsWith opens a connection, sends `bytes` in one write (or the given parts), and expects `code`. */
export async function failsWith(
  echo: EchoProcess,
  bytes: Buffer | Buffer[],
  code: number,
  what: string,
  delayMs = 5,
): Promise<void> {
  return withClient(echo, async (c) => {
    // The write is not awaited: a server that fails early may stop reading what is left.
    void (Array.isArray(bytes) ? c.sendParts(bytes, delayMs) : c.send(bytes));
    await expectFailure(c, code, what);
  });
}

/**
 * readSplit reads `n` frames and splits them into pongs and other frames, each list in the
 * order it came. RFC 6455 sets no order between an automatic pong and the echo an
 * application sends for a message that came before the ping, so tests compare each list
 * on its own.
 */
export async function readSplit(c: RawClient, n: number): Promise<{ pongs: Frame[]; others: Frame[] }> {
  const frames = await c.readFrames(n, READ_MS);
  return { pongs: frames.filter((f) => f.opcode === 0xa), others: frames.filter((f) => f.opcode !== 0xa) };
}

/** hex turns 'c0 80' into bytes. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
