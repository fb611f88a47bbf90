/**
 * ConnectPacer opens a list of connections at most `parallel` at a time: each `connect()`
 * counts as pending until the caller reports it settled (opened or failed) with `settled()`,
 * which starts the next one; `onDone` runs once every connection has settled. The load
 * generators share it so that connection storms stay bounded the same way everywhere.
 */
export class ConnectPacer {
  private started = 0;
  private pending = 0;
  private settledCount = 0;
  private onDone: (() => void) | undefined;

  constructor(
    private readonly conns: ReadonlyArray<{ connect(): void }>,
    private readonly parallel: number,
  ) {}

  /** start begins opening the connections; `onDone` runs when all have settled. */
  start(onDone: () => void): void {
    this.onDone = onDone;
    this.pump();
  }

  /** settled reports that one started connection opened or failed. */
  settled(): void {
    this.pending--;
    this.settledCount++;
    this.pump();
    if (this.settledCount === this.conns.length) this.onDone?.();
  }

  private pump(): void {
    while (this.started < this.conns.length && this.pending < this.parallel) {
      this.pending++;
      this.conns[this.started++]!.connect();
    }
  }
}
