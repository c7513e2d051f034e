/**
 * Terminal progress: a bar with ETA on a TTY (redrawn in place), plain lines otherwise (CI logs,
 * pipes), at most one every few seconds.
 */
export interface ProgressState { epoch: number; epochs: number; batch: number; batches: number; loss: number | null; lr: number; mu: number; elapsed: number }

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  private lastPlain = 0;
  private startDone: number | null = null;
  private startElapsed = 0;

  constructor(private out: NodeJS.WriteStream = process.stderr, private tty = Boolean(process.stderr.isTTY), private plainEvery = 10) {}

  update(p: ProgressState): void {
    const done = p.epoch * p.batches + p.batch, total = p.epochs * p.batches;
    // ETA from this run's own pace (a resumed run does not count the steps it skipped).
    if (this.startDone === null) { this.startDone = done - 1; this.startElapsed = p.elapsed; }
    const rate = (done - this.startDone) / Math.max(1e-9, p.elapsed - this.startElapsed);
    const eta = p.elapsed - this.startElapsed < 1 ? NaN : (total - done) / rate;
    const loss = p.loss === null ? '-' : p.loss.toFixed(4);
    const text = `epoch ${p.epoch + 1}/${p.epochs} batch ${p.batch}/${p.batches} loss ${loss} lr ${p.lr.toPrecision(3)} μ ${p.mu.toFixed(3)} ` +
      `elapsed ${formatDuration(p.elapsed)} ETA ${formatDuration(eta)}`;
    if (this.tty) {
      const width = 24, filled = Math.round((done / total) * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / total).toFixed(1).padStart(5)}% ${text}\x1b[K`);
    } else if (p.elapsed - this.lastPlain >= this.plainEvery || p.batch === p.batches) {
      this.lastPlain = p.elapsed;
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the bar's line before other output. */
  break(): void {
    if (this.tty) this.out.write('\n');
  }
}
