// Preloaded into every test file's process by `npm test` (see test-args.mjs). Once the file's last
// test and hook have run, the process should exit on its own; if something still holds it open (a
// server, a socket, an interval, a child process) after EXIT_GRACE_MS, this names the open
// resources on stderr and exits with 1, so the file fails instead of hanging the run. The timer is
// unref'd: a file that ends cleanly never waits for it. Only the files' processes get it, not the
// runner that collects their reports.

import { after } from 'node:test';

const grace = Number(process.env.DUPLEX_TEST_EXIT_GRACE_MS) || 30_000;

if (process.env.NODE_TEST_CONTEXT?.startsWith('child')) {
  after(() => {
    setTimeout(() => {
      const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      console.error(
        `test: ${process.argv[1]} is still running ${grace} ms after its tests ended; open: ${open.join(', ')}`,
      );
      process.exit(1);
    }, grace).unref();
  });
}
