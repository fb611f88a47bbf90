/**
 * fake-server is a WebSocket server for tests of the Duplex client that shares no code with
 * Duplex: it reads the opening handshake request by hand, answers it with a response it
 * builds itself (correct by default, or any bytes a test chooses), and then lets the test
 * send exact bytes and read the client's frames with the decoder of raw-client.ts.
 *
 * Stable API: `startFakeServer(options?)` returns a `FakeServer` with `port`, `url`,
 * `accept()` (the next connection, handshake answered) and `close()`.
 */
import net from 'node:net';
import { computeAccept, DEFAULT_TIMEOUT_MS, FrameSocket, type HttpHead } from './raw-client.js';

/** HandshakeRequest is the client's opening request as the fake server read it. */
export interface HandshakeRequest {
  head: HttpHead;
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Sec-WebSocket-Key as sent. */
  key: string;
  /** Subprotocols offered, in order. */
  protocols: string[];
}

/**
 * goodResponse is a correct 101 response head for `req` (RFC 6455 4.2.2), with optional
 * extra header lines (e.g. `Sec-WebSocket-Protocol: chat`).
 */
export function goodResponse(req: HandshakeRequest, extraHeaders: string[] = []): string {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAccept(req.key)}`,
    ...extraHeaders,
    '',
    '',
  ].join('\r\n');
}

/** FakeConnection is one accepted client connection after the fake server answered its handshake. */
export class FakeConnection extends FrameSocket {
  request!: HandshakeRequest;
  /** The exact response head the fake server wrote. */
  response!: string;
}

export interface FakeServerOptions {
  /**
   * respond builds the response bytes for a request. @default goodResponse(req)
   * Return a string (written as latin1) or a Buffer.
   */
  respond?: (req: HandshakeRequest) => string | Buffer;
  /** After writing a response whose status is not 101, end TCP. @default true */
  endAfterRefusal?: boolean;
}

/** FakeServer listens on 127.0.0.1 on a free port. */
export interface FakeServer {
  port: number;
  /** `ws://127.0.0.1:PORT/` */
  url: string;
  /** accept resolves to the next connection whose handshake was answered; rejects at the deadline. */
  accept(timeoutMs?: number): Promise<FakeConnection>;
  /** close stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** startFakeServer listens on 127.0.0.1:0 and answers each opening handshake as `options` say. */
export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const ready: FakeConnection[] = [];
  const failures: Error[] = [];
  let wake: (() => void) | undefined;
  const sockets = new Set<net.Socket>();
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    const conn = new FakeConnection(socket);
    void (async () => {
      try {
        const head = await conn.readHead(DEFAULT_TIMEOUT_MS);
        const [method = '', path = ''] = head.startLine.split(' ');
        const req: HandshakeRequest = {
          head,
          method,
          path,
          headers: head.headers,
          key: head.headers['sec-websocket-key'] ?? '',
          protocols: (head.headers['sec-websocket-protocol'] ?? '')
            .split(',')
            .map((p) => p.trim())
            .filter((p) => p !== ''),
        };
        const response = options.respond?.(req) ?? goodResponse(req);
        const bytes = typeof response === 'string' ? Buffer.from(response, 'latin1') : response;
        conn.request = req;
        conn.response = bytes.toString('latin1');
        await conn.send(bytes);
        if (!/^HTTP\/1\.1 101 /.test(conn.response) && (options.endAfterRefusal ?? true)) conn.end();
        ready.push(conn);
      } catch (err) {
        failures.push(err as Error);
        socket.destroy();
      }
      notify();
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    async accept(timeoutMs = DEFAULT_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = ready.shift();
        if (c !== undefined) return c;
        const f = failures.shift();
        if (f !== undefined) throw new Error(`fake server: handshake read failed: ${f.message}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('fake server: no connection within the deadline');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
