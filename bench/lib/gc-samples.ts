/**
 * GcSamples reads the memory samples a bench server prints (bench/memory-sampler.ts: a line
 * `memory {json}` per sample) and forces a full GC in it on demand (bench/gc-on-signal.ts:
 * SIGUSR2), resolving with the sample taken after that GC. The hub and churn scenarios share it.
 */

/** MemorySample is one line of bench/memory-sampler.ts. */
export interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  /** Memory of Buffers and other objects outside the V8 heap (process.memoryUsage().external). */
  external: number;
  /** True for the sample taken right after a forced GC. */
  gc: boolean;
}

export class GcSamples {
  #waiting: ((s: MemorySample) => void) | undefined;

  /**
   * line takes one line of the server's output: a sample after a forced GC answers the pending
   * `afterGc`, any other sample goes to `periodic`.
   */
  line(line: string, periodic?: (s: MemorySample) => void): void {
    if (!line.startsWith('memory ')) return;
    const s = JSON.parse(line.slice(7)) as MemorySample;
    if (s.gc) {
      this.#waiting?.(s);
      this.#waiting = undefined;
    } else periodic?.(s);
  }

  /** afterGc forces a full GC in process `pid` and waits (at most 5 s) for the sample taken after it. */
  afterGc(pid: number): Promise<MemorySample | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5_000);
      this.#waiting = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        resolve(undefined);
      }
    });
  }
}
