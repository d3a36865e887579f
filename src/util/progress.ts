/** Progress lines on stderr: rewritten in place on a terminal, one line per update otherwise. */
export class Progress {
  private readonly started = performance.now();
  private readonly interactive = process.stderr.isTTY === true;

  /** `startAt`: work already done before this process (a resumed run), excluded from the pace. */
  constructor(
    private readonly total: number,
    private readonly unit: string,
    private readonly startAt = 0,
  ) {}

  /**
   * Shows `done` of `total` with an ETA from the average pace so far. Transient
   * updates (e.g. every iteration) appear only on a terminal; logs get the others.
   */
  update(done: number, detail: string, { transient = false, final = false } = {}): void {
    if (transient && !this.interactive) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const doneHere = done - this.startAt;
    const eta = doneHere > 0 ? (elapsed / doneHere) * (this.total - done) : NaN;
    const line = `${this.unit} ${done}/${this.total} · ${detail} · ${formatSeconds(elapsed)} elapsed${done < this.total && Number.isFinite(eta) ? ` · ETA ${formatSeconds(eta)}` : ''}`;
    if (this.interactive) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  }
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
