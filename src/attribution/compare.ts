/**
 * Do two attributions name the same problem layers? Ranks (1 = the highest score, ties share
 * their average rank), top-k sets and their overlap |A ∩ B| / k, Spearman's ρ (Pearson's
 * correlation of the average ranks), Kendall's τ-b (tie-corrected), and how surprising the overlap
 * is: the exact probability that two independent random k-subsets of n units share at least as
 * many, a hypergeometric tail (the paper reports a 3-of-3 overlap of 7 groups: p = 1/35 ≈ 0.029).
 */

export type Scores = ReadonlyMap<string, number>;

/**
 * Orders by comparison, not by subtraction: ∞ − ∞ is NaN, and the relative metric gives ∞ to a
 * unit whose weights are all zero, so two such units must tie, not fall out of every count.
 */
const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);

/** A NaN score would sort anywhere (every comparison with it is false): refuse it by name. */
function checkScores(scores: Scores): void {
  const bad = [...scores].filter(([, v]) => Number.isNaN(v)).map(([n]) => n);
  if (bad.length) throw new Error(`attribution: ${bad.join(', ')} scored NaN (a NaN in the gradient or the weights?); NaN cannot be ranked`);
}

/** Highest score first, then by name, so equal scores always come out in the same order. */
function order(scores: Scores): [string, number][] {
  checkScores(scores);
  return [...scores.entries()].sort((a, b) => cmp(b[1], a[1]) || (a[0] < b[0] ? -1 : 1));
}

/** Rank of each name, 1 for the highest score; tied scores share the mean of their ranks. */
export function ranks(scores: Scores): Map<string, number> {
  const sorted = order(scores);
  const out = new Map<string, number>();
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1][1] === sorted[i][1]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) out.set(sorted[t][0], r);
    i = j + 1;
  }
  return out;
}

function checkK(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`attribution: k must be an integer in 1..${n} (the number of layers), got ${k}`);
}

/** The k highest-scoring names (ties broken by name, so the set is deterministic). */
export function topK(scores: Scores, k: number): string[] {
  checkK(k, scores.size);
  return order(scores).slice(0, k).map(([n]) => n);
}

function sameUnits(a: Scores, b: Scores): string[] {
  checkScores(a);
  checkScores(b);
  const onlyA = [...a.keys()].filter((n) => !b.has(n)), onlyB = [...b.keys()].filter((n) => !a.has(n));
  if (onlyA.length || onlyB.length) {
    throw new Error(`attribution: the two attributions cover different layers (only in the first: ${onlyA.join(', ') || 'none'}; ` +
      `only in the second: ${onlyB.join(', ') || 'none'}); compare checkpoints of the same architecture at the same granularity`);
  }
  return [...a.keys()];
}

/** Pearson's correlation of the average ranks (Spearman's ρ with ties handled). */
export function spearman(a: Scores, b: Scores): number {
  const names = sameUnits(a, b), ra = ranks(a), rb = ranks(b), n = names.length;
  const ma = names.reduce((s, x) => s + ra.get(x)!, 0) / n, mb = names.reduce((s, x) => s + rb.get(x)!, 0) / n;
  let num = 0, da = 0, db = 0;
  for (const x of names) {
    const u = ra.get(x)! - ma, v = rb.get(x)! - mb;
    num += u * v;
    da += u * u;
    db += v * v;
  }
  return da === 0 || db === 0 ? NaN : num / Math.sqrt(da * db);
}

/** Kendall's τ-b = (C − D) / √((n₀ − n₁)(n₀ − n₂)), n₁, n₂ the pairs tied in a, in b. */
export function kendallTauB(a: Scores, b: Scores): number {
  const names = sameUnits(a, b), n = names.length;
  let c = 0, d = 0, tieA = 0, tieB = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sa = cmp(a.get(names[i])!, a.get(names[j])!), sb = cmp(b.get(names[i])!, b.get(names[j])!);
      if (sa === 0) tieA++;
      if (sb === 0) tieB++;
      if (sa !== 0 && sb !== 0) {
        if (sa === sb) c++;
        else d++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tieA) * (n0 - tieB));
  return den === 0 ? NaN : (c - d) / den;
}

/** C(n, k) exactly: C(n−k+i, i) = C(n−k+i−1, i−1)·(n−k+i)/i, each step an exact integer division. */
function choose(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** num/den ≤ 1 for big integers, to double precision: a 64-bit quotient of num·2^shift, scaled back. */
function ratio(num: bigint, den: bigint): number {
  if (num === 0n) return 0;
  const shift = den.toString(2).length - num.toString(2).length + 64;
  return Number((num << BigInt(shift)) / den) * 2 ** -shift;
}

/**
 * P(X ≥ shared) for X ~ Hypergeometric(n units, k marked, k drawn): the chance that a random
 * k-subset shares at least `shared` units with a fixed one, i.e. Σ_{x ≥ shared} C(k,x)·C(n−k,k−x) / C(n,k).
 */
export function overlapPValue(n: number, k: number, shared: number): number {
  checkK(k, n);
  if (!Number.isInteger(shared) || shared < 0 || shared > k) throw new RangeError(`attribution: shared must be an integer in 0..${k}, got ${shared}`);
  // Counted in big integers: C(n, k) passes 2^53 at n = 57 (k = n/2) and overflows doubles past
  // n ≈ 1030, while the tail itself is a plain probability.
  let hits = 0n;
  for (let x = shared; x <= k; x++) hits += choose(k, x) * choose(n - k, k - x);
  return ratio(hits, choose(n, k));
}

export interface Comparison {
  k: number;
  n: number;
  topA: string[];
  topB: string[];
  shared: string[];
  /** |A ∩ B| / k. */
  overlap: number;
  /** P(a random k-subset shares at least as many): the permutation p-value of the overlap. */
  pValue: number;
  spearman: number;
  kendall: number;
}

export function compareAttributions(a: Scores, b: Scores, k = 3): Comparison {
  const names = sameUnits(a, b);
  checkK(k, names.length);
  const topA = topK(a, k), topB = topK(b, k);
  const shared = topA.filter((x) => topB.includes(x));
  return { k, n: names.length, topA, topB, shared, overlap: shared.length / k, pValue: overlapPValue(names.length, k, shared.length),
    spearman: spearman(a, b), kendall: kendallTauB(a, b) };
}
