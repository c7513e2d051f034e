/**
 * The overlap p-value by simulation, to check the exact one (compare.overlapPValue) and to show
 * what the number means: draw two random k-subsets of n units, over and over, and count how often
 * they share at least `shared` units.
 *
 * One subset can stay fixed: the law of |A ∩ B| for independent uniform A, B equals that for a
 * fixed A = {0, …, k−1} and a uniform B (relabel the units so A comes first). B is the first k
 * entries after a partial Fisher–Yates shuffle, k swaps per draw. The shuffle starts from whatever
 * order the previous draw left: a partial Fisher–Yates of any fixed arrangement is still a uniform
 * k-subset, so no reset is needed.
 */
import { Rng } from '../util/rng';

export interface MonteCarloPValue {
  /** hits / samples: unbiased for P(|A ∩ B| ≥ shared). */
  p: number;
  /** √(p(1 − p)/samples), the binomial standard error of p. */
  stderr: number;
  /** Draws with |A ∩ B| ≥ shared. */
  hits: number;
  samples: number;
}

/**
 * P(|A ∩ B| ≥ shared) for two uniform random k-subsets of n units, estimated from `samples` draws
 * of a generator seeded with `seed` (the same seed gives the same estimate in Node and browsers).
 */
export function overlapPValueMonteCarlo(n: number, k: number, shared: number, opts: { samples?: number; seed?: number } = {}): MonteCarloPValue {
  const samples = opts.samples ?? 100_000;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`attribution: n must be an integer ≥ 1 (the number of layers), got ${n}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`attribution: k must be an integer in 1..${n} (the number of layers), got ${k}`);
  if (!Number.isInteger(shared) || shared < 0 || shared > k) throw new RangeError(`attribution: shared must be an integer in 0..${k}, got ${shared}`);
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`attribution: samples must be an integer ≥ 1, got ${samples}`);
  const rng = new Rng(opts.seed ?? 0);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let hits = 0;
  for (let t = 0; t < samples; t++) {
    let inA = 0;
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(n - i);
      const v = order[j];
      order[j] = order[i];
      order[i] = v;
      if (v < k) inA++;
    }
    if (inA >= shared) hits++;
  }
  const p = hits / samples;
  return { p, stderr: Math.sqrt((p * (1 - p)) / samples), hits, samples };
}
