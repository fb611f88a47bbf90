import { EventEmitter } from 'node:events';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  buildRejectResponse,
  buildServerResponse,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  validateClientRequest,
} from '../protocol/index.js';
import {
  type BroadcastOptions,
  broadcastPrepared,
  type PreparableData,
  PreparedMessage,
  prepareMessage,
} from './broadcast.js';
import { ConnectionLimits, type Slot } from './connection-limits.js';
import { type ResolvedServerOptions, resolveServerOptions, type WebSocketServerOptions } from './options.js';
import type { HandshakeRefusal, RefusalInput } from './refusal.js';
import { decideUpgrade, type UpgradeDecision } from './upgrade-decision.js';
import { acceptWebSocket, failWebSocket, type WebSocket } from './websocket.js';

/** WebSocketServerEvents types the events of a WebSocketServer. */
export interface WebSocketServerEvents {
  /**
   * A client completed the handshake. `context` is what `authenticate` handed over with
   * `{ accept: true, context }` (also `socket.context`).
   */
  connection: [socket: WebSocket, request: IncomingMessage, context?: unknown];
  /**
   * The 101 response is about to be written: `headers` holds its lines (the status line
   * first), and a listener may change or add to them (a `Set-Cookie`, say), as ws's event.
   */
  headers: [headers: string[], request: IncomingMessage];
  /**
   * A request that is not a valid WebSocket handshake (bad method, key, version, extension
   * header ...), as ws's event. With a listener, Duplex writes no response: the listener
   * answers on `socket` (`error.status` is the status Duplex would have sent); the socket is
   * destroyed after `closeTimeout` if it is still open. Without one, Duplex answers.
   */
  wsClientError: [error: HandshakeError, socket: Duplex, request: IncomingMessage];
  /**
   * An upgrade request was refused: one event per refused request, whatever refused it
   * (validation, connection limits, origin, `authenticate`/`verifyClient`, a failing hook,
   * path, handshake timeout, shutdown), with its code and the status written. For counting
   * and logging: the answer is already decided (see docs/api.md).
   */
  refused: [refusal: HandshakeRefusal, request: IncomingMessage];
  /** Standalone or attached: the HTTP server is listening. */
  listening: [];
  /** Standalone: the HTTP server failed (e.g. EADDRINUSE). Also exceptions thrown by application hooks. */
  error: [error: unknown];
  /** `close()` finished: every client is gone. */
  close: [];
}

/** PendingHandshake is a handshake being decided: its socket, request and place in the server's list. */
interface PendingHandshake {
  socket: Duplex;
  req: IncomingMessage;
  index: number;
}

/** Reason sent with 1001 to every client by `close()`. */
const SHUTDOWN_REASON = 'server shutting down';

const SHUTTING_DOWN: RefusalInput = {
  code: 'DUPLEX_HANDSHAKE_SHUTTING_DOWN',
  status: 503,
  body: 'server is shutting down\n',
};
const NOT_FOUND: RefusalInput = {
  code: 'DUPLEX_HANDSHAKE_NOT_FOUND',
  status: 404,
  body: 'no WebSocket endpoint on this path\n',
};

/**
 * attached lists the WebSocketServers listening on each http server, in the order they
 * attached, so that an upgrade no path matches gets exactly one answer (see #onUpgrade).
 */
const attached = new WeakMap<HttpServer | HttpsServer, Set<WebSocketServer>>();

/** isPromiseLike tells whether a listener returned something to watch for a rejection. */
function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * WebSocketServer accepts WebSocket connections in one of three modes: standalone (it owns
 * an HTTP server on `port`, answering plain HTTP requests with 426), attached to an
 * existing http/https `server` (optionally only on `path`), or `noServer`, where the
 * application passes upgrades to `handleUpgrade`. Exceptions thrown by the application's
 * hooks and `connection` listeners never crash it: they are emitted as `error` when
 * someone listens (else printed), and the client is refused with 500 or closed with 1011.
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** clients holds every open connection, until its close event (always empty with `clientTracking: false`). */
  readonly clients = new Set<WebSocket>();
  readonly #options: ResolvedServerOptions;
  readonly #http: HttpServer | HttpsServer | undefined;
  /**
   * Handshakes being decided (refused with 503 by `close()`). An array with swap-remove
   * rather than a Map: a Map that sees one set and one delete per handshake rebuilds its
   * table every few hundred handshakes, and those tables, referenced from a long-lived Map,
   * outlive scavenges and end as garbage in the old generation (docs/design/idle-memory.md).
   */
  readonly #handshakes: PendingHandshake[] = [];
  /** Sockets already refused: a late timer or a shutdown never answers (or reports) one twice. */
  readonly #refused = new WeakSet<Duplex>();
  /** The connection-level limits; undefined when none is set (nothing to count). */
  readonly #limits: ConnectionLimits | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: WebSocketServerOptions, onListening?: () => void) {
    // A rejected promise from an async `connection` listener comes back to
    // [captureRejectionSymbol] instead of becoming an unhandled rejection.
    super({ captureRejections: true });
    this.#options = resolveServerOptions(options);
    const opts = this.#options;
    const limited =
      opts.maxConnections !== Number.POSITIVE_INFINITY ||
      opts.maxConnectionsPerAddress !== Number.POSITIVE_INFINITY ||
      opts.handshakeRate !== false;
    this.#limits = limited ? new ConnectionLimits(opts) : undefined;
    if (opts.mode === 'standalone') {
      const checkEvery = Math.max(100, Math.min(1000, Math.floor(opts.handshakeTimeout / 4)));
      const http = createServer(
        {
          headersTimeout: opts.handshakeTimeout,
          requestTimeout: opts.handshakeTimeout,
          connectionsCheckingInterval: checkEvery,
        },
        (req, res) => {
          const refusal = answerPlainRequest(req, res);
          if (refusal !== undefined) this.#announce(refusal, req);
        },
      );
      http.on('error', (error) => this.emit('error', error));
      http.listen(opts.port, opts.host, opts.backlog);
      this.#http = http;
    } else {
      this.#http = opts.server;
    }
    if (this.#http) {
      this.#http.on('upgrade', this.#onUpgrade);
      this.#http.on('listening', this.#onListening);
      const siblings = attached.get(this.#http) ?? new Set<WebSocketServer>();
      attached.set(this.#http, siblings.add(this));
    }
    if (onListening) this.once('listening', onListening);
  }

  /** address is the standalone or attached server's address; null in noServer mode or before listening. */
  address(): AddressInfo | string | null {
    return this.#http?.address() ?? null;
  }

  /** shouldHandle tells whether a request targets this server's `path` (always true without one). */
  shouldHandle(req: IncomingMessage): boolean {
    if (this.#options.path === undefined) return true;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === this.#options.path;
  }

  /**
   * handleUpgrade completes the opening handshake on a socket that an HTTP server handed
   * over: request validation, origin policy, `authenticate`, subprotocol, then the 101
   * response. `callback` receives the open WebSocket; refused clients get an HTTP error
   * response and never reach it. The whole step is bounded by `handshakeTimeout` (408).
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (socket: WebSocket, request: IncomingMessage, context?: unknown) => unknown,
  ): void {
    socket.on('error', ignoreError);
    if (this.#closing) {
      this.#refuse(socket, req, SHUTTING_DOWN);
      return;
    }
    if (!this.shouldHandle(req)) {
      this.#refuse(socket, req, { code: 'DUPLEX_HANDSHAKE_WRONG_PATH', status: 400 });
      return;
    }
    let slot: Slot | undefined;
    if (this.#limits !== undefined) {
      const admitted = this.#limits.admit(
        req.socket?.remoteAddress ?? (socket as Duplex & { remoteAddress?: string }).remoteAddress,
      );
      if (admitted instanceof HandshakeError) {
        if (this.listenerCount('wsClientError') > 0) this.#handOver(admitted, socket, req);
        else
          this.#refuse(socket, req, {
            code: admitted.code,
            status: admitted.status ?? 503,
            body: `${admitted.message}\n`,
            headers: admitted.headers,
          });
        return;
      }
      slot = admitted;
      // Until the handshake succeeds, the slot is the socket's; then it is the WebSocket's.
      socket.once('close', slot.release);
    }
    const decided = decideUpgrade(this.#options, req);
    if (!(decided instanceof Promise)) {
      this.#complete(decided, socket, req, head, slot, callback);
      return;
    }
    // An `authenticate` hook decides asynchronously: the handshake is pending until it
    // answers, bounded by handshakeTimeout, and refused by close() meanwhile.
    const pending: PendingHandshake = { socket, req, index: this.#handshakes.length };
    this.#handshakes.push(pending);
    let timedOut = false;
    const clock = this.#options.clock;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      this.#forget(pending);
      this.#refuse(socket, req, {
        code: 'DUPLEX_HANDSHAKE_TIMEOUT',
        status: 408,
        body: 'opening handshake timed out\n',
      });
    }, this.#options.handshakeTimeout);
    void decided.then((decision) => {
      clock.clearTimeout(timer);
      if (timedOut) return;
      this.#forget(pending);
      this.#complete(decision, socket, req, head, slot, callback);
    });
  }

  /**
   * #complete acts on the decision about one handshake: a refusal is answered, an
   * acceptance writes the 101 response, builds the WebSocket and hands it to `callback`.
   */
  #complete(
    decision: UpgradeDecision,
    socket: Duplex,
    req: IncomingMessage,
    head: Buffer,
    slot: Slot | undefined,
    callback: (socket: WebSocket, request: IncomingMessage, context?: unknown) => unknown,
  ): void {
    if (socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    if (this.#closing) {
      this.#refuse(socket, req, SHUTTING_DOWN);
      return;
    }
    if (!decision.accept) {
      if (decision.hookError !== undefined) this.#report(decision.hookError);
      if (decision.clientError && this.listenerCount('wsClientError') > 0) {
        this.#handOver(decision.clientError, socket, req);
        return;
      }
      this.#refuse(socket, req, decision);
      return;
    }
    let response = buildServerResponse({
      key: decision.key,
      protocol: decision.protocol,
      extensions: decision.extensions,
    });
    if (this.listenerCount('headers') > 0) {
      try {
        response = this.#editHeaders(response, req);
      } catch (error) {
        this.#report(error);
        this.#refuse(socket, req, { code: 'DUPLEX_HANDSHAKE_HOOK_FAILED', status: 500 });
        return;
      }
    }
    socket.off('error', ignoreError);
    if (slot !== undefined) socket.off('close', slot.release);
    const ws = acceptWebSocket({
      socket,
      head,
      response,
      protocol: decision.protocol,
      extensionsHeader: decision.extensions,
      extensions: decision.negotiated,
      options: this.#options,
      onClosed: this.#options.clientTracking ? this.#forgetClient : undefined,
      context: decision.context,
    });
    if (this.#options.clientTracking) this.clients.add(ws);
    if (slot !== undefined) ws.addEventListener('close', slot.release, { once: true });
    let result: unknown;
    try {
      result = decision.context === undefined ? callback(ws, req) : callback(ws, req, decision.context);
    } catch (error) {
      this.#failClient(ws, error);
      return;
    }
    if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.#failClient(ws, error));
  }

  /**
   * captureRejectionSymbol receives the rejection of a promise that an async listener
   * returned (EventEmitter's captureRejections). One from a `connection` listener is
   * handled as a thrown exception: reported, and the connection closed with 1011.
   */
  override [EventEmitter.captureRejectionSymbol]<K>(
    error: Error,
    event: keyof WebSocketServerEvents | K,
    ...args: K extends keyof WebSocketServerEvents ? WebSocketServerEvents[K] : never
  ): void {
    if (event === 'connection') this.#failClient(args[0] as unknown as WebSocket, error);
    else this.#report(error);
  }

  /**
   * #failClient reports an exception of the application's code for one client and has the
   * core fail that connection (1011, Connection#failInternal) when it is still open.
   */
  #failClient(ws: WebSocket, error: unknown): void {
    this.#report(error);
    failWebSocket(ws, 'a connection listener threw or rejected', error);
  }

  /**
   * broadcast sends one message to every open client but `options.except`, serialized once
   * (a string as text, anything else as binary unless `options.binary` says otherwise, or a
   * `PreparedMessage`). Each recipient's send-buffer limit applies: a client that does not
   * keep up is closed with 1008 instead of buffering without bound, and the caller never
   * waits. Returns the number of clients the message was handed to.
   */
  broadcast(data: PreparableData | PreparedMessage, options: BroadcastOptions = {}): number {
    if (!this.#options.clientTracking) {
      throw new InvalidStateError('broadcast needs the clients set: this server has clientTracking: false');
    }
    const message = data instanceof PreparedMessage ? data : prepareMessage(data, options);
    return broadcastPrepared(this.clients, message, options.except);
  }

  /**
   * close shuts the server down gracefully: no new handshakes (503), 1001 to every
   * client, then it waits for their closing handshakes (each bounded by closeTimeout),
   * closes a standalone HTTP server, emits `close` and resolves. An attached server is
   * left running. Calling it again returns the same promise.
   */
  close(callback?: (error?: Error) => void): Promise<void> {
    this.#closing ??= this.#shutdown();
    if (callback) this.#closing.then(() => callback(), callback);
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const http = this.#http;
    http?.off('upgrade', this.#onUpgrade);
    http?.off('listening', this.#onListening);
    if (http) attached.get(http)?.delete(this);
    const gone = [...this.clients].map(
      (ws) => new Promise<void>((resolve) => ws.addEventListener('close', () => resolve(), { once: true })),
    );
    for (const ws of this.clients) ws.close(1001, SHUTDOWN_REASON);
    for (const { socket, req } of this.#handshakes.splice(0)) this.#refuse(socket, req, SHUTTING_DOWN);
    await Promise.all(gone);
    if (http && this.#options.mode === 'standalone' && http.listening) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
    this.emit('close');
  }

  /** #forget takes a decided handshake out of #handshakes (swap-remove; a second call does nothing). */
  #forget(pending: PendingHandshake): void {
    const list = this.#handshakes;
    if (list[pending.index] !== pending) return;
    const last = list.pop()!;
    if (last !== pending) {
      list[pending.index] = last;
      last.index = pending.index;
    }
  }

  /** #forgetClient drops a client from `clients` as it closes (one function for all, no closure per client). */
  #forgetClient = (ws: WebSocket): void => {
    this.clients.delete(ws);
  };

  #onListening = (): void => {
    this.emit('listening');
  };

  #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!this.shouldHandle(req)) this.#unmatched(req, socket);
    else
      this.handleUpgrade(req, socket, head, (ws, request, context) =>
        context === undefined
          ? this.emit('connection', ws, request)
          : this.emit('connection', ws, request, context),
      );
  };

  /**
   * #unmatched makes sure an upgrade that is not for our path gets an answer. Every
   * WebSocketServer on this http server sees it; when one of them has the path, it
   * answers. Otherwise the last one attached answers for all: at once with 404 when the
   * WebSocketServers are the only `upgrade` listeners, else (another library may be
   * handling it, asynchronously) with 404 after `handshakeTimeout` if by then nothing was
   * written to the socket and it is still open.
   */
  #unmatched(req: IncomingMessage, socket: Duplex): void {
    const http = this.#http;
    const siblings = http ? attached.get(http) : undefined;
    if (!http || !siblings) return;
    let last: WebSocketServer | undefined;
    for (const server of siblings) {
      if (server.shouldHandle(req)) return;
      last = server;
    }
    if (last !== this) return;
    if (http.listenerCount('upgrade') <= siblings.size) {
      this.#refuse(socket, req, NOT_FOUND);
      return;
    }
    socket.on('error', ignoreError);
    const clock = this.#options.clock;
    const timer = clock.setTimeout(() => {
      const untouched =
        !socket.destroyed && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0;
      if (untouched) this.#refuse(socket, req, NOT_FOUND);
    }, this.#options.handshakeTimeout);
    socket.once('close', () => clock.clearTimeout(timer));
  }

  /**
   * #editHeaders lets `headers` listeners change the 101 response's lines. A line with CR,
   * LF or NUL would split the response (header injection): it throws, and the client is
   * refused with 500.
   */
  #editHeaders(response: string, req: IncomingMessage): string {
    const lines = response.slice(0, -4).split('\r\n');
    this.emit('headers', lines, req);
    for (const line of lines) {
      if (typeof line !== 'string' || /[\r\n\0]/.test(line)) {
        throw new InvalidArgumentError(
          'DUPLEX_INVALID_HEADER',
          `a headers listener added a line with CR, LF or NUL: ${JSON.stringify(line)}`,
        );
      }
    }
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  /** #handOver gives a malformed handshake to the `wsClientError` listener, which answers it; the socket is destroyed after closeTimeout at most. */
  #handOver(error: HandshakeError, socket: Duplex, req: IncomingMessage): void {
    this.#refused.add(socket);
    setTimeout(() => socket.destroy(), this.#options.closeTimeout).unref();
    this.#announce(
      {
        code: error.code,
        status: error.status ?? 400,
        message: error.message,
        headers: error.headers,
        handedOver: true,
      },
      req,
    );
    try {
      this.emit('wsClientError', error, socket, req);
    } catch (listenerError) {
      this.#report(listenerError);
      socket.destroy();
    }
  }

  /**
   * #refuse answers the handshake with an HTTP error, closes the socket (destroyed after
   * closeTimeout at most) and emits `refused`, once per socket: a socket already refused, or
   * gone, is left alone. A status or header `authenticate` chose that cannot be written
   * (header injection, a status out of range) becomes a 500, reported as such.
   */
  #refuse(socket: Duplex, req: IncomingMessage, refusal: RefusalInput): void {
    if (socket.destroyed || this.#refused.has(socket)) return;
    this.#refused.add(socket);
    socket.on('error', ignoreError);
    let { code, status } = refusal;
    let headers = refusal.headers ?? {};
    if (socket.writable) {
      let response: string;
      try {
        response = buildRejectResponse(status, { body: refusal.body, headers });
      } catch (error) {
        this.#report(error);
        response = buildRejectResponse(500);
        code = 'DUPLEX_HANDSHAKE_HOOK_FAILED';
        status = 500;
        headers = {};
      }
      socket.end(response);
    }
    this.#options.clock.setTimeout(() => socket.destroy(), this.#options.closeTimeout);
    const message = refusal.body?.trimEnd() || `refused with ${status}`;
    this.#announce({ code, status, message, headers, handedOver: false }, req);
  }

  /** #announce emits `refused`; a throwing listener is reported, never thrown into the server. */
  #announce(refusal: HandshakeRefusal, req: IncomingMessage): void {
    if (this.listenerCount('refused') === 0) return;
    try {
      this.emit('refused', refusal, req);
    } catch (error) {
      this.#report(error);
    }
  }

  /** #report surfaces an exception from application code without letting it crash the process. */
  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('duplex: unhandled exception in a WebSocketServer hook or listener:', error);
  }
}

function ignoreError(): void {}

/**
 * answerPlainRequest answers a standalone server's non-upgrade requests. node:http emits
 * `upgrade` only when both the Upgrade and the Connection tokens are present; a request
 * that is a botched WebSocket handshake (an Upgrade or Sec-WebSocket-Key header without
 * the rest) gets the refusal the protocol core decides, usually 400, and is returned as a
 * refusal for the `refused` event; anything else (not a handshake attempt) 426.
 */
function answerPlainRequest(req: IncomingMessage, res: ServerResponse): HandshakeRefusal | undefined {
  let status = 426;
  let body = 'Upgrade Required\n';
  let headers: Record<string, string> = { Upgrade: 'websocket' };
  let refusal: HandshakeRefusal | undefined;
  if (req.headers.upgrade !== undefined || req.headers['sec-websocket-key'] !== undefined) {
    try {
      validateClientRequest({ method: req.method ?? '', httpVersion: req.httpVersion, headers: req.headers });
    } catch (error) {
      if (error instanceof HandshakeError) {
        status = error.status ?? 400;
        body = `${error.message}\n`;
        headers = error.headers;
        refusal = { code: error.code, status, message: error.message, headers, handedOver: false };
      }
    }
  }
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
  return refusal;
}
