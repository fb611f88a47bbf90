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
import { decideUpgrade } from './upgrade-decision.js';
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
  /** Standalone or attached: the HTTP server is listening. */
  listening: [];
  /** Standalone: the HTTP server failed (e.g. EADDRINUSE). Also exceptions thrown by application hooks. */
  error: [error: unknown];
  /** `close()` finished: every client is gone. */
  close: [];
}

/** Reason sent with 1001 to every client by `close()`. */
const SHUTDOWN_REASON = 'server shutting down';

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
  readonly #handshakes = new Set<Duplex>();
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
        (req, res) => answerPlainRequest(req, res),
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
      this.#refuse(socket, 503, 'server is shutting down\n');
      return;
    }
    if (!this.shouldHandle(req)) {
      this.#refuse(socket, 400);
      return;
    }
    let slot: Slot | undefined;
    if (this.#limits !== undefined) {
      const admitted = this.#limits.admit(
        req.socket?.remoteAddress ?? (socket as Duplex & { remoteAddress?: string }).remoteAddress,
      );
      if (admitted instanceof HandshakeError) {
        if (this.listenerCount('wsClientError') > 0) this.#handOver(admitted, socket, req);
        else this.#refuse(socket, admitted.status ?? 503, `${admitted.message}\n`, admitted.headers);
        return;
      }
      slot = admitted;
      // Until the handshake succeeds, the slot is the socket's; then it is the WebSocket's.
      socket.once('close', slot.release);
    }
    this.#handshakes.add(socket);
    let timedOut = false;
    const clock = this.#options.clock;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      this.#refuse(socket, 408, 'opening handshake timed out\n');
    }, this.#options.handshakeTimeout);
    void decideUpgrade(this.#options, req).then((decision) => {
      clock.clearTimeout(timer);
      this.#handshakes.delete(socket);
      if (timedOut) return;
      if (socket.destroyed || !socket.writable) {
        socket.destroy();
        return;
      }
      if (this.#closing) {
        this.#refuse(socket, 503, 'server is shutting down\n');
        return;
      }
      if (!decision.accept) {
        if (decision.hookError !== undefined) this.#report(decision.hookError);
        if (decision.clientError && this.listenerCount('wsClientError') > 0) {
          this.#handOver(decision.clientError, socket, req);
          return;
        }
        return this.#refuse(socket, decision.status, decision.body, decision.headers);
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
          return this.#refuse(socket, 500);
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
    });
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
    for (const socket of this.#handshakes) this.#refuse(socket, 503, 'server is shutting down\n');
    await Promise.all(gone);
    if (http && this.#options.mode === 'standalone' && http.listening) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
    this.emit('close');
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
      this.#refuse(socket, 404, 'no WebSocket endpoint on this path\n');
      return;
    }
    socket.on('error', ignoreError);
    const clock = this.#options.clock;
    const timer = clock.setTimeout(() => {
      const untouched =
        !socket.destroyed && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0;
      if (untouched) this.#refuse(socket, 404, 'no WebSocket endpoint on this path\n');
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
    this.#handshakes.delete(socket);
    setTimeout(() => socket.destroy(), this.#options.closeTimeout).unref();
    try {
      this.emit('wsClientError', error, socket, req);
    } catch (listenerError) {
      this.#report(listenerError);
      socket.destroy();
    }
  }

  /** #refuse answers the handshake with an HTTP error and closes the socket (destroyed after closeTimeout at most). */
  #refuse(socket: Duplex, status: number, body?: string, headers?: Record<string, string>): void {
    this.#handshakes.delete(socket);
    if (socket.destroyed) return;
    socket.on('error', ignoreError);
    if (socket.writable) {
      let response: string;
      try {
        response = buildRejectResponse(status, { body, headers });
      } catch (error) {
        this.#report(error);
        response = buildRejectResponse(500);
      }
      socket.end(response);
    }
    this.#options.clock.setTimeout(() => socket.destroy(), this.#options.closeTimeout);
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
 * the rest) gets the refusal the protocol core decides, usually 400; anything else 426.
 */
function answerPlainRequest(req: IncomingMessage, res: ServerResponse): void {
  let status = 426;
  let body = 'Upgrade Required\n';
  let headers: Record<string, string> = { Upgrade: 'websocket' };
  if (req.headers.upgrade !== undefined || req.headers['sec-websocket-key'] !== undefined) {
    try {
      validateClientRequest({ method: req.method ?? '', httpVersion: req.httpVersion, headers: req.headers });
    } catch (error) {
      if (error instanceof HandshakeError) {
        status = error.status ?? 400;
        body = `${error.message}\n`;
        headers = error.headers;
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
}
