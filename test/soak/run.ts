/**
 * `npm run soak`: the full soak of issue 13, item 6, outside CI: 10,000 echo connections (a
 * third with permessage-deflate), 20 slow readers and 200 hub clients for 10 minutes against
 * a server in a child process, with the memory judged as a slope after a 2-minute warm-up.
 * SOAK_SECONDS and SOAK_CONNECTIONS change the length and the connection count. Exits 1 on
 * any failure. The CI version is test/soak/soak.test.ts (60 s, 300 connections).
 */
import { mib } from '../helpers/memory.js';
import { runSoak } from './soak.js';

const KiB = 1024;
const seconds = Number(process.env['SOAK_SECONDS'] ?? 600);
const connections = Number(process.env['SOAK_CONNECTIONS'] ?? 10_000);
const maxRetainedSlope = 64 * KiB;
const maxRssSlope = 512 * KiB;

console.log(`soak: ${connections} connections for ${seconds} s`);
const report = await runSoak({
  durationMs: seconds * 1000,
  warmupMs: Math.min(120_000, (seconds * 1000) / 3),
  connections,
  slowReaders: 20,
  hubClients: 200,
  thinkMs: 1_000,
  sampleMs: Math.min(10_000, (seconds * 1000) / 20),
  maxRetainedSlope,
  maxRssSlope,
  log: (line) => console.log(line),
});
console.log(
  `echoes ${report.echoes} (${mib(report.bytes)}), connections opened ${report.opened}, terminated ${report.terminated}, ` +
    `published ${report.published}, delivered ${report.delivered}, presence ${report.presenceCalls}, slow rounds ${report.slowRounds}, ` +
    `client errors ${report.clientErrors}, retained slope ${(report.retainedSlope / KiB).toFixed(1)} KiB/s (bound ${maxRetainedSlope / KiB}), ` +
    `rss slope ${(report.rssSlope / KiB).toFixed(1)} KiB/s (bound ${maxRssSlope / KiB})`,
);
console.log(`client error kinds: ${JSON.stringify(report.errorKinds)}`);
const failures = [
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
