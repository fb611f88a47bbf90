/**
 * report is the one renderer of `npm run bench` (bench/run.ts): whatever scenarios ran, it
 * prints the run's header, one Markdown table of ratios (a row per measure of every scenario,
 * each against its peer and, where the issues set one, its target), then the per-run tables
 * of the scenarios (consecutive scenarios with the same columns share one table), then the
 * free text some scenarios add (the micro-benchmarks).
 */
import { fmt } from './proc.js';

/** Target is what an issue asks of a ratio: at least (`>=`) or at most (`<=`) `value`. */
export interface Target {
  op: '>=' | '<=';
  value: number;
}

/** RatioRow is one measure of one scenario: a subject beside its peer, and their ratio. */
export interface RatioRow {
  /** What is measured: `echo, 100 connections, 32 B text: msg/s`, `same: p99 latency`. */
  measure: string;
  /** The two sides: `Duplex / ws 8`, `raw node:net / ws 8`, `Duplex hub / Socket.IO 4`. */
  compared: string;
  /** The peer's and the subject's absolute figures, formatted with their units. */
  peer: string;
  subject: string;
  /** Median of per-round ratios, subject / peer. */
  ratio: number;
  /** Decimals of the ratio (2 unless given). */
  digits?: number;
  /** Bold the ratio: the scenario's headline figure. */
  headline?: boolean;
  target?: Target;
}

/** DetailTable is a scenario's per-run table: its columns and its rows, cells already formatted. */
export interface DetailTable {
  head: string[];
  rows: string[][];
}

/** ScenarioReport is what every scenario module returns to the orchestrator. */
export interface ScenarioReport {
  scenario: string;
  rows: RatioRow[];
  detail?: DetailTable;
  /** Free text printed after the tables (e.g. the micro-benchmarks' own tables). */
  text?: string;
  /** Raw figures for `--json`. */
  json?: unknown;
}

/** met tells whether a ratio meets its target: `yes`, `**no**`, or `n/a` when it is not a number. */
export function met(ratio: number, target: Target | undefined): string {
  if (!target) return '';
  if (!Number.isFinite(ratio)) return 'n/a';
  return (target.op === '>=' ? ratio >= target.value : ratio <= target.value) ? 'yes' : '**no**';
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** ratioTable is the one table of ratios of every scenario that has rows. */
export function ratioTable(reports: ScenarioReport[]): string {
  const rows: string[][] = [];
  for (const r of reports) {
    for (const row of r.rows) {
      const x = `${fmt(row.ratio, row.digits ?? 2)}x`;
      rows.push([
        r.scenario,
        row.measure,
        row.compared,
        row.peer,
        row.subject,
        row.headline ? `**${x}**` : x,
        row.target ? `${row.target.op} ${row.target.value}x` : '',
        met(row.ratio, row.target),
      ]);
    }
  }
  return table(['scenario', 'measure', 'compared', 'peer', 'subject', 'ratio', 'target', 'met?'], rows).join(
    '\n',
  );
}

/** detailTables merges the per-run tables of consecutive scenarios with the same columns. */
export function detailTables(reports: ScenarioReport[]): string[] {
  const out: string[] = [];
  let head: string[] | undefined;
  let rows: string[][] = [];
  const flush = (): void => {
    if (head) out.push(table(head, rows).join('\n'));
    head = undefined;
    rows = [];
  };
  for (const r of reports) {
    if (!r.detail) continue;
    if (!head || head.join('|') !== r.detail.head.join('|')) {
      flush();
      head = r.detail.head;
    }
    rows.push(...r.detail.rows);
  }
  flush();
  return out;
}

/** renderReport is the whole Markdown report: header, ratios, per-run tables, free text. */
export function renderReport(header: string[], reports: ScenarioReport[]): string {
  const parts: string[] = [header.map((h) => `> ${h}`).join('\n')];
  if (reports.some((r) => r.rows.length > 0)) {
    parts.push(ratioTable(reports));
    parts.push(
      'Ratios are medians of per-round ratios (subject / peer of the same round, the servers alternated); absolute figures are medians.',
    );
  }
  parts.push(...detailTables(reports));
  for (const r of reports) if (r.text) parts.push(r.text.trimEnd());
  return `${parts.join('\n\n')}\n`;
}
