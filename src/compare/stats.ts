/**
 * What a comparison measures, from the runs' logs: per run, the epochs and wall time to reach
 * each accuracy threshold, final and best accuracy, the damping regime's share of steps and
 * epochs; per method over seeds, mean ± sd of each; against the baseline, paired by seed (same
 * initial weights and data order), the differences in epochs and seconds to each threshold and in
 * final and best accuracy, with their intervals and exact tests (src/stats/paired.ts): a method is
 * called sooner or later only where the test supports it. Pure functions of plain records
 * (browser-safe), so they are tested on synthetic logs.
 *
 * Epochs count from 1: "epoch 3" is the evaluation after the third pass over the training data
 * (the console, the log and the checkpoint folders count the same way).
 */
import type { Regime, RegimeFractions } from '../schedule';
import { mean, pairedDifferences, sd, type Paired } from '../stats/paired';

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

export { mean, sd };

export interface Stat { mean: number; sd: number; n: number }
/** Mean ± sd of the finite values (a diverged run has no final accuracy). */
const stat = (values: readonly number[]): Stat => { const xs = values.filter(Number.isFinite); return { mean: mean(xs), sd: sd(xs), n: xs.length }; };
const lastOf = (r: RunResult, k: 'accuracy' | 'testLoss') => (r.diverged || r.epochs.length === 0 ? NaN : r.epochs[r.epochs.length - 1][k]);
const bestOf = (r: RunResult) => (r.epochs.length ? Math.max(...r.epochs.map((e) => e.accuracy)) : NaN);

/** How a method's time to a threshold compares with the baseline's, by the paired exact test. */
export type Verdict = 'baseline' | 'sooner' | 'later' | 'not distinguishable' | 'no baseline';

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
  /**
   * This method − the baseline per seed, in epochs and in seconds to the threshold (a seed that
   * never reached it counts as later than any that did); null for the baseline itself or without one.
   */
  pairedEpochs: Paired | null;
  pairedWall: Paired | null;
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
  /** This method − the baseline per seed, in accuracy points (seeds where either run diverged are left out). */
  finalPaired: Paired | null;
  bestPaired: Paired | null;
  /** Seeds whose run was stopped by the NaN or divergence guard. */
  diverged: number;
  regimeSteps: RegimeFractions;
  regimeEpochs: RegimeFractions;
  /** Mean accuracy per epoch over seeds, with min and max (the band in the figure). */
  curve: { epoch: number; mean: number; min: number; max: number }[];
}

/**
 * Paired accuracy differences in points. A run that diverged has no accuracy: it counts as lower
 * than any run that finished (censored low), so a method cannot look better by the seeds it lost.
 */
function pairedPoints(mine: readonly number[], base: readonly number[]): Paired | null {
  if (mine.length === 0) return null;
  const pts = (xs: readonly number[]) => xs.map((x) => (Number.isFinite(x) ? 100 * x : null));
  return pairedDifferences(pts(mine), pts(base), { nullIs: 'low' });
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
      let speedup: number | null = null, pairedEpochs: Paired | null = null, pairedWall: Paired | null = null;
      let verdict: Verdict = hasBase ? 'baseline' : 'no baseline';
      const baseReached = hasBase ? reaches(baseline!, t).filter((r) => r.epoch !== null).length : null;
      if (hasBase && m !== baseline) {
        const base = reaches(baseline!, t);
        pairedEpochs = pairedDifferences(epochs, base.map((r) => r.epoch));
        pairedWall = pairedDifferences(walls, base.map((r) => r.wall));
        verdict = pairedEpochs.direction === 'less' ? 'sooner' : pairedEpochs.direction === 'greater' ? 'later' : 'not distinguishable';
        if (base.every((r) => r.epoch !== null) && reachedE.length === epochs.length) speedup = mean(base.map((r) => r.epoch!)) / mean(reachedE);
      }
      return { threshold: t, epochs, walls, reached: reachedE.length, baseReached, epochStat: stat(reachedE), wallStat: stat(reachedW), speedup, pairedEpochs, pairedWall, verdict };
    });
    const nEpochs = Math.min(...rs.map((r) => r.epochs.length));
    const curve = Array.from({ length: nEpochs }, (_, i) => {
      const accs = rs.map((r) => r.epochs[i].accuracy);
      return { epoch: rs[0].epochs[i].epoch, mean: mean(accs), min: Math.min(...accs), max: Math.max(...accs) };
    });
    const avgFractions = (pick: (r: RunResult) => RegimeFractions): RegimeFractions => ({
      underdamped: mean(rs.map((r) => pick(r).underdamped)), critical: mean(rs.map((r) => pick(r).critical)), overdamped: mean(rs.map((r) => pick(r).overdamped)) });
    const finals = rs.map((r) => lastOf(r, 'accuracy')), bests = rs.map(bestOf);
    const baseRuns = hasBase && m !== baseline ? seeds.map((s) => byMethod.get(baseline!)!.get(s)!) : null;
    return {
      method: m, seeds, thresholds: ths,
      final: stat(finals),
      best: stat(bests),
      finalPaired: baseRuns ? pairedPoints(finals, baseRuns.map((r) => lastOf(r, 'accuracy'))) : null,
      bestPaired: baseRuns ? pairedPoints(bests, baseRuns.map(bestOf)) : null,
      finalLoss: stat(rs.map((r) => lastOf(r, 'testLoss'))),
      diverged: rs.filter((r) => r.diverged).length,
      wall: stat(rs.map((r) => r.wallSeconds)),
      regimeSteps: avgFractions((r) => r.regime.steps), regimeEpochs: avgFractions((r) => r.regime.epochs), curve,
    };
  });
}
