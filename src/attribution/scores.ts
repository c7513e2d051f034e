/**
 * Layer scores from per-segment sums. For a unit (a layer or group) with parameters θ and the
 * gradient g = ∂L/∂θ of the loss on the samples being diagnosed:
 *   relative  ‖g‖₂ / ‖θ‖₂     the ratio Lee et al.'s Auto-RGN scales learning rates by (default);
 *   norm      ‖g‖₂ / √n       the gradient's root mean square, n the unit's parameter count;
 *   taylor    |Σ g ⊙ θ|       a first-order estimate of the loss change if the unit were zeroed.
 * A unit's sums are the sums over its segments; SegmentSums holds Σg², Σθ², Σg·θ and n per
 * segment, in float64 (the GPU reduces each segment in float32, then everything else is float64).
 */
import type { Unit } from './layers';

export type Metric = 'relative' | 'norm' | 'taylor';

export const METRICS: Record<Metric, string> = {
  relative: '‖∂L/∂θ‖ / ‖θ‖: gradient size relative to the weights (Auto-RGN\'s ratio)',
  norm: '‖∂L/∂θ‖ / √n: root mean square gradient per parameter',
  taylor: '|Σ ∂L/∂θ·θ|: first-order loss change if the layer were zeroed',
};

export interface SegmentSums {
  gg: Float64Array;
  ww: Float64Array;
  gw: Float64Array;
  n: Float64Array;
}

export interface ScoreRow {
  name: string;
  count: number;
  share: number;
  score: number;
  /** 1 = the highest score. */
  rank: number;
}

/**
 * Float64 reference of the per-segment sums, from plain arrays (the flat buffers read back, or any
 * values at the segments' offsets). A segment past the end of either array is an error: reading
 * past it would give undefined, and every sum NaN.
 */
export function segmentSums(grads: ArrayLike<number>, weights: ArrayLike<number>, segments: readonly { offset: number; length: number }[]): SegmentSums {
  const k = segments.length;
  const out: SegmentSums = { gg: new Float64Array(k), ww: new Float64Array(k), gw: new Float64Array(k), n: new Float64Array(k) };
  segments.forEach((s, i) => {
    const end = s.offset + s.length;
    if (end > grads.length || end > weights.length) {
      throw new RangeError(`attribution: segment ${i} ends at ${end}, past the ${grads.length} gradients or ${weights.length} weights given`);
    }
    for (let j = s.offset; j < s.offset + s.length; j++) {
      out.gg[i] += grads[j] * grads[j];
      out.ww[i] += weights[j] * weights[j];
      out.gw[i] += grads[j] * weights[j];
    }
    out.n[i] = s.length;
  });
  return out;
}

/** One unit's sums: Σg², Σθ², Σg·θ and n over the unit are the sums over its segments. */
export interface UnitSums {
  gg: number;
  ww: number;
  gw: number;
  n: number;
}

/**
 * A unit's sums from its segments'. Sums that do not fit the unit (an index past the arrays, or
 * counts that differ from the unit's: sums of another model or granularity) and NaN sums (a NaN
 * gradient) are errors naming the unit, where they would otherwise come out as a score of 0.
 */
export function unitSums(unit: Unit, sums: SegmentSums): UnitSums {
  const len = sums.gg.length;
  if (sums.ww.length !== len || sums.gw.length !== len || sums.n.length !== len) {
    throw new Error(`attribution: segment sums of unequal lengths (gg ${len}, ww ${sums.ww.length}, gw ${sums.gw.length}, n ${sums.n.length})`);
  }
  const out: UnitSums = { gg: 0, ww: 0, gw: 0, n: 0 };
  for (const s of unit.segments) {
    if (!(s >= 0 && s < len)) throw new RangeError(`attribution: ${unit.name} uses segment ${s}, but the sums cover ${len} segments: were they made from the same model?`);
    out.gg += sums.gg[s];
    out.ww += sums.ww[s];
    out.gw += sums.gw[s];
    out.n += sums.n[s];
  }
  if (out.n !== unit.count) throw new Error(`attribution: ${unit.name} has ${unit.count} parameters, but its segment sums count ${out.n}: were they made from the same model?`);
  if (Number.isNaN(out.gg) || Number.isNaN(out.ww) || Number.isNaN(out.gw)) {
    throw new Error(`attribution: ${unit.name} has NaN sums (Σg² ${out.gg}, Σθ² ${out.ww}, Σg·θ ${out.gw}): a NaN in its gradient or weights`);
  }
  return out;
}

/** The metric of one unit from its segments' sums. */
export function unitScore(unit: Unit, sums: SegmentSums, metric: Metric): number {
  const { gg, ww, gw, n } = unitSums(unit, sums);
  if (metric === 'relative') return ww > 0 ? Math.sqrt(gg / ww) : Math.sqrt(gg) > 0 ? Infinity : 0;
  if (metric === 'norm') return n > 0 ? Math.sqrt(gg / n) : 0;
  if (metric === 'taylor') return Math.abs(gw);
  throw new Error(`attribution: unknown metric '${String(metric)}' (relative, norm or taylor)`);
}

export interface Ranking {
  /** Every unit, highest score first; ties broken by name so the order is deterministic. */
  rows: ScoreRow[];
  /** The k highest-scoring units: the layers attribution blames for the errors. */
  problem: string[];
}

/** Every unit scored and ranked (1 = highest), and the top k of them as the problem layers. */
export function rankUnits(units: readonly Unit[], sums: SegmentSums, metric: Metric, k = 3): Ranking {
  if (!Number.isInteger(k) || k < 1 || k > units.length) throw new RangeError(`attribution: k must be an integer in 1..${units.length} (the number of layers), got ${k}`);
  const rows = rankScores(units, new Map(units.map((u) => [u.name, unitScore(u, sums, metric)])));
  return { rows, problem: rows.slice(0, k).map((r) => r.name) };
}

/**
 * Units with given scores, ranked: highest first, ties by name, the same order as compare.topK,
 * so the top k rows are topK of the scores. Compared, not subtracted (∞ − ∞ is NaN).
 */
export function rankScores(units: readonly Unit[], scores: ReadonlyMap<string, number>): ScoreRow[] {
  const rows = units.map((u) => ({ name: u.name, count: u.count, share: u.share, score: scores.get(u.name)!, rank: 0 }));
  rows.sort((a, b) => (b.score > a.score ? 1 : b.score < a.score ? -1 : a.name < b.name ? -1 : 1));
  rows.forEach((r, i) => (r.rank = i + 1));
  return rows;
}
