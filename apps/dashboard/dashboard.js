// The Duplex dashboard: HubClient from /duplex-client.js, charts by uPlot served by the same
// server (/vendor/uplot.js, never a CDN). Prices come on `market:<symbol>` (published by the
// server, conflated), the server tiles from the `stats` method once a second.
import { HubClient } from '/duplex-client.js';
import uPlot from '/vendor/uplot.js';

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA'];
const WINDOW_POINTS = 480; // two minutes at four ticks a second
const $ = (id) => document.getElementById(id);

const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/hub`;
const client = new HubClient(url, { name: 'duplex-dashboard' });

client.on('state', (state) => {
  $('state').textContent = state;
  $('state').dataset.state = state;
  const banner = $('banner');
  banner.hidden = state === 'open' || state === 'connecting';
  if (state === 'reconnecting') banner.textContent = 'Connection lost. Reconnecting…';
  if (state === 'closed') banner.textContent = 'Disconnected. Reload the page to come back.';
  if (state === 'open') refresh();
});

// ---- market --------------------------------------------------------------------------------

const css = getComputedStyle(document.documentElement);
const tickers = new Map();

for (const symbol of SYMBOLS) {
  const card = document.createElement('article');
  card.className = 'ticker';
  card.dataset.symbol = symbol;
  card.dataset.ticks = '0';
  card.setAttribute('aria-labelledby', `t-${symbol}`);
  const header = document.createElement('header');
  const title = document.createElement('h3');
  title.id = `t-${symbol}`;
  title.textContent = symbol;
  const change = document.createElement('span');
  change.className = 'change';
  const price = document.createElement('span');
  price.className = 'price';
  price.setAttribute('aria-live', 'off');
  price.textContent = '—';
  header.append(title, change, price);
  const chart = document.createElement('div');
  chart.className = 'chart';
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', `${symbol} price over the last two minutes`);
  card.append(header, chart);
  $('tickers').append(card);
  const t = { symbol, card, price, change, chartEl: chart, points: [], plot: undefined, dirty: false, ticks: 0 };
  tickers.set(symbol, t);
  subscribeTicker(t);
}

function makePlot(t) {
  const width = Math.max(200, t.chartEl.clientWidth);
  t.plot = new uPlot(
    {
      width,
      height: 150,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true } },
      axes: [
        { stroke: css.getPropertyValue('--muted'), grid: { stroke: '#e3e6e9' }, size: 30 },
        { stroke: css.getPropertyValue('--muted'), grid: { stroke: '#e3e6e9' }, size: 50 },
      ],
      series: [{}, { label: t.symbol, stroke: css.getPropertyValue('--accent'), width: 2 }],
    },
    [[], []],
    t.chartEl,
  );
}

function subscribeTicker(t) {
  const sub = client.subscribe(`market:${t.symbol}`);
  sub.on('subscribed', async ({ resubscribed, recovered }) => {
    if (resubscribed && recovered) return;
    // First time, or the server lost its log (restart): start from what history holds now.
    try {
      const page = await sub.history({ limit: WINDOW_POINTS });
      const known = new Set(t.points.map((p) => p.t));
      const older = page.publications.map((p) => p.data).filter((d) => valid(d) && !known.has(d.t));
      t.points = [...older, ...t.points].sort((a, b) => a.t - b.t).slice(-WINDOW_POINTS);
      draw(t);
    } catch {
      // Live ticks fill the chart anyway.
    }
  });
  sub.on('message', (data) => {
    if (!valid(data)) return;
    t.points.push(data);
    if (t.points.length > WINDOW_POINTS) t.points.splice(0, t.points.length - WINDOW_POINTS);
    t.ticks++;
    draw(t);
  });
}

function valid(d) {
  return d !== null && typeof d === 'object' && typeof d.price === 'number' && typeof d.t === 'number';
}

/** draw redraws a ticker at most once per animation frame, however fast ticks come. */
function draw(t) {
  if (t.dirty) return;
  t.dirty = true;
  requestAnimationFrame(() => {
    t.dirty = false;
    if (!t.plot) makePlot(t);
    const xs = t.points.map((p) => p.t / 1000);
    const ys = t.points.map((p) => p.price);
    t.plot.setData([xs, ys]);
    t.card.dataset.ticks = String(t.ticks);
    t.card.dataset.points = String(xs.length);
    const last = ys[ys.length - 1];
    const first = ys[0];
    if (last === undefined) return;
    t.price.textContent = last.toFixed(2);
    const pct = first ? ((last - first) / first) * 100 : 0;
    t.change.dataset.dir = pct > 0 ? 'up' : pct < 0 ? 'down' : 'flat';
    t.change.textContent = `${pct > 0 ? '▲' : pct < 0 ? '▼' : '■'} ${Math.abs(pct).toFixed(2)}%`;
    t.change.title = 'change over the chart';
  });
}

new ResizeObserver(() => {
  for (const t of tickers.values()) t.plot?.setSize({ width: Math.max(200, t.chartEl.clientWidth), height: 150 });
}).observe($('tickers'));

// ---- server tiles --------------------------------------------------------------------------

const TILES = [
  ['connections', 'Connections'],
  ['inRate', 'Messages in /s'],
  ['outRate', 'Messages out /s'],
  ['pubRate', 'Publications /s'],
  ['subscriptions', 'Subscriptions'],
  ['channels', 'Channels'],
  ['rss', 'Memory (RSS)'],
  ['heap', 'Heap used'],
  ['broker', 'Broker'],
  ['uptime', 'Uptime'],
];
const tiles = new Map();
for (const [key, label] of TILES) {
  const div = document.createElement('div');
  const dt = document.createElement('dt');
  const dd = document.createElement('dd');
  dt.textContent = label;
  dd.textContent = '—';
  dd.dataset.tile = key;
  div.append(dt, dd);
  $('tiles').append(div);
  tiles.set(key, dd);
}

let previous;
const mb = (bytes) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const rate = (now, before, key) =>
  before && now.at > before.at ? ((now[key] - before[key]) * 1000) / (now.at - before.at) : 0;
const duration = (s) =>
  s < 120 ? `${s} s` : s < 7200 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;

async function refresh() {
  if (client.state !== 'open') return;
  try {
    const s = await client.call('stats', null, { timeoutMs: 2_000 });
    const set = (key, value) => {
      tiles.get(key).textContent = value;
    };
    set('connections', String(s.connections));
    set('inRate', rate(s, previous, 'messagesIn').toFixed(1));
    set('outRate', rate(s, previous, 'messagesOut').toFixed(1));
    set('pubRate', rate(s, previous, 'publications').toFixed(1));
    set('subscriptions', String(s.subscriptions));
    set('channels', String(s.channels));
    set('rss', mb(s.rssBytes));
    set('heap', mb(s.heapUsedBytes));
    set('broker', s.broker);
    set('uptime', duration(s.uptimeSeconds));
    previous = s;
    $('tiles').dataset.updates = String(Number($('tiles').dataset.updates ?? 0) + 1);
  } catch {
    // The next second tries again.
  }
}
setInterval(refresh, 1_000);
