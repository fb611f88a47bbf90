import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { type CloseEvent, WebSocket } from 'duplexjs';
import { CLI_PATH } from '../helpers/echo-process.js';
import { connectRaw, Op } from '../helpers/raw-client.js';
import { nextEvent, sleep, withTimeout } from '../node/util.js';

const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)\/\n$/;

interface Relay {
  child: ChildProcess;
  port: number;
  url: string;
  stdout: () => string;
  /** stop sends SIGTERM and resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** startRelay runs `duplex broadcast --port 0` and waits for its ready line. */
async function startRelay(): Promise<Relay> {
  const child = spawn(process.execPath, [CLI_PATH, 'broadcast', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = READY.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      void exited.then((code) => reject(new Error(`duplex broadcast exited with ${code}: ${stdout}`)));
    }),
    'the ready line',
    15_000,
  );
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}/`,
    stdout: () => stdout,
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

async function open(url: string): Promise<{ ws: WebSocket; seen: unknown[] }> {
  const ws = new WebSocket(url);
  const seen: unknown[] = [];
  ws.addEventListener('message', (e) => seen.push(e.data));
  await nextEvent(ws, 'open');
  return { ws, seen };
}

async function until(what: string, done: () => boolean, ms = 5_000): Promise<void> {
  await withTimeout(
    (async () => {
      while (!done()) await sleep(5);
    })(),
    what,
    ms,
  );
}

describe('duplex broadcast', () => {
  it('relays each message to every other client with its type, then closes all with 1001 on SIGTERM', {
    timeout: 30_000,
  }, async () => {
    const relay = await startRelay();
    assert.match(relay.stdout(), READY, 'exactly one ready line');
    const a = await open(relay.url);
    const b = await open(relay.url);
    const c = await open(`${relay.url}any/path`);
    // Messages from different connections have no order among them at the relay: each
    // one is sent after the previous one arrived everywhere.
    a.ws.send('hé from a');
    await until('message of a', () => b.seen.length === 1 && c.seen.length === 1);
    b.ws.send(Buffer.from([0, 1, 255]));
    await until('message of b', () => a.seen.length === 1 && c.seen.length === 2);
    c.ws.send(Buffer.alloc(70_000, 7));
    await until('relayed messages', () => a.seen.length === 2 && b.seen.length === 2 && c.seen.length === 2);
    assert.deepEqual(a.seen, [Buffer.from([0, 1, 255]), Buffer.alloc(70_000, 7)]);
    assert.deepEqual(b.seen, ['hé from a', Buffer.alloc(70_000, 7)]);
    assert.deepEqual(c.seen, ['hé from a', Buffer.from([0, 1, 255])]);
    const closes = [a, b, c].map(({ ws }) => nextEvent<CloseEvent>(ws, 'close', 10_000));
    assert.equal(await relay.stop(), 0);
    for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
  });

  it('closes a subscriber that stops reading with 1008 while the others keep receiving', {
    timeout: 60_000,
  }, async () => {
    const relay = await startRelay();
    try {
      const slow = await connectRaw(relay.port);
      const fast = await open(relay.url);
      const publisher = await open(relay.url);
      await sleep(50);
      slow.socket.pause();
      // 400 x 64 KiB (25 MiB) is far more than the kernel's socket buffers plus the relay's
      // 1 MiB per-recipient limit, so the paused subscriber must be closed on the way.
      const payload = Buffer.alloc(64 * 1024, 3);
      const total = 400;
      for (let i = 0; i < total; i += 8) {
        for (let k = 0; k < 8; k++) publisher.ws.send(payload);
        await until('the fast subscriber', () => fast.seen.length === i + 8, 10_000);
      }
      assert.equal(fast.seen.length, total);
      slow.socket.resume();
      const close = await slow.readClose(20_000);
      assert.equal(close.code, 1008);
      assert.ok(close.before.length < total, `the slow subscriber got ${close.before.length} messages`);
      assert.ok(close.before.every((f) => f.opcode === Op.BINARY));
      slow.destroy();
      // The relay still serves the others.
      fast.ws.send('still here');
      await until('the publisher', () => publisher.seen.length === 1);
      assert.deepEqual(publisher.seen, ['still here']);
    } finally {
      assert.equal(await relay.stop(), 0);
    }
  });

  it('refuses --max-payload, which only echo has, with exit code 2', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'broadcast', '--max-payload', '5'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const code = await withTimeout(
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      'exit',
    );
    assert.equal(code, 2);
    assert.match(stderr, /usage: duplex/);
  });
});
