/**
 * serve-redis starts `duplex serve --redis URL` processes and drives HubClient fleets through a
 * TcpProxy, recording what every client received, for the multi-process tests of the Redis
 * broker. Every wait is bounded.
 */
import { WebSocket } from 'duplexjs';
import { HubClient } from 'duplexjs/client';
import { type RunningCli, spawnCli } from './cli-run.js';
import type { TcpProxy } from './tcp-proxy.js';

export interface ServeProcess {
  cli: RunningCli;
  port: number;
}

/** startServe spawns `duplex serve --port 0 --redis url` and waits for its ready line. */
export async function startServe(redisUrl: string): Promise<ServeProcess> {
  const cli = spawnCli(['serve', '--port', '0', '--redis', redisUrl], { timeoutMs: 180_000 });
  const match = await cli.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, 'stdout', 20_000);
  return { cli, port: Number(match[1]) };
}

/** stopServe sends SIGTERM and waits for the exit (bounded by the CLI's deadline). */
export async function stopServe(p: ServeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  p.cli.child.kill(signal);
  return (await p.cli.exited).code;
}

/** metric reads one sample of a Prometheus metric from a process's /metrics. */
export async function metric(port: number, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Received is one message as a client saw it. */
export interface Received {
  publisher: string;
  seq: number;
  offset: number;
  epoch: string;
}

/** Tracked is one subscribing client and everything it saw. */
export interface Tracked {
  client: HubClient;
  received: Received[];
  /** `subscribed` events after the first: each says whether the resubscription recovered. */
  resubscribes: { recovered: boolean }[];
  subscribed: boolean;
}

/** openClients connects n HubClients to url, each subscribed to channel, recording what they get. */
export async function openClients(url: string, n: number, channel: string): Promise<Tracked[]> {
  const out: Tracked[] = [];
  for (let i = 0; i < n; i++) {
    const client = new HubClient(url, {
      WebSocket: WebSocket as never,
      backoff: { baseMs: 50, maxMs: 400 },
      maxRetryAfterMs: 1_500,
    });
    client.on('error', () => {});
    const tracked: Tracked = { client, received: [], resubscribes: [], subscribed: false };
    const sub = client.subscribe(channel);
    sub.on('message', (data, meta) => {
      const d = data as { p: string; n: number };
      tracked.received.push({ publisher: d.p, seq: d.n, offset: meta.offset, epoch: meta.epoch });
    });
    sub.on('subscribed', (info) => {
      if (tracked.subscribed) tracked.resubscribes.push({ recovered: info.recovered });
      tracked.subscribed = true;
    });
    sub.on('error', () => {});
    out.push(tracked);
  }
  await until(() => out.every((t) => t.subscribed), 'every client subscribed', 30_000);
  return out;
}

/** until waits for check to pass, polling, at most ms. */
export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Publisher publishes numbered messages `{ p: name, n }` one after the other; a retryable
 * failure (broker down, connection gone) is retried with the same idempotency key, so each
 * number is stored once. `acked` lists the numbers the hub acknowledged.
 */
export class Publisher {
  readonly name: string;
  readonly client: HubClient;
  readonly acked: number[] = [];
  failures = 0;
  #stop = false;
  readonly done: Promise<void>;

  constructor(url: string, name: string, channel: string, count: number, gapMs: number) {
    this.name = name;
    this.client = new HubClient(url, {
      WebSocket: WebSocket as never,
      backoff: { baseMs: 50, maxMs: 400 },
      maxRetryAfterMs: 1_500,
      requestTimeoutMs: 5_000,
    });
    this.client.on('error', () => {});
    this.done = this.#run(channel, count, gapMs);
  }

  async #run(channel: string, count: number, gapMs: number): Promise<void> {
    for (let n = 1; n <= count && !this.#stop; n++) {
      const key = `${this.name}-${n}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.client.publish(channel, { p: this.name, n }, { idempotencyKey: key });
          this.acked.push(n);
          break;
        } catch (error) {
          this.failures++;
          if (attempt >= 200 || this.#stop) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  stop(): void {
    this.#stop = true;
  }
}

/** Audit is what a fleet's records say about loss and duplication. */
export interface Audit {
  clients: number;
  deliveries: number;
  duplicates: number;
  outOfOrder: number;
  /** Clients that miss at least one acknowledged message. */
  lossyClients: number;
  /** Of those, the ones that were told `recovered: false` (an explained loss). */
  explainedLossy: number;
  missing: number;
  /** Resubscriptions with recovered true / false, over all clients. */
  recoveredTrue: number;
  recoveredFalse: number;
}

/** audit checks every client against what the publishers had acknowledged. */
export function audit(fleet: Tracked[], publishers: Publisher[]): Audit {
  const a: Audit = {
    clients: fleet.length,
    deliveries: 0,
    duplicates: 0,
    outOfOrder: 0,
    lossyClients: 0,
    explainedLossy: 0,
    missing: 0,
    recoveredTrue: 0,
    recoveredFalse: 0,
  };
  for (const t of fleet) {
    a.deliveries += t.received.length;
    const seen = new Map<string, Set<number>>();
    const lastSeq = new Map<string, number>();
    for (const r of t.received) {
      let set = seen.get(r.publisher);
      if (!set) {
        set = new Set();
        seen.set(r.publisher, set);
      }
      if (set.has(r.seq)) a.duplicates++;
      set.add(r.seq);
      if (r.seq < (lastSeq.get(r.publisher) ?? 0)) a.outOfOrder++;
      lastSeq.set(r.publisher, r.seq);
    }
    let missing = 0;
    for (const p of publishers) {
      const set = seen.get(p.name);
      for (const n of p.acked) if (!set?.has(n)) missing++;
    }
    const recoveredFalse = t.resubscribes.filter((r) => !r.recovered).length;
    a.recoveredFalse += recoveredFalse;
    a.recoveredTrue += t.resubscribes.length - recoveredFalse;
    if (missing > 0) {
      a.lossyClients++;
      a.missing += missing;
      if (recoveredFalse > 0) a.explainedLossy++;
    }
  }
  return a;
}

/** Started is what a multi-process test set up, each part possibly not reached before a failure. */
export interface Started {
  publishers: readonly (Publisher | undefined)[];
  fleet: readonly Tracked[];
  proxy: TcpProxy | undefined;
  procs: readonly ServeProcess[];
}

/** stopAll takes down what a multi-process test started: publishers, then clients, proxy and serve processes. */
export async function stopAll({ publishers, fleet, proxy, procs }: Started): Promise<void> {
  for (const p of publishers) {
    p?.stop();
    p?.client.close();
  }
  for (const c of fleet) c.client.close();
  await proxy?.close();
  await Promise.all(procs.map((p) => stopServe(p)));
}
