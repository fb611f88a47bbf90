/**
 * What an idle server connection holds: a `duplex echo`-style server runs in a child process,
 * which counts the objects of its own heap (a heap snapshot after a full GC) with 40 and
 * then with 140 idle connections open; the difference over 100 connections is the set of
 * objects one idle connection keeps. Counts, not bytes: they do not move with the machine's
 * load or V8's heap sizing, and a regression names the object that came back
 * (docs/design/idle-memory.md).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { upgradeRequest } from '../helpers/raw-client.js';

/** The server: the package's WebSocketServer on its own http server, an echo listener per connection, as `duplex echo --no-deflate` (the heartbeat's periods aside). */
const SERVER = `
import v8 from 'node:v8';
import { createInterface } from 'node:readline';
const { WebSocketServer } = await import(process.env.DUPLEX_ENTRY);
// The heartbeat is on, as by default, with periods no slow run reaches: the raw clients never answer a ping.
const heartbeat = { interval: 3_600_000, timeout: 3_600_000 };
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, dangerouslyAllowAnyOrigin: true, heartbeat });
wss.on('connection', (ws) => {
  ws.addEventListener('message', (event) => ws.send(event.data));
});
wss.on('listening', () => process.stdout.write('port ' + wss.address().port + '\\n'));

/** count tallies the heap's objects by kind: 'object:<constructor>', 'closure', 'number', 'array:<name>'... */
async function count() {
  globalThis.gc();
  globalThis.gc();
  let text = '';
  for await (const chunk of v8.getHeapSnapshot()) text += chunk;
  const snap = JSON.parse(text);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, width] = [fields.indexOf('type'), fields.indexOf('name'), fields.length];
  const counts = {};
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    const key = type === 'object' || type === 'native' ? type + ':' + snap.strings[snap.nodes[i + iName]] : type;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'count') process.stdout.write('counts ' + JSON.stringify(await count()) + '\\n');
  else process.exit(0);
});
`;

type Counts = Record<string, number>;

/** IdleServer drives the child: its port, and its heap's object counts on demand. */
class IdleServer {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #waiting: (() => void) | undefined;
  readonly sockets: net.Socket[] = [];

  constructor() {
    this.#child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', SERVER], {
      env: { ...process.env, DUPLEX_ENTRY: import.meta.resolve('duplexjs') },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.#lines.push(line);
      this.#waiting?.();
    });
  }

  async #line(prefix: string): Promise<string> {
    for (;;) {
      const i = this.#lines.findIndex((l) => l.startsWith(prefix));
      if (i !== -1) return this.#lines.splice(i, 1)[0]!.slice(prefix.length);
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
  }

  async port(): Promise<number> {
    return Number(await this.#line('port '));
  }

  async counts(): Promise<Counts> {
    this.#child.stdin!.write('count\n');
    return JSON.parse(await this.#line('counts ')) as Counts;
  }

  /** open opens `n` connections that complete the handshake and then stay idle. */
  async open(port: number, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const socket = net.connect(port, '127.0.0.1');
      this.sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('data', (head) => {
          if (head.toString('latin1').startsWith('HTTP/1.1 101')) resolve();
          else reject(new Error(`no 101: ${head.toString('latin1')}`));
        });
        socket.write(upgradeRequest(`127.0.0.1:${port}`));
      });
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin!.end('exit\n');
    await exited;
  }
}

describe('an idle server connection', () => {
  const server = new IdleServer();
  after(() => server.stop());

  it('holds its WebSocket, Transport, HandleWire, Connection, Heartbeat, one listener entry and the application\u2019s listener: no request, no net.Socket, no array, no boxed number, no closure of ours', async () => {
    const port = await server.port();
    // The first connections compile and warm the code paths: what that allocates once is not per connection.
    await server.open(port, 40);
    const before = await server.counts();
    const n = 100;
    await server.open(port, n);
    const after = await server.counts();
    const per = (key: string): number => Math.round(((after[key] ?? 0) - (before[key] ?? 0)) / n);
    const kinds = [
      'object:WebSocket',
      'object:Transport',
      'object:HandleWire',
      'object:Connection',
      'object:Heartbeat',
      'object:Entry',
      'object:TCP',
      // Gone since the handle was adopted: the upgrade's request and its node:net Socket.
      'object:IncomingMessage',
      'object:Socket',
      // A one-listener list is the entry alone; the write queue comes with the first write.
      'object:Array',
      // Heartbeat times are small integers, not epoch milliseconds boxed per connection.
      'number',
      // The application's `message` listener and its scope: no closure of ours (the pong
      // callback comes with the first ping).
      'closure',
      'object:system / Context',
    ];
    const got = Object.fromEntries(kinds.map((k) => [k, per(k)]));
    assert.deepEqual(got, {
      'object:WebSocket': 1,
      'object:Transport': 1,
      'object:HandleWire': 1,
      'object:Connection': 1,
      'object:Heartbeat': 1,
      'object:Entry': 1,
      'object:TCP': 1,
      'object:IncomingMessage': 0,
      'object:Socket': 0,
      'object:Array': 0,
      number: 0,
      closure: 1,
      'object:system / Context': 1,
    });
  });
});
