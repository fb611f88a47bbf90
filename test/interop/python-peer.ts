// Debian's python3-websockets as an interop peer: peers/python_peer.py, run by /usr/bin/python3,
// scripted over its stdin and reporting JSON lines on its stdout.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PYTHON } from '../helpers/system.js';
import { type Endpoint, EventLog, type Observed, withTimeout } from './endpoint.js';

/** The script lives in the source tree (tests run from build/test/interop). */
const SCRIPT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/interop/peers/python_peer.py',
);

/** One JSON line from python_peer.py. */
interface Report {
  event: string;
  conn?: number | null;
  seq?: number;
  [key: string]: unknown;
}

/** PythonPeer is one python_peer.py process: a client with one connection, or a server. */
export class PythonPeer {
  readonly #proc: ChildProcessWithoutNullStreams;
  /** Reports not tied to a connection's traffic: version, listening, open, done, command errors. */
  readonly control = new EventLog<Report>();
  readonly #conns = new Map<number, EventLog<Observed>>();
  readonly #exited: Promise<void>;
  #seq = 0;
  #stderr = '';
  version = '';

  private constructor(args: string[]) {
    this.#proc = spawn(SYSTEM_PYTHON, ['-u', SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr.setEncoding('utf8');
    this.#proc.stderr.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-8192);
    });
    this.#proc.stdin.on('error', () => {}); // the process may be gone; its exit is reported below
    this.#exited = new Promise((resolve) => {
      this.#proc.once('exit', (code, signal) => {
        const message = `python_peer.py exited (${code ?? signal})${this.#stderr ? `: ${this.#stderr}` : ''}`;
        this.control.push({ event: 'exit', message });
        for (const log of this.#conns.values()) log.push({ kind: 'error', message });
        resolve();
      });
    });
    createInterface({ input: this.#proc.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
      this.#route(JSON.parse(line) as Report),
    );
  }

  /** start spawns the peer and waits for its first report. */
  static async start(args: string[]): Promise<PythonPeer> {
    const peer = new PythonPeer(args);
    const first = await peer.control.take(() => true, 'python_peer.py start', 15_000);
    if (first.event !== 'version') throw new Error(`python_peer.py did not start: ${JSON.stringify(first)}`);
    peer.version = String(first['websockets']);
    return peer;
  }

  log(conn: number): EventLog<Observed> {
    let log = this.#conns.get(conn);
    if (!log) {
      log = new EventLog<Observed>();
      this.#conns.set(conn, log);
    }
    return log;
  }

  #route(r: Report): void {
    const conn = typeof r.conn === 'number' ? r.conn : undefined;
    switch (r.event) {
      case 'message': {
        const msg: Observed = {
          kind: 'message',
          type: r['type'] === 'text' ? 'text' : 'binary',
          length: Number(r['length']),
          sha256: String(r['sha256']),
        };
        if (typeof r['data'] === 'string') {
          msg.text = r['data'];
          msg.bytes = Buffer.from(r['data'], 'utf8');
        }
        if (typeof r['b64'] === 'string') msg.bytes = Buffer.from(r['b64'], 'base64');
        this.log(conn!).push(msg);
        return;
      }
      case 'pong':
        this.log(conn!).push({ kind: 'pong', data: Buffer.from(String(r['b64']), 'base64') });
        return;
      case 'close': {
        // What python received: the peer's close frame (none: 1006, as its API reports).
        const rcvd = r['rcvd'] as { code: number; reason: string } | null;
        this.log(conn!).push({ kind: 'close', code: rcvd?.code ?? 1006, reason: rcvd?.reason ?? '' });
        return;
      }
      case 'error':
        if (r.seq === undefined && conn !== undefined) {
          this.log(conn).push({ kind: 'error', message: String(r['message']) });
          return;
        }
        this.control.push(r);
        return;
      default:
        this.control.push(r);
    }
  }

  /** command sends one command and waits until the peer carried it out. */
  async command(cmd: Record<string, unknown>): Promise<void> {
    const seq = ++this.#seq;
    this.#proc.stdin.write(`${JSON.stringify({ ...cmd, seq })}\n`);
    const r = await this.control.take(
      (e) => e.seq === seq || e.event === 'exit',
      `python_peer.py to carry out ${String(cmd['op'])}`,
    );
    if (r.event !== 'done') throw new Error(`python_peer.py ${String(cmd['op'])}: ${String(r['message'])}`);
  }

  /** endpoint is the Endpoint of one of the peer's connections. */
  endpoint(conn: number, name: string, protocol: string, extensions?: string): Endpoint {
    return {
      name,
      events: this.log(conn),
      protocol,
      extensions,
      sendText: (text) => this.command({ op: 'send', conn, type: 'text', data: text }),
      sendBinary: (data) => this.command({ op: 'send', conn, type: 'binary', b64: data.toString('base64') }),
      ping: (data) => this.command({ op: 'ping', conn, b64: data.toString('base64') }),
      close: (code, reason) => this.command({ op: 'close', conn, code, reason }),
      dispose: async () => {},
    };
  }

  /** kill ends the process (SIGKILL) and waits for it; safe to call twice. */
  async kill(): Promise<void> {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGKILL');
    await withTimeout(this.#exited, 10_000, 'python_peer.py to exit');
  }
}

/** startPythonClient connects python-websockets to url and waits for the handshake. */
export async function startPythonClient(
  url: string,
  protocols: string[],
  cafile?: string,
  extraArgs: string[] = [],
): Promise<{ peer: PythonPeer; endpoint: Endpoint }> {
  const args = ['client', url, ...protocols.flatMap((p) => ['--subprotocol', p]), ...extraArgs];
  if (cafile) args.push('--cafile', cafile);
  const peer = await PythonPeer.start(args);
  try {
    const open = await peer.control.take(
      (e) => e.event === 'open' || e.event === 'error' || e.event === 'exit',
      'python client to connect',
    );
    if (open.event !== 'open') throw new Error(`python client could not connect: ${String(open['message'])}`);
    const endpoint = peer.endpoint(
      1,
      'python-websockets client',
      String(open['subprotocol'] ?? ''),
      String(open['extensions'] ?? ''),
    );
    return { peer, endpoint: { ...endpoint, dispose: () => peer.kill() } };
  } catch (err) {
    await peer.kill();
    throw err;
  }
}

/** PemFiles are PEM texts written to a temporary directory, for a peer that wants file names. */
export interface PemFiles {
  paths: Record<string, string>;
  remove(): Promise<void>;
}

/** writePemFiles writes each named PEM text to `<dir>/<name>.pem`. */
export async function writePemFiles(pems: Record<string, string>): Promise<PemFiles> {
  const dir = await mkdtemp(path.join(tmpdir(), 'duplex-interop-'));
  const paths: Record<string, string> = {};
  for (const [name, pem] of Object.entries(pems)) {
    paths[name] = path.join(dir, `${name}.pem`);
    await writeFile(paths[name]!, pem, { mode: 0o600 });
  }
  return { paths, remove: () => rm(dir, { recursive: true, force: true }) };
}
