export function runBench(_o: unknown): Promise<number> {
  return Promise.resolve(0);
}
