/**
 * threads is the worker-thread plumbing of the load generators (bench/load.ts,
 * bench/hub-load.ts): `spawnThread` starts a worker on the generator's own script and gives
 * typed waits on the messages it posts, and `percentile` reads a latency histogram that the
 * threads filled and the main thread added up.
 */
import { Worker } from 'node:worker_threads';

/** ThreadChannel is the main thread's side of one worker: post to it, wait for a message type. */
export interface ThreadChannel {
  post(m: unknown): void;
  /** next resolves with the first message of `type` not yet taken (queued ones first). */
  next(type: string): Promise<Record<string, unknown>>;
  /** on calls `f` with every message of `type` from now on (for messages that stream, not wait). */
  on(type: string, f: (m: Record<string, unknown>) => void): void;
  end(): Promise<void>;
}

/**
 * spawnThread starts `script` (the generator's own module URL) as a worker with `workerData`;
 * a worker that throws ends the process with status 1, saying so on stderr.
 */
export function spawnThread(tool: string, script: URL, workerData: unknown): ThreadChannel {
  const worker = new Worker(script, { workerData });
  const waiting = new Map<string, (m: Record<string, unknown>) => void>();
  const streams = new Map<string, (m: Record<string, unknown>) => void>();
  const inbox: Record<string, unknown>[] = [];
  worker.on('message', (m: Record<string, unknown>) => {
    const type = m['type'] as string;
    const stream = streams.get(type);
    if (stream) return stream(m);
    const w = waiting.get(type);
    if (w) {
      waiting.delete(type);
      w(m);
    } else inbox.push(m);
  });
  worker.on('error', (e) => {
    process.stderr.write(`${tool}: worker failed: ${e.message}\n`);
    process.exit(1);
  });
  return {
    post: (m) => worker.postMessage(m),
    next: (type) => {
      const i = inbox.findIndex((m) => m['type'] === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      return new Promise((resolve) => waiting.set(type, resolve));
    },
    on: (type, f) => {
      streams.set(type, f);
    },
    end: async () => {
      await worker.terminate();
    },
  };
}

/** percentile is the bucket index at which `p` of the `total` samples of `hist` are reached. */
export function percentile(hist: Uint32Array, total: number, p: number): number {
  if (total === 0) return 0;
  const want = Math.max(1, Math.ceil(p * total));
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= want) return i;
  }
  return hist.length;
}
