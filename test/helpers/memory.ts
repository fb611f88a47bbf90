/**
 * memory measures what a process retains: heap and external memory (Buffers) after a full
 * garbage collection. The test runner does not pass --expose-gc, so the collector is reached
 * through v8.setFlagsFromString and a fresh context, once.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | undefined;

/** gc runs a full garbage collection (twice, so that weak callbacks and their memory go too). */
export function gc(): void {
  if (collect === undefined) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  collect();
  collect();
}

/** retained is heapUsed + external after a full collection, in bytes. */
export function retained(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** MiB formats a byte count in MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
