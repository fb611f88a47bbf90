/**
 * The one report renderer of `npm run bench` (bench/lib/report.ts): every scenario's rows land
 * in one table of ratios with their targets judged, per-run tables with the same columns are
 * merged, free text comes last. Pure functions: no server, no timing.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildBench } from '../helpers/bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Target {
  op: '>=' | '<=';
  value: number;
}
interface Report {
  scenario: string;
  rows: {
    measure: string;
    compared: string;
    peer: string;
    subject: string;
    ratio: number;
    digits?: number;
    headline?: boolean;
    target?: Target;
  }[];
  detail?: { head: string[]; rows: string[][] };
  text?: string;
}
interface ReportModule {
  met(ratio: number, target: Target | undefined): string;
  renderReport(header: string[], reports: Report[]): string;
}

describe('bench report', () => {
  it('renders one table of ratios for every scenario, merged per-run tables, then free text', async () => {
    buildBench();
    const report = (await import(
      pathToFileURL(path.join(root, 'build', 'bench', 'lib', 'report.js')).href
    )) as ReportModule;
    assert.equal(report.met(1.3, { op: '>=', value: 1.2 }), 'yes');
    assert.equal(report.met(1.1, { op: '>=', value: 1.2 }), '**no**');
    assert.equal(report.met(0.7, { op: '<=', value: 0.75 }), 'yes');
    assert.equal(report.met(Number.NaN, { op: '<=', value: 0.75 }), 'n/a');
    assert.equal(report.met(2, undefined), '');
    const detail = (scenario: string) => ({
      head: ['scenario', 'server', 'runs'],
      rows: [[scenario, 'duplex', '1, 2']],
    });
    const out = report.renderReport(
      ['Duplex benchmarks', 'rounds 1'],
      [
        {
          scenario: 'echo-32',
          rows: [
            {
              measure: 'echo: msg/s',
              compared: 'Duplex / ws 8',
              peer: '100 msg/s',
              subject: '130 msg/s',
              ratio: 1.3,
              headline: true,
              target: { op: '>=', value: 1.05 },
            },
            { measure: 'same: p99', compared: 'Duplex / ws 8', peer: '10 us', subject: '9 us', ratio: 0.9 },
          ],
          detail: detail('echo-32'),
        },
        {
          scenario: 'idle',
          rows: [
            {
              measure: 'idle: RSS per connection',
              compared: 'Duplex / ws 8',
              peer: '6.4 KB',
              subject: '5.0 KB',
              ratio: 0.78125,
              digits: 3,
              headline: true,
              target: { op: '<=', value: 0.75 },
            },
          ],
          detail: detail('idle'),
        },
        { scenario: 'micro', rows: [], text: 'micro tables here\n' },
      ],
    );
    assert.ok(out.startsWith('> Duplex benchmarks\n> rounds 1\n\n'), out);
    assert.match(
      out,
      /\| scenario \| measure \| compared \| peer \| subject \| ratio \| target \| met\? \|\n\|---\|/,
    );
    assert.match(
      out,
      /\| echo-32 \| echo: msg\/s \| Duplex \/ ws 8 \| 100 msg\/s \| 130 msg\/s \| \*\*1\.30x\*\* \| >= 1\.05x \| yes \|/,
    );
    assert.match(out, /\| echo-32 \| same: p99 \| Duplex \/ ws 8 \| 10 us \| 9 us \| 0\.90x \| {2}\| {2}\|/);
    assert.match(
      out,
      /\| idle \| idle: RSS per connection \| .* \| \*\*0\.781x\*\* \| <= 0\.75x \| \*\*no\*\* \|/,
    );
    // One per-run table for both scenarios (same columns), then the free text at the end.
    assert.equal(out.match(/\| scenario \| server \| runs \|/g)?.length, 1);
    assert.match(out, /\| echo-32 \| duplex \| 1, 2 \|\n\| idle \| duplex \| 1, 2 \|/);
    assert.ok(out.trimEnd().endsWith('micro tables here'), out);
  });

  it('runs the wss row 5 rounds by default, as many as --rounds says when given, 1 with --quick', async () => {
    buildBench();
    const { wssRounds } = (await import(
      pathToFileURL(path.join(root, 'build', 'bench', 'scenarios', 'wss.js')).href
    )) as { wssRounds(o: { rounds: number; roundsGiven: boolean; quick: boolean }): number };
    assert.equal(wssRounds({ rounds: 3, roundsGiven: false, quick: false }), 5);
    assert.equal(wssRounds({ rounds: 2, roundsGiven: true, quick: false }), 2);
    assert.equal(wssRounds({ rounds: 8, roundsGiven: true, quick: false }), 8);
    assert.equal(wssRounds({ rounds: 1, roundsGiven: false, quick: true }), 1);
  });
});
