/**
 * TcpProxy forwards loopback TCP connections to a target port and can cut them, so a test can
 * drop a client's connection under it the way a tunnel or a flaky network does: no close
 * frame, no FIN from the application, just a dead TCP connection (`cut()` resets both sides).
 *
 * Stable API: `await TcpProxy.start(targetPort)`, `proxy.port`, `proxy.cut()` (resets every
 * open pair, returns how many), `proxy.refuse = true` (new connections are reset at once),
 * `proxy.close()`.
 *
 * Several backends: `await TcpProxy.start([portA, portB, portC])` sends each new connection (so
 * each reconnect) to a backend picked at random; `proxy.targets` may be replaced at any time (a
 * process restarted on another port), and `proxy.cutRandom(n)` resets n random open connections.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  /** refuse resets new connections as they arrive (the server looks unreachable). */
  refuse = false;
  /** targets are the backend ports; each new connection goes to one picked at random. */
  targets: number[];
  /** random picks the backend (a seedable source for tests). @default Math.random */
  random: () => number = Math.random;

  private constructor(targets: number[], targetHost: string) {
    this.targets = targets;
    this.#server = createServer((client) => {
      if (this.refuse || this.targets.length === 0) {
        client.resetAndDestroy();
        return;
      }
      const targetPort = this.targets[Math.floor(this.random() * this.targets.length)]!;
      const upstream = connect(targetPort, targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      const end = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** start listens on 127.0.0.1 with a free port, forwarding to targetPort (or a random one of several). */
  static async start(targetPort: number | number[], targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(Array.isArray(targetPort) ? [...targetPort] : [targetPort], targetHost);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpProxy is not listening');
    return address.port;
  }

  /** connections is the number of open forwarded connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** cut resets every open connection on both sides and returns how many there were. */
  cut(): number {
    const n = this.#pairs.size;
    for (const [client, upstream] of this.#pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    return n;
  }

  /** cutRandom resets up to n open connections picked at random and returns how many it reset. */
  cutRandom(n: number): number {
    const pairs = [...this.#pairs];
    let cut = 0;
    while (cut < n && pairs.length > 0) {
      const [pair] = pairs.splice(Math.floor(this.random() * pairs.length), 1);
      const [client, upstream] = pair!;
      this.#pairs.delete(pair!);
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      cut++;
    }
    return cut;
  }

  /** close cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
