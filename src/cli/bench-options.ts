export const BENCH_USAGE = 'usage: duplex bench URL\n';
export function parseBenchOptions(_argv: string[]): undefined {
  return undefined;
}
