/**
 * profile-top summarizes a V8 CPU profile (`node --cpu-prof`, or `npm run bench --
 * --cpu-prof DIR`, which profiles the Duplex server): the functions with the most self time
 * and the Duplex source files they belong to.
 *
 *   node build/bench/profile-top.js FILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
const topIndex = process.argv.indexOf('--top');
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
if (!file) {
  process.stderr.write('usage: profile-top FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
let total = 0;
for (const v of self.values()) total += v;

const shortUrl = (url: string): string => {
  const m = /\/(dist|build|node_modules)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^node:/, 'node:');
};

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const where = n.callFrame.url ? shortUrl(n.callFrame.url) : '(native)';
  const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byFile.set(where, (byFile.get(where) ?? 0) + us);
}
const pct = (us: number): string => `${((us / total) * 100).toFixed(1)}%`;
const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`, '', '| self | function |', '|---|---|'];
for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
  lines.push(`| ${pct(us)} | ${k} |`);
lines.push('', '| self | file |', '|---|---|');
for (const [k, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15))
  lines.push(`| ${pct(us)} | ${k} |`);
process.stdout.write(`${lines.join('\n')}\n`);
