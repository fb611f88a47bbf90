import { readFile } from 'node:fs/promises';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { UnexpectedResponseError } from '../node/errors.js';
import type { CloseEvent, ErrorEvent, MessageEvent } from '../node/events.js';
import type { WebSocketOptions } from '../node/options.js';
import { proxyFromEnv } from '../node/proxy.js';
import { WebSocket } from '../node/websocket.js';
import { backoffDelay } from './backoff.js';
import { describeClose } from './close-names.js';
import { type ConnectOptions, decodeInput } from './connect-options.js';

/** ConnectExit are the exit statuses of `duplex connect`, documented in its usage and docs/cli.md. */
export const ConnectExit = {
  /** A clean closing handshake with 1000, 1001 or no code. */
  OK: 0,
  /** The connection or its opening handshake failed (after every retry of --reconnect). */
  CONNECT_FAILED: 1,
  /** A usage error. */
  USAGE: 2,
  /** The connection was lost without a clean close: 1006, or a protocol error. */
  ABNORMAL_CLOSE: 3,
  /** The peer closed with an error code (1002-1015, 3000-4999). */
  PEER_ERROR: 4,
} as const;

/** exitForClose maps how an open connection ended to an exit status. */
export function exitForClose(code: number, wasClean: boolean): number {
  if (!wasClean || code === 1006) return ConnectExit.ABNORMAL_CLOSE;
  if (code === 1000 || code === 1001 || code === 1005) return ConnectExit.OK;
  return ConnectExit.PEER_ERROR;
}

/** Send-buffer level above which reading piped input pauses until the socket drains. */
const INPUT_HIGH_WATER = 4 * 1024 * 1024;

/** describeError renders a connection failure for people. */
function describeError(error: unknown): string {
  if (error instanceof UnexpectedResponseError) {
    const body = error.body.trim().split('\n')[0]?.slice(0, 200);
    return `the server answered HTTP ${error.status} instead of 101${body ? ` (${body})` : ''}`;
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

/**
 * ConnectSession is one run of `duplex connect`: it opens the connection (again, with
 * --reconnect), sends the actions or the input lines, prints what arrives, and settles on
 * the exit status.
 */
class ConnectSession {
  readonly #o: ConnectOptions;
  readonly #finish: (code: number) => void;
  readonly #batch: boolean;
  readonly #terminal: boolean;
  #ws: WebSocket | undefined;
  #rl: Interface | undefined;
  #idle: NodeJS.Timeout | undefined;
  #retries = 0;
  #closingByUs = false;
  #inputEnded = false;
  #done = false;
  #lastError: unknown;

  constructor(o: ConnectOptions, finish: (code: number) => void) {
    this.#o = o;
    this.#finish = finish;
    this.#batch = o.actions.length > 0;
    this.#terminal = !this.#batch && process.stdin.isTTY === true;
  }

  start(): void {
    if (this.#o.insecure) {
      this.#status(
        'WARNING: --insecure: the TLS certificate of the server is not checked; anyone on the path can read and change this connection',
      );
    }
    const stop = (): void => {
      if (this.#closingByUs) this.#end(130);
      else this.#closeByUs();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    this.#open();
  }

  #status(line: string): void {
    if (this.#rl && this.#terminal) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
    }
    process.stderr.write(`duplex connect: ${line}\n`);
    if (this.#rl && this.#terminal) this.#rl.prompt(true);
  }

  #print(line: string): void {
    const text = this.#o.timestamps ? `${new Date().toISOString()} ${line}` : line;
    if (this.#rl && this.#terminal) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      process.stdout.write(`${text}\n`);
      this.#rl.prompt(true);
      return;
    }
    process.stdout.write(`${text}\n`);
  }

  #socketOptions(): WebSocketOptions {
    const o = this.#o;
    const options: WebSocketOptions = {
      headers: { ...o.headers },
      origin: o.origin,
      perMessageDeflate: o.deflate,
      handshakeTimeout: o.handshakeTimeoutS * 1000,
    };
    if (o.ca.length > 0) options.ca = o.ca;
    if (o.insecure) options.rejectUnauthorized = false;
    // HTTPS_PROXY/HTTP_PROXY/NO_PROXY: the client's own proxy option (a CONNECT tunnel).
    const proxy = proxyFromEnv(o.url);
    if (proxy) options.proxy = proxy;
    return options;
  }

  #open(): void {
    if (this.#done) return;
    this.#lastError = undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#o.url, this.#o.protocols, this.#socketOptions());
    } catch (error) {
      this.#failedAttempt(error);
      return;
    }
    this.#ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      this.#retries = 0;
      const extras = [
        ws.protocol ? `subprotocol ${ws.protocol}` : '',
        ws.extensions ? `extensions ${ws.extensions}` : '',
      ].filter(Boolean);
      this.#status(`connected to ${this.#o.url.href}${extras.length ? ` (${extras.join(', ')})` : ''}`);
      this.#opened(ws);
    });
    ws.addEventListener('message', (event: MessageEvent) => {
      this.#traffic();
      const data = event.data;
      if (typeof data === 'string') this.#print(this.#formatText(data));
      else this.#print(`[binary] ${Buffer.from(data as Buffer).toString('hex')}`);
    });
    ws.addEventListener('ping', (event: MessageEvent) => {
      this.#traffic();
      if (this.#o.showPingPong) this.#print(`[ping] ${Buffer.from(event.data as Buffer).toString('hex')}`);
    });
    ws.addEventListener('pong', (event: MessageEvent) => {
      this.#traffic();
      if (this.#o.showPingPong) this.#print(`[pong] ${Buffer.from(event.data as Buffer).toString('hex')}`);
    });
    ws.addEventListener('drain', () => this.#rl?.resume());
    ws.addEventListener('error', (event: ErrorEvent) => {
      this.#lastError = event.error ?? event.message;
    });
    ws.addEventListener('close', (event: CloseEvent) => {
      this.#ws = undefined;
      clearTimeout(this.#idle);
      if (!opened) {
        this.#failedAttempt(this.#lastError ?? new Error(`closed with ${event.code} before opening`));
        return;
      }
      this.#closed(event);
    });
  }

  #formatText(text: string): string {
    if (!this.#o.json) return text;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  /** #failedAttempt handles a connection that never opened: retry with --reconnect, else exit 1. */
  #failedAttempt(error: unknown): void {
    const why = `cannot connect to ${this.#o.url.href}: ${describeError(error)}`;
    if (this.#retryable()) {
      this.#retry(why);
      return;
    }
    this.#status(why);
    this.#end(ConnectExit.CONNECT_FAILED);
  }

  #retryable(): boolean {
    return this.#o.reconnect && !this.#closingByUs && !this.#inputEnded && this.#retries < this.#o.maxRetries;
  }

  #retry(why: string): void {
    this.#retries++;
    const delay = backoffDelay(this.#retries);
    this.#status(`${why}; retry ${this.#retries} in ${(delay / 1000).toFixed(1)} s`);
    setTimeout(() => this.#open(), delay);
  }

  #closed(event: CloseEvent): void {
    const how = describeClose(event.code, event.reason);
    const error = this.#lastError ? ` (${describeError(this.#lastError)})` : '';
    const clean = event.wasClean ? '' : ', not clean';
    const by = this.#closingByUs ? '' : ' by the peer';
    // A connection the peer ended is reconnected in interactive use; a batch run is over.
    if (!this.#batch && this.#retryable()) {
      this.#retry(`closed${by}: ${how}${clean}${error}`);
      return;
    }
    this.#status(`closed${by}: ${how}${clean}${error}`);
    this.#end(exitForClose(event.code, event.wasClean));
  }

  #opened(ws: WebSocket): void {
    if (this.#batch) {
      for (const action of this.#o.actions) {
        if (action.kind === 'ping') ws.ping(action.data);
        else ws.send(action.data);
      }
      this.#inputEnded = true;
      this.#traffic();
      return;
    }
    if (this.#rl) {
      this.#rl.resume();
      return;
    }
    this.#readInput();
  }

  /** #traffic restarts the idle timer that ends a batch or piped run (--wait seconds without traffic). */
  #traffic(): void {
    if (!this.#inputEnded) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#closeByUs(), this.#o.waitS * 1000);
  }

  #readInput(): void {
    const rl = createInterface({
      input: process.stdin,
      output: this.#terminal ? process.stdout : undefined,
      terminal: this.#terminal,
      historySize: this.#terminal ? 1000 : 0,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    this.#rl = rl;
    if (this.#terminal) {
      rl.setPrompt('> ');
      rl.prompt();
      rl.on('SIGINT', () => this.#closeByUs());
    }
    rl.on('line', (line) => {
      void this.#line(line).then(() => {
        if (this.#terminal && this.#rl === rl) rl.prompt();
      });
    });
    rl.on('close', () => {
      this.#inputEnded = true;
      this.#rl = undefined; // a closed interface may not prompt again
      // A person who pressed Ctrl-D means "done"; piped input waits for the answers.
      if (this.#terminal || !this.#ws) this.#closeByUs();
      else this.#traffic();
    });
  }

  async #line(line: string): Promise<void> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      this.#status(`not connected: line dropped`);
      return;
    }
    try {
      if (this.#o.slash && line.startsWith('/') && !line.startsWith('//')) {
        await this.#command(ws, line);
      } else {
        ws.send(decodeInput(this.#o.slash && line.startsWith('//') ? line.slice(1) : line, this.#o.input));
      }
    } catch (error) {
      this.#status((error as Error).message);
    }
    if (!this.#terminal && ws.bufferedAmount > INPUT_HIGH_WATER) this.#rl?.pause();
  }

  async #command(ws: WebSocket, line: string): Promise<void> {
    const [name = '', ...args] = line.slice(1).split(' ');
    const rest = args.join(' ');
    switch (name) {
      case 'ping':
        ws.ping(rest);
        return;
      case 'close': {
        const code = args[0] ? Number(args[0]) : 1000;
        this.#closingByUs = true;
        ws.close(code, args.slice(1).join(' '));
        return;
      }
      case 'binary':
        ws.send(decodeInput(rest, 'hex'));
        return;
      case 'base64':
        ws.send(decodeInput(rest, 'base64'));
        return;
      case 'file':
        ws.send(await readFile(rest));
        return;
      default:
        throw new Error(
          `unknown command /${name}: /ping, /close, /binary, /base64, /file (// sends a leading /)`,
        );
    }
  }

  #closeByUs(): void {
    clearTimeout(this.#idle);
    if (this.#closingByUs && this.#ws) return;
    this.#closingByUs = true;
    const ws = this.#ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000);
    else if (ws) ws.terminate();
    else this.#end(ConnectExit.OK);
  }

  #end(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#rl?.close();
    this.#finish(code);
  }
}

/** runConnect runs `duplex connect` with parsed options and resolves to its exit status. */
export function runConnect(options: ConnectOptions): Promise<number> {
  return new Promise((resolve) => new ConnectSession(options, resolve).start());
}
