/**
 * Compression bombs against `duplex echo`: small compressed messages that inflate past
 * maxPayload close with 1009 after at most maxPayload bytes were produced, and the echo
 * process's peak memory (VmHWM of /proc/<pid>/status) stays far below what inflating them
 * would take. Each test starts its own echo, so that peaks do not mix.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type EchoProcess, startEcho } from '../helpers/echo-process.js';
import { connectRaw, encodeFrame, Op, type RawClient } from '../helpers/raw-client.js';
import {
  bombPayload,
  DeflateSession,
  fragmentFrames,
  jsonLike,
  parseDeflateResponse,
} from '../helpers/raw-deflate.js';
import { expectFailure, READ_MS } from './support.js';

const MiB = 1024 * 1024;
const BOMB_TEST = { timeout: 120_000 } as const;

/** peakKiB is the process's peak resident set size so far, in KiB (Linux VmHWM). */
function peakKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]);
}

async function deflateClient(echo: EchoProcess): Promise<{ c: RawClient; s: DeflateSession }> {
  const c = await connectRaw(echo.port, { extensions: 'permessage-deflate' });
  const header = c.response.headers['sec-websocket-extensions'];
  assert.ok(header !== undefined, 'permessage-deflate negotiated');
  return { c, s: new DeflateSession(c, parseDeflateResponse(header)) };
}

/** withEcho runs `fn` against a fresh echo, warmed up by one compressed exchange, and stops it. */
async function withEcho(
  args: string[],
  fn: (echo: EchoProcess, pid: number) => Promise<void>,
): Promise<void> {
  const echo = await startEcho(args);
  try {
    const pid = echo.child.pid;
    assert.ok(pid !== undefined);
    const { c, s } = await deflateClient(echo);
    await s.sendCompressed(Op.TEXT, jsonLike(50_000));
    assert.equal((await s.receive(READ_MS)).data.length, 50_000);
    s.close();
    c.destroy();
    await fn(echo, pid);
    assert.equal(echo.exited, false, `the echo process is still running:\n${echo.output()}`);
  } finally {
    await echo.stop();
  }
}

describe('compression bombs close with 1009 and memory stays bounded', () => {
  test('a few KiB that inflate to 8 MiB with --max-payload 1048576', BOMB_TEST, () =>
    withEcho(['--max-payload', String(MiB)], async (echo) => {
      const bomb = await bombPayload(8 * MiB);
      assert.ok(bomb.length < 16 * 1024, `bomb is ${bomb.length} bytes`);
      const { c, s } = await deflateClient(echo);
      try {
        void c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: bomb }));
        await expectFailure(c, 1009, 'an 8 MiB bomb against a 1 MiB limit');
      } finally {
        s.close();
        c.destroy();
      }
    }),
  );

  test('17 KiB that inflate to 16 MiB + 1 MiB with the default limit', BOMB_TEST, () =>
    withEcho([], async (echo) => {
      const bomb = await bombPayload(17 * MiB);
      assert.ok(bomb.length < 24 * 1024, `bomb is ${bomb.length} bytes`);
      const { c, s } = await deflateClient(echo);
      try {
        void c.send(encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: bomb }));
        await expectFailure(c, 1009, 'a 17 MiB bomb');
      } finally {
        s.close();
        c.destroy();
      }
    }),
  );

  test(
    '256 KiB that inflate to 256 MiB: 1009, and the peak memory grows by less than 96 MiB',
    BOMB_TEST,
    () =>
      withEcho([], async (echo, pid) => {
        const bomb = await bombPayload(256 * MiB);
        const before = peakKiB(pid);
        const { c, s } = await deflateClient(echo);
        try {
          void c.send(encodeFrame({ opcode: Op.TEXT, rsv: 0x40, payload: bomb }));
          await expectFailure(c, 1009, 'a 256 MiB bomb');
        } finally {
          s.close();
          c.destroy();
        }
        const grown = (peakKiB(pid) - before) / 1024;
        assert.ok(grown < 96, `peak memory grew by ${grown.toFixed(1)} MiB`);
      }),
  );

  test('the same bomb in 64 fragments: 1009, bounded', BOMB_TEST, () =>
    withEcho([], async (echo, pid) => {
      const bomb = await bombPayload(256 * MiB);
      const before = peakKiB(pid);
      const { c, s } = await deflateClient(echo);
      try {
        void c.send(fragmentFrames(Op.BINARY, bomb, 64, 0x40));
        await expectFailure(c, 1009, 'a fragmented bomb');
      } finally {
        s.close();
        c.destroy();
      }
      const grown = (peakKiB(pid) - before) / 1024;
      assert.ok(grown < 96, `peak memory grew by ${grown.toFixed(1)} MiB`);
    }),
  );

  test('8 connections sending a 256 MiB bomb at once: all 1009, peak growth under 256 MiB', BOMB_TEST, () =>
    withEcho([], async (echo, pid) => {
      const bomb = await bombPayload(256 * MiB);
      const frame = encodeFrame({ opcode: Op.BINARY, rsv: 0x40, payload: bomb });
      const before = peakKiB(pid);
      const clients = await Promise.all(Array.from({ length: 8 }, () => deflateClient(echo)));
      try {
        await Promise.all(
          clients.map(async ({ c }, i) => {
            void c.send(frame);
            await expectFailure(c, 1009, `bomb on connection ${i}`);
          }),
        );
      } finally {
        for (const { c, s } of clients) {
          s.close();
          c.destroy();
        }
      }
      const grown = (peakKiB(pid) - before) / 1024;
      assert.ok(grown < 256, `peak memory grew by ${grown.toFixed(1)} MiB`);
      // The echo still serves compressed messages afterwards.
      const { c, s } = await deflateClient(echo);
      try {
        await s.sendCompressed(Op.TEXT, jsonLike(10_000));
        assert.equal((await s.receive(READ_MS)).data.toString(), jsonLike(10_000));
      } finally {
        s.close();
        c.destroy();
      }
    }),
  );
});
