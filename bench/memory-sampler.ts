/**
 * memory-sampler is preloaded into the servers of the `churn`, `idle` and `hub-idle` scenarios (`node --import`,
 * after gc-on-signal): every DUPLEX_BENCH_SAMPLE_MS milliseconds it prints one line
 * `memory {"t":ms,"rss":bytes,"heapUsed":bytes,"heapTotal":bytes,"external":bytes}` on
 * stdout, and one more tagged `"gc":true` right after each forced collection (SIGUSR2), so
 * the harness reads the server's heap as well as its RSS. The timer is unref'd: it never
 * keeps a server alive.
 */
const every = Number(process.env['DUPLEX_BENCH_SAMPLE_MS'] ?? 0);
const t0 = Date.now();

function sample(gc: boolean): void {
  const m = process.memoryUsage();
  const line = {
    t: Date.now() - t0,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    gc,
  };
  process.stdout.write(`memory ${JSON.stringify(line)}\n`);
}

if (every > 0) {
  setInterval(() => sample(false), every).unref();
  // Registered after gc-on-signal's listener, so it runs once the collection is done.
  process.on('SIGUSR2', () => sample(true));
}
