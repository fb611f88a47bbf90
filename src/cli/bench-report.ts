import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BenchResult } from './bench.js';
import type { Histogram } from './bench-histogram.js';
import type { TimelinePoint } from './bench-run.js';

const require = createRequire(import.meta.url);

/** uPlotAssets reads uPlot's script and stylesheet from the installed package, to inline them. */
function uPlotAssets(): { js: string; css: string } {
  return {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

/**
 * percentileSpectrum samples the latency distribution the way HdrHistogram plots it: x is
 * the number of nines of the percentile (0 = p0, 1 = p90, 2 = p99, 3 = p99.9 ...), y the
 * latency at that percentile, in steps of 1/20 of a nine, as far as the sample count reaches.
 */
export function percentileSpectrum(histogram: Histogram): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  const count = histogram.totalCount;
  if (count === 0) return [xs, ys];
  const deepest = Math.min(6, Math.log10(count));
  for (let step = 0; step / 20 <= deepest + 1e-9; step++) {
    const nines = step / 20;
    xs.push(nines);
    ys.push(histogram.getValueAtPercentile(100 * (1 - 10 ** -nines)));
  }
  xs.push(Math.max(deepest, xs[xs.length - 1]!) + 0.05);
  ys.push(histogram.maxValue);
  return [xs, ys];
}

/** scriptJson makes JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** The page's own script: it draws both charts with uPlot from the embedded data. */
const PAGE_SCRIPT = `
const data = JSON.parse(document.getElementById('bench-data').textContent);
const width = Math.min(960, document.body.clientWidth - 32);
const us = (v) => v == null ? '' : v < 1000 ? v + ' µs' : v < 1e6 ? (v / 1000).toFixed(v < 1e4 ? 2 : 1) + ' ms' : (v / 1e6).toFixed(2) + ' s';
const nz = (v) => (v > 0 ? v : null);
const tl = data.timeline;
const latency = new uPlot({
  title: 'Latency and throughput over time (1 s intervals)',
  width, height: 360,
  scales: { x: { time: false }, y: { distr: 3 }, rate: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
  series: [
    { label: 't (s)', value: (u, v) => v == null ? '' : v.toFixed(0) + ' s' },
    { label: 'p50', stroke: '#1b7f3b', width: 2, value: (u, v) => us(v) },
    { label: 'p90', stroke: '#c08000', width: 2, value: (u, v) => us(v) },
    { label: 'p99', stroke: '#c0392b', width: 2, value: (u, v) => us(v) },
    { label: 'max', stroke: '#7d3c98', width: 1, dash: [4, 4], value: (u, v) => us(v) },
    { label: 'msgs/s', stroke: '#2c6fbb', width: 1, scale: 'rate', fill: 'rgba(44,111,187,0.08)', value: (u, v) => v == null ? '' : Math.round(v).toLocaleString('en-US') },
  ],
  axes: [
    { label: 'seconds since start' },
    { label: 'latency', values: (u, vals) => vals.map(us), size: 70 },
    { scale: 'rate', side: 1, label: 'msgs/s', grid: { show: false }, size: 70, values: (u, vals) => vals.map((v) => v >= 1000 ? (v / 1000) + 'k' : v) },
  ],
}, [tl.map((p) => p.t), tl.map((p) => nz(p.p50_us)), tl.map((p) => nz(p.p90_us)), tl.map((p) => nz(p.p99_us)), tl.map((p) => nz(p.max_us)), tl.map((p) => p.msgs_per_s)], document.getElementById('latency'));
const pct = (n) => { const p = 100 * (1 - Math.pow(10, -n)); return (Number.isInteger(n) ? p.toFixed(Math.max(0, n - 2)) : p.toFixed(3)) + '%'; };
const spectrum = new uPlot({
  title: 'Latency by percentile (measured time, HDR histogram)',
  width, height: 360,
  scales: { x: { time: false }, y: { distr: 3 } },
  series: [
    { label: 'percentile', value: (u, v) => v == null ? '' : pct(v) },
    { label: 'latency', stroke: '#c0392b', width: 2, fill: 'rgba(192,57,43,0.08)', value: (u, v) => us(v) },
  ],
  axes: [
    { label: 'percentile', splits: (u) => { const out = []; for (let i = 0; i <= Math.floor(u.scales.x.max); i++) out.push(i); return out; }, values: (u, vals) => vals.map(pct) },
    { label: 'latency', values: (u, vals) => vals.map(us), size: 70 },
  ],
}, [data.spectrum[0], data.spectrum[1].map(nz)], document.getElementById('spectrum'));
window.duplexBench = { charts: [latency, spectrum], timelinePoints: tl.length, spectrumPoints: data.spectrum[0].length };
`;

/**
 * renderReport builds the self-contained HTML page of `duplex bench --report`: the result
 * table, latency and throughput over time, and the latency distribution, drawn by uPlot,
 * which is inlined (the page loads nothing from the network).
 */
export function renderReport(
  result: BenchResult | { url: string },
  timeline: TimelinePoint[],
  total: Histogram,
  rows: [string, string][] = echoRows(result as BenchResult),
): string {
  const { js, css } = uPlotAssets();
  const table = rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const data = { result, timeline, spectrum: percentileSpectrum(total) };
  return page(result.url, table, data, js, css);
}

/** echoRows is the result table of an echo run. */
function echoRows(result: BenchResult): [string, string][] {
  return [
    ['target', result.url],
    ['connections', `${result.connected} of ${result.connections} opened, ${result.threads} threads`],
    ['messages', `${result.size} B ${result.type}`],
    [
      'load',
      result.rate === null
        ? `closed loop, ${result.inflight} in flight per connection`
        : `${result.rate} msgs/s offered, at most ${result.inflight} in flight per connection (latency from when due)`,
    ],
    ['time', `${result.duration_s} s measured after ${result.warmup_s} s warm-up`],
    ['throughput', `${result.msgs_per_s.toLocaleString('en-US')} msgs/s, ${result.mbytes_per_s} MB/s`],
    [
      'latency',
      `p50 ${result.p50_us} µs, p90 ${result.p90_us} µs, p99 ${result.p99_us} µs, p99.9 ${result.p999_us} µs, max ${result.max_us} µs`,
    ],
    ['errors', String(result.errors)],
  ];
}

function page(url: string, table: string, data: unknown, js: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>duplex bench: ${escapeHtml(url)}</title>
<style>${css}
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
table { border-collapse: collapse; margin-bottom: 16px; }
th { text-align: left; padding: 2px 12px 2px 0; font-weight: 600; }
td { padding: 2px 0; font-variant-numeric: tabular-nums; }
.chart { margin: 16px 0 32px; }
</style>
</head>
<body>
<h1>duplex bench</h1>
<table>
${table}
</table>
<div class="chart" id="latency"></div>
<div class="chart" id="spectrum"></div>
<script type="application/json" id="bench-data">${scriptJson(data)}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
