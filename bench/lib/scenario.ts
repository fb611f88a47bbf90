/**
 * scenario is the interface between the orchestrator (bench/run.ts) and the scenarios
 * (bench/scenarios/*.ts): the options and machine facts every scenario may read, and what a
 * scenario module exports. A scenario runs its servers in alternation, round by round, and
 * returns a ScenarioReport (bench/lib/report.ts) that the one renderer prints.
 */
import type { BunBinary } from './bun.js';
import type { FdLimits, Pinning } from './proc.js';
import type { ScenarioReport } from './report.js';

/** ServerName is a server of the WebSocket scenarios (echo, idle, broadcast, wss). */
export type ServerName = 'duplex' | 'duplex-whatwg' | 'ws' | 'raw' | 'raw-batched' | 'raw-handle' | 'bun';

/** BenchOptions are the orchestrator's flags, as the scenarios read them. */
export interface BenchOptions {
  quick: boolean;
  duration: number;
  /** Whether --duration was given (churn keeps its own default otherwise). */
  durationGiven: boolean;
  warmup: number;
  rounds: number;
  /** Whether --rounds was given (churn runs each server once otherwise). */
  roundsGiven: boolean;
  churnConnections: number;
  /** The servers asked for (duplex and ws always among them). */
  servers: ServerName[];
  idleConnections: number;
  subscribers: number;
  /** Hub scenarios: rooms, subscribers per room, each publisher's window, generator threads. */
  rooms: number;
  roomSubscribers: number;
  window: number;
  hubThreads: number;
  /** Write a V8 CPU profile of every Duplex server run into this directory. */
  cpuProf: string | undefined;
  /** wss: the share of one CPU each TLS server is held to (1: no quota; docs/design/wss-bench.md). */
  wssCpuShare: number;
}

/** BenchContext is what the orchestrator found out once and hands every scenario. */
export interface BenchContext {
  o: BenchOptions;
  pin: Pinning;
  limits: FdLimits;
  bun: BunBinary | undefined;
  /**
   * The compiled C generator (`--generator wsload`, an opt-in cross-check), or undefined:
   * then bench/load.ts, the repository's own generator, drives every scenario.
   */
  wsload: string | undefined;
  /** build/bench, where the compiled servers and generators are. */
  dir: string;
  /** The repository's root (dist/cli/main.js is the `duplex` command). */
  root: string;
  /** File URLs of bench/gc-on-signal.js and bench/memory-sampler.js, preloaded into servers. */
  gcPreload: string;
  memoryPreload: string;
  /** log writes one progress line to stderr. */
  log(line: string): void;
}

/** Scenario is what every module under bench/scenarios/ exports (one or several of them). */
export interface Scenario {
  /** Its name on the command line (`--scenarios echo-32,wss`). */
  name: string;
  /** Whether `npm run bench` without --scenarios runs it. */
  inDefault: boolean;
  /** File descriptors its biggest run needs (for the `ulimit -n` check). */
  fds?(o: BenchOptions): number;
  /** Lines for the report's header (what it compares, which generator). */
  describe?(ctx: BenchContext): string[];
  run(ctx: BenchContext): Promise<ScenarioReport>;
}
