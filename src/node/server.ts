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
  PerMessageDeflate,
  validateClientRequest,
} from '../protocol/index.js';
import {
  type BroadcastOptions,
  broadcastPrepared,
  type PreparableData,
  PreparedMessage,
  prepareMessage,
} from './broadcast.js';
import { type ResolvedServerOptions, resolveServerOptions, type WebSocketServerOptions } from './options.js';
import { decideUpgrade } from './upgrade-decision.js';
import { acceptWebSocket, type WebSocket } from './websocket.js';

/** WebSocketServerEvents types the events of a WebSocketServer. */
export interface WebSocketServerEvents {
  /** A client completed the handshake. */
  connection: [socket: WebSocket, request: IncomingMessage];
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
 * WebSocketServer accepts WebSocket connections in one of three modes: standalone (it owns
 * an HTTP server on `port`, answering plain HTTP requests with 426), attached to an
 * existing http/https `server` (optionally only on `path`), or `noServer`, where the
 * application passes upgrades to `handleUpgrade`. Exceptions thrown by the application's
 * hooks and `connection` listeners never crash it: they are emitted as `error` when
 * someone listens (else printed), and the client is refused with 500 or closed with 1011.
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** clients holds every open connection, until its close event. */
  readonly clients = new Set<WebSocket>();
  readonly #options: ResolvedServerOptions;
  readonly #http: HttpServer | HttpsServer | undefined;
  readonly #handshakes = new Set<Duplex>();
  #closing: Promise<void> | undefined;

  constructor(options: WebSocketServerOptions, onListening?: () => void) {
    super();
    this.#options = resolveServerOptions(options);
    const opts = this.#options;
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
    callback: (socket: WebSocket, request: IncomingMessage) => void,
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
    this.#handshakes.add(socket);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#refuse(socket, 408, 'opening handshake timed out\n');
    }, this.#options.handshakeTimeout);
    timer.unref();
    void decideUpgrade(this.#options, req).then((decision) => {
      clearTimeout(timer);
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
        return this.#refuse(socket, decision.status, decision.body, decision.headers);
      }
      socket.off('error', ignoreError);
      const deflateOptions = this.#options.perMessageDeflate;
      const ws = acceptWebSocket({
        socket,
        head,
        response: buildServerResponse({
          key: decision.key,
          protocol: decision.protocol,
          extensions: decision.extensions,
        }),
        protocol: decision.protocol,
        extensionsHeader: decision.extensions,
        extensions:
          decision.deflate && deflateOptions
            ? [new PerMessageDeflate('server', decision.deflate, deflateOptions)]
            : [],
        options: this.#options,
        onClosed: this.#forgetClient,
      });
      this.clients.add(ws);
      try {
        callback(ws, req);
      } catch (error) {
        this.#report(error);
        ws.close(1011);
      }
    });
  }

  /**
   * broadcast sends one message to every open client but `options.except`, serialized once
   * (a string as text, anything else as binary unless `options.binary` says otherwise, or a
   * `PreparedMessage`). Each recipient's send-buffer limit applies: a client that does not
   * keep up is closed with 1008 instead of buffering without bound, and the caller never
   * waits. Returns the number of clients the message was handed to.
   */
  broadcast(data: PreparableData | PreparedMessage, options: BroadcastOptions = {}): number {
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
    if (!this.shouldHandle(req)) {
      // Another listener (another WebSocketServer on another path, say) may want it.
      if (this.#http && this.#http.listenerCount('upgrade') <= 1) this.#refuse(socket, 400);
      return;
    }
    this.handleUpgrade(req, socket, head, (ws, request) => this.emit('connection', ws, request));
  };

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
    setTimeout(() => socket.destroy(), this.#options.closeTimeout).unref();
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
