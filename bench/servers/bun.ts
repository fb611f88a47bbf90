/**
 * The Bun server the benchmarks compare Duplex with, run by the `bun` binary (not Node):
 *   bun build/bench/servers/bun.js echo|relay [--port P]
 * `echo` sends each message back with its type (Bun.serve's websocket handler, no
 * compression); `relay` is the equivalent of `duplex broadcast` on Bun's own publish/subscribe:
 * every client subscribes to one topic and each message is published to it, which Bun sends
 * to every subscriber but the sender (the same recipients as the ws relay's loop).
 * Ready line and shutdown as `duplex echo`: `listening on ws://127.0.0.1:P/`, SIGTERM closes
 * every client with 1001 and exits 0; SIGUSR2 runs a full GC (as bench/gc-on-signal.ts).
 * The harness installs Bun on demand outside the repository (bench/lib/bun.ts).
 */

/** BunSocket is the part of Bun's ServerWebSocket this server uses. */
interface BunSocket {
  send(data: string | Uint8Array): number;
  subscribe(topic: string): void;
  publish(topic: string, data: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
}

/** BunRuntime is the part of the `Bun` global this server uses (the bench is typed for Node). */
interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: { upgrade(req: Request): boolean }): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      open(ws: BunSocket): void;
      message(ws: BunSocket, data: string | Uint8Array): void;
      close(ws: BunSocket): void;
    };
  }): { port: number; stop(closeActive?: boolean): void };
  gc(force: boolean): void;
}

declare const Bun: BunRuntime;

const TOPIC = 'all';
const mode = process.argv[2];
const portIndex = process.argv.indexOf('--port');
const port = portIndex > 0 ? Number(process.argv[portIndex + 1]) : 9001;
if (mode !== 'echo' && mode !== 'relay') {
  process.stderr.write('usage: bun bun.js echo|relay [--port P]\n');
  process.exit(2);
}

const clients = new Set<BunSocket>();
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(req, srv) {
    return srv.upgrade(req) ? undefined : new Response('WebSocket only', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      clients.add(ws);
      if (mode === 'relay') ws.subscribe(TOPIC);
    },
    message(ws, data) {
      if (mode === 'echo') ws.send(data);
      else ws.publish(TOPIC, data);
    },
    close(ws) {
      clients.delete(ws);
    },
  },
});
process.stdout.write(`listening on ws://127.0.0.1:${server.port}/\n`);

const stop = (): void => {
  for (const ws of clients) ws.close(1001, 'server shutting down');
  server.stop();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGUSR2', () => Bun.gc(true));
