/**
 * gc-on-signal is preloaded into every benchmarked server (`node --expose-gc --import`):
 * SIGUSR2 runs a full garbage collection, so that the idle-memory scenario compares
 * resident memory after collection, the same way for every server.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
});
