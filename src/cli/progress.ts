/**
 * Terminal progress: a bar with ETA on a TTY (redrawn in place), plain lines otherwise (CI logs,
 * pipes), at most one every few seconds. The trainer reports steps as the GPU finishes them, so
 * the bar moves with the work done; the ETA is the remaining steps at the pace of the last minute
 * (at least the last few steps), so it settles instead of jumping with each queue flush.
 */
export interface ProgressState { epoch: number; epochs: number; batch: number; batches: number; loss: number | null; lr: number; mu: number; elapsed: number }

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** Pace over a sliding window of (seconds, steps done) samples. */
export class Pace {
  private samples: [number, number][] = [];
  constructor(private readonly window = 60, private readonly minSamples = 5) {}

  add(seconds: number, done: number): void {
    this.samples.push([seconds, done]);
    while (this.samples.length > this.minSamples && seconds - this.samples[1][0] >= this.window) this.samples.shift();
  }

  /** Seconds for the remaining steps, or NaN until there is a pace to go by. */
  eta(remaining: number): number {
    if (this.samples.length < 2) return NaN;
    const [t0, d0] = this.samples[0], [t1, d1] = this.samples[this.samples.length - 1];
    if (d1 <= d0 || t1 - t0 < 1) return NaN;
    return (remaining * (t1 - t0)) / (d1 - d0);
  }
}

export class Progress {
  private lastPlain = -Infinity;
  private lastPlainDone = -1;
  private readonly pace = new Pace();
  private open = false;

  constructor(private out: NodeJS.WriteStream = process.stderr, private tty = Boolean(process.stderr.isTTY), private plainEvery = 10) {}

  update(p: ProgressState): void {
    const done = (p.epoch - 1) * p.batches + p.batch, total = p.epochs * p.batches;
    this.pace.add(p.elapsed, done);
    const eta = this.pace.eta(total - done);
    const loss = p.loss === null ? '…' : p.loss.toFixed(4);
    const text = `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${loss} lr ${p.lr.toPrecision(3)} μ ${p.mu.toFixed(3)} ` +
      `elapsed ${formatDuration(p.elapsed)} ETA ${formatDuration(eta)}`;
    if (this.tty) {
      const width = 24, filled = Math.round((done / total) * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / total).toFixed(1).padStart(5)}% ${text}\x1b[K`);
      this.open = true;
    } else if ((p.elapsed - this.lastPlain >= this.plainEvery || p.batch === p.batches) && done !== this.lastPlainDone) {
      this.lastPlain = p.elapsed;
      this.lastPlainDone = done;
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the bar's line before other output (a no-op when no bar is drawn). */
  break(): void {
    if (this.tty && this.open) this.out.write('\n');
    this.open = false;
  }
}
