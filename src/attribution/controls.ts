/**
 * Surgical correction beside its controls, under the same budget (epochs, schedule, data): the
 * named layers; random layers of about the same parameter share; the last k; full fine-tuning;
 * Auto-RGN; and an ablation that resets the named layers, versus the same random draws, to their
 * epoch-0 values. Every method starts from the same weights (`restore`). Used by `critdamp
 * correct --controls` and `critdamp experiment`.
 *
 * The random control is a real random draw: among all sets of k units (other than the diagnosed
 * one) whose parameter share lies within a stated band around the diagnosed share, `draws` sets
 * are drawn uniformly, without replacement, from a seeded generator. The band is widened (and the
 * result says so) only when it holds too few sets. Where the diagnosed set ranks among the draws
 * is an exact permutation p-value (src/stats/paired.ts).
 */
import type { Engine } from '../gpu/engine';
import type { Model } from '../nn/model';
import { freshCopy } from '../nn/registry';
import { evaluate } from '../train/evaluate';
import { Rng } from '../util/rng';
import { rankAmong, type RankTest } from '../stats/paired';
import { correct, type CorrectOptions, type CorrectionReport } from './correct';
import { autoRgnFineTune } from './autorgn';

/** The default band: a draw's share may be up to 1.25 times the diagnosed share, or down to 1/1.25 of it (25% above, 20% below). */
export const DEFAULT_BAND = 0.25;
/** Draws per diagnosis by default. */
export const DEFAULT_DRAWS = 8;

export interface DrawSet {
  layers: string[];
  share: number;
  /** How many of its units are also in the diagnosed set. */
  overlap: number;
}

export interface DrawPlan {
  /** The diagnosed set's share of the parameters. */
  target: number;
  /** The band asked for and the one used: a set qualifies when target/(1 + band) ≤ share ≤ target·(1 + band). */
  requestedBand: number;
  band: number;
  widened: boolean;
  /** Sets of k units in the band, the diagnosed one excluded: what the draws are drawn from. */
  eligible: number;
  /** All sets of k units but the diagnosed one (the most a band can hold). */
  candidates: number;
  seed: number;
  sets: DrawSet[];
}

function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Every k-subset of 0..n−1 as index arrays, in lexicographic order, passed to `visit`. */
function eachSubset(n: number, k: number, visit: (idx: readonly number[]) => void): void {
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    visit(idx);
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}

/** Sets this large are enumerated; beyond, sets are drawn at random and kept when they fall in the band. */
const ENUMERATE = 2_000_000;

/**
 * `draws` sets of k units drawn uniformly at random, without replacement, among the sets whose
 * share is within the band around `target` (never the `avoid` set). With too few such sets the band
 * is widened to the smallest one that holds `draws` sets (where the sets are too many to list, it
 * doubles until samples find enough); if fewer than `draws` sets exist at all, all are returned.
 */
export function shareMatchedDraws(all: readonly { name: string; share: number }[], k: number, target: number, avoid: readonly string[], draws: number, seed: number,
  band = DEFAULT_BAND): DrawPlan {
  const n = all.length;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`random controls: k must be an integer in 1..${n}, got ${k}`);
  if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`random controls: draws must be an integer ≥ 1, got ${draws}`);
  if (!(band > 0)) throw new RangeError(`random controls: the band must be > 0, got ${band}`);
  if (!(target > 0)) throw new RangeError(`random controls: the diagnosed share must be > 0, got ${target}`);
  const avoidKey = [...avoid].sort().join('\u0000');
  const keyOf = (idx: readonly number[]) => idx.map((i) => all[i].name).sort().join('\u0000');
  const shareOf = (idx: readonly number[]) => idx.reduce((s, i) => s + all[i].share, 0);
  const inBand = (share: number, b: number) => share >= target / (1 + b) * (1 - 1e-12) && share <= target * (1 + b) * (1 + 1e-12);
  const total = choose(n, k);
  const candidates = total - (avoid.length === k && avoid.every((a) => all.some((u) => u.name === a)) ? 1 : 0);
  const rng = new Rng(seed);
  let b = band;
  let pool: number[][] = [];
  if (total <= ENUMERATE) {
    // Each set's distance from the target share as a ratio (0: the same share; 0.25: ×/÷ 1.25).
    const sets: { idx: number[]; dist: number }[] = [];
    eachSubset(n, k, (idx) => {
      if (keyOf(idx) === avoidKey) return;
      const share = shareOf(idx);
      sets.push({ idx: [...idx], dist: Math.max(share / target, target / share) - 1 });
    });
    if (sets.filter((x) => inBand(shareOf(x.idx), b)).length < draws && sets.length > 0) {
      b = [...sets].sort((x, y) => x.dist - y.dist)[Math.min(draws, sets.length) - 1].dist;
    }
    pool = sets.filter((x) => inBand(shareOf(x.idx), b)).map((x) => x.idx);
  } else {
    // Too many to list: sample subsets and keep those in the band, widening when they are rare.
    for (;;) {
      const seen = new Set<string>();
      pool = [];
      for (let t = 0; t < 200_000 && pool.length < 50 * draws; t++) {
        const idx = Array.from(rng.permutation(n).subarray(0, k)).sort((x, y) => x - y);
        const key = keyOf(idx);
        if (key === avoidKey || seen.has(key) || !inBand(shareOf(idx), b)) continue;
        seen.add(key);
        pool.push(idx);
      }
      if (pool.length >= draws) break;
      b *= 2;
    }
  }
  // A uniform draw without replacement: a partial Fisher–Yates shuffle of the eligible sets.
  const take = Math.min(draws, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return {
    target, requestedBand: band, band: b, widened: b !== band, eligible: total <= ENUMERATE ? pool.length : NaN, candidates, seed,
    sets: pool.slice(0, take).map((idx) => ({ layers: idx.map((i) => all[i].name), share: shareOf(idx), overlap: idx.filter((i) => avoid.includes(all[i].name)).length })),
  };
}

export type ControlMethod = 'diagnosed' | 'random' | 'last k' | 'full fine-tuning' | 'Auto-RGN';

export interface ControlRow {
  method: ControlMethod;
  /** The random draw's number (0-based) in the plan, for method 'random'. */
  draw?: number;
  report: CorrectionReport;
}
export interface AblationRow { method: 'diagnosed' | 'random'; draw?: number; layers: string[]; accuracy: number; drop: number }

export interface ControlOptions extends CorrectOptions {
  /** Puts the model back to the weights every method starts from. */
  restore(): Promise<void> | void;
  /** Random draws, for the control and the ablation (default 8). */
  draws?: number;
  /** The share band of the random draws (default 0.25: ×/÷ 1.25 of the diagnosed share). */
  band?: number;
  /** Seed of the random draws (default: seed). */
  drawSeed?: number;
  /** The seed of the model's initialisation, whose values the ablation resets to (null: unknown, no ablation). */
  initSeed: number | null;
  /** Which of the whole-network controls to run (default all): experiment runs them once per seed. */
  include?: { lastK?: boolean; full?: boolean; autoRgn?: boolean };
  /** Called after the named layers' correction, with its weights still in the model. */
  afterMain?(report: CorrectionReport): Promise<void> | void;
  /** Each finished row, as it comes (progress output). */
  onRow?(row: ControlRow | AblationRow): void;
}

export interface ControlResult {
  plan: DrawPlan;
  rows: ControlRow[];
  ablation: AblationRow[];
  /**
   * The diagnosed set among the random draws: net errors fixed (higher is better) and the
   * ablation's accuracy drop (higher: the layers matter more); null when no other set exists.
   */
  rank: { net: RankTest; drop: RankTest | null } | null;
}

export async function correctWithControls(engine: Engine, model: Model, o: ControlOptions): Promise<ControlResult> {
  const all = model.units(o.granularity);
  const k = o.layers.length;
  const include = { lastK: true, full: true, autoRgn: true, ...o.include };
  const rows: ControlRow[] = [];
  const fix = async (method: ControlMethod, layers: readonly string[], draw?: number) => {
    await o.restore();
    const row: ControlRow = { method, ...(draw !== undefined ? { draw } : {}), report: await correct(engine, model, { ...o, layers }) };
    rows.push(row);
    o.onRow?.(row);
    return row.report;
  };
  const main = await fix('diagnosed', o.layers);
  await o.afterMain?.(main);
  const plan = shareMatchedDraws(all, k, main.share, o.layers, o.draws ?? DEFAULT_DRAWS, o.drawSeed ?? o.seed ?? 0, o.band ?? DEFAULT_BAND);
  for (const [i, set] of plan.sets.entries()) await fix('random', set.layers, i);
  if (include.lastK) await fix('last k', all.slice(-k).map((u) => u.name));
  if (include.full) await fix('full fine-tuning', all.map((u) => u.name));
  if (include.autoRgn) {
    await o.restore();
    const rgn: ControlRow = { method: 'Auto-RGN', report: await autoRgnFineTune(engine, model, o) };
    rows.push(rgn);
    o.onRow?.(rgn);
  }

  const randomNets = rows.filter((r) => r.method === 'random').map((r) => r.report.net);
  if (o.initSeed === null) {
    // Without the run's seed its epoch-0 weights are unknown: no ablation.
    await o.restore();
    return { plan, rows, ablation: [], rank: plan.sets.length ? { net: rankAmong(main.net, randomNets), drop: null } : null };
  }
  // The ablation: the same layers' weights and biases reset to the run's epoch-0 values (BN running
  // statistics kept), no retraining.
  const init = freshCopy(engine, model, o.initSeed);
  const start = await init.store.read();
  init.destroy();
  const evalOpts = { batchSize: 256, mean: o.mean, std: o.std };
  await o.restore();
  const base = (await evaluate(engine, model, o.data.test, evalOpts)).accuracy;
  const ablation: AblationRow[] = [];
  const resets: [AblationRow['method'], readonly string[], number?][] = [['diagnosed', o.layers], ...plan.sets.map((s, i) => ['random', s.layers, i] as [AblationRow['method'], string[], number])];
  for (const [method, names, draw] of resets) {
    await o.restore();
    for (const u of all.filter((x) => names.includes(x.name))) for (const p of u.params) model.store.set(p, start.get(p)!.data);
    const accuracy = (await evaluate(engine, model, o.data.test, evalOpts)).accuracy;
    const row: AblationRow = { method, ...(draw !== undefined ? { draw } : {}), layers: [...names], accuracy, drop: base - accuracy };
    ablation.push(row);
    o.onRow?.(row);
  }
  await o.restore();
  const randomDrops = ablation.filter((a) => a.method === 'random').map((a) => a.drop);
  const rank = plan.sets.length ? { net: rankAmong(main.net, randomNets), drop: rankAmong(ablation[0].drop, randomDrops) } : null;
  return { plan, rows, ablation, rank };
}
