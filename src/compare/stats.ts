/**
 * What a comparison measures, from the runs' logs: per run, the epochs and wall time to reach
 * each accuracy threshold, final and best accuracy, the damping regime's share of steps and
 * epochs; per method over seeds, mean ± sd of each; against the baseline, the speed-up and whether
 * the lead is larger than the seed-to-seed spread. Pure functions of plain records (browser-safe),
 * so they are tested on synthetic logs.
 *
 * Epochs count from 1: "epoch 3" is the evaluation after the third pass over the training data
 * (the console, the log and the checkpoint folders count the same way).
 */
import type { Regime, RegimeFractions } from '../schedule';

export interface EpochPoint {
  /** 1-based: the evaluation after this many epochs. */
  epoch: number;
  accuracy: number;
  testLoss: number;
  trainLoss: number;
  /** Wall seconds of this run at the end of this epoch (training and evaluation). */
  wall: number;
}

/** A schedule sample: t in epochs (fractional), the step's α, μ and unclamped μc. */
export interface TrajectoryPoint { t: number; lr: number; mu: number; muc: number }

export interface RunResult {
  method: string;
  seed: number;
  epochs: EpochPoint[];
  regime: { steps: RegimeFractions; epochs: RegimeFractions; perEpoch: Regime[] };
  trajectory: TrajectoryPoint[];
  wallSeconds: number;
  imagesPerSecond: number;
  /** Why the run stopped early (the NaN or divergence guard), when it did: its epochs end there. */
  diverged?: string;
  /** With --diagnose: the final model's problem groups and every group's score. */
  diagnosis?: { on?: 'val' | 'train' | 'test'; accuracy: number; problem: string[]; scores: [string, number][] };
}

export interface Reach {
  /** First epoch whose accuracy is ≥ the threshold, or null when the run never reached it. */
  epoch: number | null;
  wall: number | null;
}

export function reach(run: Pick<RunResult, 'epochs'>, threshold: number): Reach {
  const hit = run.epochs.find((e) => e.accuracy >= threshold);
  return hit ? { epoch: hit.epoch, wall: hit.wall } : { epoch: null, wall: null };
}

export function checkThreshold(t: number, where = '--thresholds'): number {
  if (!(Number.isFinite(t) && t > 0 && t < 1)) throw new RangeError(`${where}: ${t} is not a fraction in (0, 1), e.g. 0.9 for 90%`);
  return t;
}

export const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** Sample standard deviation (n − 1); 0 for a single value. */
export const sd = (xs: readonly number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

export interface Stat { mean: number; sd: number; n: number }
/** Mean ± sd of the finite values (a diverged run has no final accuracy). */
const stat = (values: readonly number[]): Stat => { const xs = values.filter(Number.isFinite); return { mean: mean(xs), sd: sd(xs), n: xs.length }; };
const lastOf = (r: RunResult, k: 'accuracy' | 'testLoss') => (r.diverged || r.epochs.length === 0 ? NaN : r.epochs[r.epochs.length - 1][k]);

/** How a method's time to a threshold compares with the baseline's, over the seeds both ran. */
export type Verdict =
  | 'baseline'
  | 'ahead'        // sooner in every seed, by more than the seed-to-seed spread
  | 'behind'       // later in every seed, by more than the spread
  | 'within'       // the difference is not larger than the spread (or not the same sign in every seed)
  | 'one-seed'     // a single seed: no spread to compare with
  | 'not-reached'; // some seed of either method never reached the threshold

export interface ThresholdSummary {
  threshold: number;
  /** Per seed, in the order of `seeds`. */
  epochs: (number | null)[];
  walls: (number | null)[];
  reached: number;
  /** How many seeds of the baseline reached it (null without a baseline). */
  baseReached: number | null;
  /** Over the seeds that reached it. */
  epochStat: Stat;
  wallStat: Stat;
  /** Baseline epochs ÷ this method's (mean over seeds), when every seed of both reached it. */
  speedup: number | null;
  /** Mean over seeds of (baseline − method) epochs, paired by seed; positive = sooner. */
  lead: number | null;
  /** The larger of the two methods' seed-to-seed sd of epochs to the threshold. */
  spread: number | null;
  verdict: Verdict;
}

export interface MethodSummary {
  method: string;
  seeds: number[];
  thresholds: ThresholdSummary[];
  final: Stat;
  best: Stat;
  finalLoss: Stat;
  wall: Stat;
  /** Seeds whose run was stopped by the NaN or divergence guard. */
  diverged: number;
  regimeSteps: RegimeFractions;
  regimeEpochs: RegimeFractions;
  /** Mean accuracy per epoch over seeds, with min and max (the band in the figure). */
  curve: { epoch: number; mean: number; min: number; max: number }[];
}

function verdictOf(base: (number | null)[], mine: (number | null)[]): Pick<ThresholdSummary, 'lead' | 'spread' | 'verdict'> {
  if (base.some((x) => x === null) || mine.some((x) => x === null)) return { lead: null, spread: null, verdict: 'not-reached' };
  const b = base as number[], m = mine as number[];
  const diffs = b.map((x, i) => x - m[i]);
  const lead = mean(diffs);
  if (b.length < 2) return { lead, spread: null, verdict: 'one-seed' };
  const spread = Math.max(sd(b), sd(m));
  if (lead > spread && diffs.every((d) => d > 0)) return { lead, spread, verdict: 'ahead' };
  if (-lead > spread && diffs.every((d) => d < 0)) return { lead, spread, verdict: 'behind' };
  return { lead, spread, verdict: 'within' };
}

/**
 * Summarizes each method over its seeds. Runs are paired by seed (same initial weights and data
 * order); only seeds every listed method finished are counted, so means compare like with like.
 */
export function summarize(runs: readonly RunResult[], methods: readonly string[], thresholds: readonly number[], baseline: string | null): MethodSummary[] {
  for (const t of thresholds) checkThreshold(t);
  const byMethod = new Map(methods.map((m) => [m, new Map<number, RunResult>()]));
  for (const r of runs) byMethod.get(r.method)?.set(r.seed, r);
  const allSeeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);
  const seeds = allSeeds.filter((s) => methods.every((m) => byMethod.get(m)!.has(s)));
  if (seeds.length === 0) throw new Error(`compare: no seed has a finished run of every method (${methods.join(', ')})`);
  const reaches = (m: string, t: number) => seeds.map((s) => reach(byMethod.get(m)!.get(s)!, t));
  const hasBase = baseline !== null && methods.includes(baseline);
  return methods.map((m) => {
    const rs = seeds.map((s) => byMethod.get(m)!.get(s)!);
    const ths = thresholds.map((t): ThresholdSummary => {
      const mine = reaches(m, t);
      const epochs = mine.map((r) => r.epoch), walls = mine.map((r) => r.wall);
      const reachedE = epochs.filter((x): x is number => x !== null), reachedW = walls.filter((x): x is number => x !== null);
      let speedup: number | null = null, v: Pick<ThresholdSummary, 'lead' | 'spread' | 'verdict'> = { lead: null, spread: null, verdict: 'baseline' };
      const baseReached = hasBase ? reaches(baseline!, t).filter((r) => r.epoch !== null).length : null;
      if (hasBase && m !== baseline) {
        const base = reaches(baseline!, t).map((r) => r.epoch);
        v = verdictOf(base, epochs);
        if (v.verdict !== 'not-reached') speedup = mean(base as number[]) / mean(reachedE);
      } else if (!hasBase) v = { lead: null, spread: null, verdict: 'within' };
      return { threshold: t, epochs, walls, reached: reachedE.length, baseReached, epochStat: stat(reachedE), wallStat: stat(reachedW), speedup, ...v };
    });
    const nEpochs = Math.min(...rs.map((r) => r.epochs.length));
    const curve = Array.from({ length: nEpochs }, (_, i) => {
      const accs = rs.map((r) => r.epochs[i].accuracy);
      return { epoch: rs[0].epochs[i].epoch, mean: mean(accs), min: Math.min(...accs), max: Math.max(...accs) };
    });
    const avgFractions = (pick: (r: RunResult) => RegimeFractions): RegimeFractions => ({
      underdamped: mean(rs.map((r) => pick(r).underdamped)), critical: mean(rs.map((r) => pick(r).critical)), overdamped: mean(rs.map((r) => pick(r).overdamped)) });
    return {
      method: m, seeds, thresholds: ths,
      final: stat(rs.map((r) => lastOf(r, 'accuracy'))),
      best: stat(rs.map((r) => (r.epochs.length ? Math.max(...r.epochs.map((e) => e.accuracy)) : NaN))),
      finalLoss: stat(rs.map((r) => lastOf(r, 'testLoss'))),
      diverged: rs.filter((r) => r.diverged).length,
      wall: stat(rs.map((r) => r.wallSeconds)),
      regimeSteps: avgFractions((r) => r.regime.steps), regimeEpochs: avgFractions((r) => r.regime.epochs), curve,
    };
  });
}

/** The verdict in words, for the report. */
export function verdictText(label: string, baseLabel: string, t: ThresholdSummary): string {
  const pctT = `${Math.round(t.threshold * 1000) / 10}%`;
  const e = (x: number) => `${Math.round(x * 10) / 10} epoch${Math.abs(x - 1) < 1e-9 ? '' : 's'}`;
  switch (t.verdict) {
    case 'baseline': return '';
    case 'not-reached': return `${label} reached ${pctT} in ${t.reached} of ${t.epochs.length} seeds, the ${baseLabel} in ${t.baseReached ?? '?'} of ${t.epochs.length}: ` +
      'with a seed where one of them never got there, no paired lead is measured.';
    case 'one-seed': return `${label} reaches ${pctT} ${t.lead! >= 0 ? `${e(t.lead!)} sooner than` : `${e(-t.lead!)} later than`} the ${baseLabel} in the one seed run; one seed has no spread to weigh that against.`;
    case 'ahead': return `${label} reaches ${pctT} ${e(t.lead!)} sooner than the ${baseLabel} on average, sooner in every seed, and the lead is larger than the seed-to-seed spread (sd ${e(t.spread!)}).`;
    case 'behind': return `${label} reaches ${pctT} ${e(-t.lead!)} later than the ${baseLabel} on average, later in every seed, by more than the seed-to-seed spread (sd ${e(t.spread!)}).`;
    case 'within': return t.lead === null ? '' : `${label} reaches ${pctT} ${t.lead >= 0 ? `${e(t.lead)} sooner` : `${e(-t.lead)} later`} than the ${baseLabel} on average, which is not larger than the seed-to-seed spread (sd ${e(t.spread!)}) or not in every seed: no clear difference.`;
  }
}
