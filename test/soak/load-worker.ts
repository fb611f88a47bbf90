/**
 * load-worker is one load process of the soak: the soak (test/soak/soak.ts) forks several, so
 * that 10,000 connections do not all hang on one event loop, and adds their counts up. It runs
 * `startLoad` with the options in argv[2] (JSON) and talks over IPC:
 *
 * - it sends `{ type: 'ready' }` once its ramp-up is done;
 * - `{ type: 'counts' }` is answered with `{ type: 'counts', counts }`;
 * - `{ type: 'stop' }` stops the load and is answered with `{ type: 'final', counts }`, then
 *   the process exits.
 *
 * Uncaught exceptions and unhandled rejections are counted in `unhandled` and named in
 * `problems`; the soak requires none.
 */
import { type LoadCounts, type LoadOptions, startLoad } from './load.js';

let unhandled = 0;
const seen: string[] = [];
const onUnhandled = (error: unknown) => {
  unhandled++;
  if (seen.length < 10) seen.push(`unhandled in load worker ${process.pid}: ${String(error)}`);
};
process.on('uncaughtException', onUnhandled);
process.on('unhandledRejection', onUnhandled);

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const load = startLoad(options);
const withOwn = (counts: LoadCounts): LoadCounts => ({
  ...counts,
  unhandled: counts.unhandled + unhandled,
  problems: [...counts.problems, ...seen],
});

void load.ready.then(() => process.send!({ type: 'ready' }));
process.on('message', (m: { type: string }) => {
  if (m.type === 'counts') process.send!({ type: 'counts', counts: withOwn(load.counts()) });
  else if (m.type === 'stop') {
    void load.stop().then((counts) => {
      process.send!({ type: 'final', counts: withOwn(counts) }, () => process.exit(0));
    });
  }
});
// The soak went away without stopping us: leave too.
process.on('disconnect', () => process.exit(0));
