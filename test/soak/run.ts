/**
 * `npm run soak`: the full soak of issue 13, item 6, outside CI: 10,000 echo connections (a
 * third with permessage-deflate), 8 slow readers and 200 hub clients for 10 minutes against a
 * server in a child process, the load spread over 4 load processes, with the server's memory
 * judged as a slope after a 2-minute warm-up. Exits 1 on any failure.
 *
 * The environment changes the run: SOAK_SECONDS (600), SOAK_CONNECTIONS (10000), SOAK_WORKERS
 * (4), SOAK_THINK_MS (30000: the mean pause of an echo client between messages, so 10,000
 * clients send about 330 messages a second; the point is leaks under many connections and
 * churn, not throughput), SOAK_MIN_MESSAGES / SOAK_MAX_MESSAGES (5 / 40: an echo client's
 * life, about 11 minutes at that pace, so about 15 connections are replaced each second),
 * SOAK_HUB_CLIENTS (200), SOAK_SLOW_READERS (8), SOAK_RAMP_SECONDS (600: the run fails when
 * the ramp-up has not started every connection by then, and says how many were held).
 *
 * Open files: the server process holds one descriptor per connection, so the soft limit
 * (`ulimit -n`) must exceed the connection count. When it does not and the hard limit allows,
 * this script runs itself again under a raised soft limit; otherwise it stops and says so.
 * The CI version is test/soak/soak.test.ts (60 s, 300 connections).
 */
import { execSync, spawnSync } from 'node:child_process';
import { mib } from '../helpers/memory.js';
import { runSoak } from './soak.js';

const KiB = 1024;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const seconds = env('SOAK_SECONDS', 600);
const connections = env('SOAK_CONNECTIONS', 10_000);
const workers = env('SOAK_WORKERS', 4);
const thinkMs = env('SOAK_THINK_MS', 30_000);
const hubClients = env('SOAK_HUB_CLIENTS', 200);
const slowReaders = env('SOAK_SLOW_READERS', 8);
const minMessages = env('SOAK_MIN_MESSAGES', 5);
const maxMessages = env('SOAK_MAX_MESSAGES', 40);
const rampSeconds = env('SOAK_RAMP_SECONDS', 600);
const maxRetainedSlope = 64 * KiB;
const maxRssSlope = 512 * KiB;

// ---- open files ----
const needFiles = connections + hubClients + slowReaders + 1_000;
const limit = (flag: string) => {
  const text = execSync(`ulimit ${flag}`, { shell: '/bin/sh', encoding: 'utf8' }).trim();
  return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
};
const soft = limit('-n');
if (soft < needFiles) {
  const hard = limit('-Hn');
  if (hard < needFiles || process.env['SOAK_RAISED_NOFILE']) {
    console.error(
      `soak: ${connections} connections need about ${needFiles} open files, the limit is ${soft} (hard ${hard}); ` +
        `raise it (ulimit -n ${needFiles}, as root if the hard limit is lower) or set SOAK_CONNECTIONS lower`,
    );
    process.exit(1);
  }
  console.log(`soak: raising the open-file limit from ${soft} to ${needFiles} for this run`);
  const again = spawnSync(
    '/bin/sh',
    ['-c', `ulimit -n ${needFiles} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, SOAK_RAISED_NOFILE: '1' } },
  );
  process.exit(again.status ?? 1);
}

console.log(
  `soak: ${connections} echo connections (think ${thinkMs} ms), ${hubClients} hub clients, ${slowReaders} slow readers, ` +
    `${workers} load processes, ${seconds} s; open-file limit ${soft}`,
);
const report = await runSoak({
  durationMs: seconds * 1000,
  warmupMs: Math.min(120_000, (seconds * 1000) / 3),
  connections,
  slowReaders,
  hubClients,
  hubChannels: Math.max(5, Math.ceil(hubClients / 20)),
  hubThinkMs: 2_000,
  thinkMs,
  messagesPerConnection: [minMessages, maxMessages],
  workers,
  rampTimeoutMs: rampSeconds * 1000,
  sampleMs: Math.min(10_000, (seconds * 1000) / 20),
  maxRetainedSlope,
  maxRssSlope,
  log: (line) => console.log(line),
});
console.log(
  `echoes ${report.echoes} (${mib(report.bytes)}), corrupt ${report.corrupt}, connections opened ${report.opened}, terminated ${report.terminated}, ` +
    `published ${report.published}, delivered ${report.delivered}, presence ${report.presenceCalls}, hub failures ${report.hubFailures}, ` +
    `slow rounds ${report.slowRounds}, client errors ${report.clientErrors}, unhandled ${report.unhandled}`,
);
console.log(
  `server: retained slope ${(report.retainedSlope / KiB).toFixed(1)} KiB/s (bound ${maxRetainedSlope / KiB}), ` +
    `rss slope ${(report.rssSlope / KiB).toFixed(1)} KiB/s (bound ${maxRssSlope / KiB}), ` +
    `peak rss ${mib(report.peakRss)}, peak retained ${mib(report.peakRetained)}; peak TIME_WAIT sockets ${report.peakTimeWait}, ` +
    `listen overflows (machine-wide) ${report.listenOverflows}, loop delay max: server ${report.serverLoopDelayMaxMs.toFixed(0)} ms, load ${report.loadLoopDelayMaxMs.toFixed(0)} ms`,
);
console.log(
  `ramp-up ${report.rampDone ? 'done' : 'NOT done'} in ${report.rampSeconds.toFixed(0)} s; echo connections held after warm-up: ${report.minHeld} to ${report.maxHeld}`,
);
console.log(`client error kinds: ${JSON.stringify(report.errorKinds)}`);
const failures = [
  ...(report.rampDone
    ? []
    : [`the ramp-up did not reach ${connections} connections within ${rampSeconds} s`]),
  ...report.problems.slice(0, 20),
  ...(report.corrupt > 0 ? [`${report.corrupt} corrupt echoes`] : []),
  ...(report.unhandled > 0 ? [`${report.unhandled} unhandled errors`] : []),
  ...(report.hubFailures > 0 ? [`${report.hubFailures} failed hub requests`] : []),
  ...(report.retainedSlope >= maxRetainedSlope ? ['retained memory slope over its bound'] : []),
  ...(report.rssSlope >= maxRssSlope ? ['RSS slope over its bound'] : []),
];
if (failures.length > 0) {
  console.error(`soak FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('soak passed');
process.exit(0);
