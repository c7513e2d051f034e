/**
 * Paired comparisons over seeds, the one place critdamp decides whether one method beats another
 * (`experiment`, `correct --controls`, `compare`). Two methods run on the same seeds (same initial
 * weights, same data order) give one difference per seed, d_i = a_i − b_i. From those:
 *
 * - mean and sample sd of d, and a 95% Student-t interval, mean ± t(0.975, n−1)·sd/√n;
 * - the exact sign-flip permutation test: under "no difference" each d_i is as likely to be −d_i,
 *   so the two-sided p is the share of the 2ⁿ sign patterns whose |Σ ±d_i| reaches |Σ d_i|;
 * - the exact sign test (Binomial(m, ½) over the m non-zero differences), which needs only each
 *   pair's direction, so it also takes pairs where one side is censored (a run that never reached a
 *   threshold is known to be later than one that did, by an unknown amount).
 *
 * A verdict ("greater", "less") is given only when the test's p is below the stated level; else
 * "not distinguishable with n seeds". With n pairs neither test can go below 2/2ⁿ (0.25 for 3
 * seeds, 0.0625 for 5), which the text says, so a reader sees when a verdict was out of reach.
 *
 * And for one method against many random draws (the diagnosed layers against random layers): the
 * exact rank p-value per seed, and pooled over seeds by the exact law of the summed ranks.
 * Browser-safe, pure functions of numbers.
 */

export type Direction = 'greater' | 'less' | 'not distinguishable';

export interface SignTest {
  /** Pairs with a > b, a < b, and ties (ties carry no direction and are left out). */
  positive: number;
  negative: number;
  ties: number;
  /** Two-sided exact p: 2·P(X ≤ min(positive, negative)), X ~ Binomial(positive + negative, ½), at most 1. */
  p: number;
}

export interface Paired {
  /** Pairs given, and those with both values known (the rest are censored on one side or both). */
  pairs: number;
  n: number;
  /** a_i − b_i of the complete pairs, in the order given. */
  diffs: number[];
  mean: number;
  sd: number;
  /** 95% (or `level`) Student-t interval of the mean difference; NaN bounds below 2 pairs. */
  ci: [number, number];
  confidence: number;
  /** Two-sided exact sign-flip permutation p over the complete pairs (NaN without any). */
  permutationP: number;
  sign: SignTest;
  /** Which test decided: the permutation test when no pair is censored, else the sign test. */
  test: 'permutation' | 'sign';
  p: number;
  /** The smallest p the deciding test can give with these pairs (2/2ⁿ): a verdict needs p below `alpha`. */
  minP: number;
  alpha: number;
  direction: Direction;
}

export interface PairedOptions {
  /**
   * Which side a null (censored) value sits on: 'high' (default; "never reached", later than any
   * time that was reached) or 'low' (a run that diverged has no accuracy: lower than any it could have).
   */
  nullIs?: 'high' | 'low';
  /** Significance level of the two-sided test (default 0.05). */
  alpha?: number;
  /** Coverage of the interval (default 0.95). */
  confidence?: number;
}

/**
 * a − b paired by index. A null is a censored value: by default "never reached", larger than every
 * reached value (for epochs or seconds to a threshold, later than any run that got there); with
 * `nullIs: 'low'`, smaller than every value (the accuracy of a run that diverged).
 */
export function pairedDifferences(a: readonly (number | null)[], b: readonly (number | null)[], opts: PairedOptions = {}): Paired {
  if (a.length !== b.length) throw new Error(`paired statistics: ${a.length} values against ${b.length}; pair them by seed`);
  const alpha = opts.alpha ?? 0.05, confidence = opts.confidence ?? 0.95;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`paired statistics: alpha must be in (0, 1), got ${alpha}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`paired statistics: confidence must be in (0, 1), got ${confidence}`);
  for (const x of [...a, ...b]) if (x !== null && !Number.isFinite(x)) throw new RangeError(`paired statistics: ${x} is not a finite number (use null for a value that was never reached)`);
  const diffs: number[] = [];
  let positive = 0, negative = 0, ties = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x !== null && y !== null) diffs.push(x - y);
    // Direction of a − b: a censored value is beyond any known one (above, or below with nullIs 'low'); two censored tie.
    const beyond = opts.nullIs === 'low' ? -1 : 1;
    const s = x === null ? (y === null ? 0 : beyond) : y === null ? -beyond : Math.sign(x - y);
    if (s > 0) positive++;
    else if (s < 0) negative++;
    else ties++;
  }
  const n = diffs.length, m = mean(diffs), s = sd(diffs);
  const half = n >= 2 ? studentTQuantile(1 - (1 - confidence) / 2, n - 1) * s / Math.sqrt(n) : NaN;
  const permutationP = n > 0 ? signFlipP(diffs) : NaN;
  const sign: SignTest = { positive, negative, ties, p: signTestP(positive, negative) };
  const censored = n < a.length;
  const test = censored ? 'sign' : 'permutation';
  const p = censored ? sign.p : permutationP;
  const informative = censored ? positive + negative : diffs.filter((d) => d !== 0).length;
  const minP = informative > 0 ? Math.min(1, 2 / 2 ** informative) : 1;
  // The direction of a significant result: the mean where every pair is known, else the majority.
  const lean = censored ? positive - negative : m;
  const direction: Direction = p < alpha && lean !== 0 ? (lean > 0 ? 'greater' : 'less') : 'not distinguishable';
  return { pairs: a.length, n, diffs, mean: m, sd: s, ci: [m - half, m + half], confidence, permutationP, sign, test, p, minP, alpha, direction };
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN;
}

/** Sample standard deviation (n − 1); 0 for one value, NaN for none. */
export function sd(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * Two-sided exact sign-flip p: the share of the 2ⁿ patterns of signs whose |Σ ±|d_i|| is at least
 * |Σ d_i|. Enumerated up to n = 20 (a million patterns); beyond that, 2²⁰ patterns drawn at random
 * from a fixed seed (then an estimate, within ±0.001).
 */
export function signFlipP(diffs: readonly number[]): number {
  const n = diffs.length;
  if (n === 0) throw new Error('paired statistics: no differences to test');
  const mags = diffs.map(Math.abs);
  const observed = Math.abs(diffs.reduce((s, d) => s + d, 0));
  // Sums that equal the observed one in exact arithmetic may differ in the last bits here.
  const tol = 1e-9 * Math.max(1, mags.reduce((s, x) => s + x, 0));
  let hits = 0, total = 0;
  const tally = (bits: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (bits >>> i) & 1 ? -mags[i] : mags[i];
    if (Math.abs(sum) >= observed - tol) hits++;
    total++;
  };
  if (n <= 20) {
    for (let bits = 0; bits < 2 ** n; bits++) tally(bits);
  } else {
    let x = 0x9e3779b9;
    for (let t = 0; t < 2 ** 20; t++) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        sum += x & 1 ? -mags[i] : mags[i];
      }
      if (Math.abs(sum) >= observed - tol) hits++;
      total++;
    }
  }
  return hits / total;
}

/** Two-sided exact sign test: 2·P(X ≤ min(k, m − k)), X ~ Binomial(m, ½), capped at 1; 1 without pairs. */
export function signTestP(positive: number, negative: number): number {
  const m = positive + negative;
  if (m === 0) return 1;
  const k = Math.min(positive, negative);
  let tail = 0, c = 1;
  for (let i = 0; i <= k; i++) {
    tail += c;
    c = (c * (m - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** m);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) beyond.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-15) break;
  }
  return front * (f - 1);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t with `df` degrees of freedom (bisection on the CDF, to 1e-12). */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`Student t quantile: q must be in (0, 1), got ${q}`);
  if (!(df > 0)) throw new RangeError(`Student t quantile: df must be > 0, got ${df}`);
  if (q < 0.5) return -studentTQuantile(1 - q, df);
  let lo = 0, hi = 1;
  while (studentTCdf(hi, df) < q) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The rank of a value among random draws. Ties count against the value, so the p-value is exact
 * without ties and conservative (never too small) with them.
 */
export interface RankTest {
  /** The value tested and the draws it is ranked among. */
  value: number;
  draws: number;
  /** 1 + the draws at least as good (ties count against the value): 1 = better than every draw. */
  rank: number;
  /** rank / (draws + 1): the exact p of "no better than a random draw", one-sided. */
  p: number;
}

/**
 * Where a value ranks among random draws of the same kind (higher is better unless `lowerIsBetter`).
 * If the value were just another draw, its rank would be uniform on 1..draws+1, so P(rank ≤ r) =
 * r/(draws + 1): the exact permutation p-value.
 */
export function rankAmong(value: number, draws: readonly number[], lowerIsBetter = false): RankTest {
  if (draws.length === 0) throw new Error('rank test: no random draws to rank among');
  const better = (x: number) => (lowerIsBetter ? x <= value : x >= value);
  const rank = 1 + draws.filter(better).length;
  return { value, draws: draws.length, rank, p: rank / (draws.length + 1) };
}

/**
 * Ranks pooled over seeds: P(Σ U_s ≤ Σ rank_s) with U_s independent and uniform on 1..draws_s+1, the
 * law of the summed ranks if the tested value were a random draw in every seed (exact, by
 * convolution). Small when the value ranks near the top in most seeds.
 */
export function pooledRankP(tests: readonly RankTest[]): number {
  if (tests.length === 0) throw new Error('rank test: no seeds to pool');
  // dist[s] = P(Σ U = s) over the seeds so far, indexed from the minimum sum.
  let dist = [1];
  for (const t of tests) {
    const m = t.draws + 1, next = new Array<number>(dist.length + m - 1).fill(0);
    for (let i = 0; i < dist.length; i++) for (let r = 0; r < m; r++) next[i + r] += dist[i] / m;
    dist = next;
  }
  const observed = tests.reduce((s, t) => s + t.rank, 0) - tests.length;
  return Math.min(1, dist.slice(0, observed + 1).reduce((s, x) => s + x, 0));
}

/** A number with a sign, for differences: +3.2, −1.0. */
export function signed(x: number, digits = 1): string {
  const s = Math.abs(x).toFixed(digits);
  return Number(s) === 0 ? s : `${x > 0 ? '+' : '−'}${s}`;
}

/** A p-value as a report shows it: two significant digits, or "< 0.001". */
export function pText(p: number): string {
  return Number.isNaN(p) ? '–' : p < 0.001 ? '< 0.001' : p.toPrecision(2);
}

const seedsText = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** The verdict of a paired comparison in words: one of the two given, or "not distinguishable with n seeds". */
export function verdictWords(r: Paired, words: { greater: string; less: string }): string {
  return r.direction === 'greater' ? words.greater : r.direction === 'less' ? words.less : `not distinguishable with ${seedsText(r.pairs)}`;
}

/**
 * A paired comparison as table cells: the mean difference, its interval, the exact test's p (with
 * the test's name when it is the sign test) and the verdict.
 */
export function pairedCells(r: Paired, words: { greater: string; less: string }, digits = 1): [string, string, string, string] {
  return [
    Number.isFinite(r.mean) ? `${signed(r.mean, digits)}${r.n < r.pairs ? ` (${r.n} of ${r.pairs} seeds)` : ''}` : '–',
    Number.isFinite(r.ci[0]) ? `${signed(r.ci[0], digits)} to ${signed(r.ci[1], digits)}` : '–',
    `${pText(r.p)}${r.test === 'sign' ? ' (sign)' : ''}`,
    verdictWords(r, words),
  ];
}

/** "p = 0.031" or "p < 0.001". */
export function pEq(p: number): string {
  const t = pText(p);
  return t.startsWith('<') ? `p ${t}` : `p = ${t}`;
}

/**
 * One line for a report: the mean difference with its interval, the exact test and the verdict,
 * e.g. "+3.2 errors (95% CI −1.0 to +7.4; 2 of 3 seeds higher; permutation p = 0.50, no lower than
 * 0.25 with 3 seeds): not distinguishable with 3 seeds". `higher`/`lower` name the directions.
 */
export function pairedText(r: Paired, unit: string, words: { greater: string; less: string }, digits = 1): string {
  const ci = Number.isFinite(r.ci[0]) ? `${Math.round(r.confidence * 100)}% CI ${signed(r.ci[0], digits)} to ${signed(r.ci[1], digits)}; ` : '';
  const m = Number.isFinite(r.mean) ? `${signed(r.mean, digits)} ${unit}${r.n < r.pairs ? ` (mean over the ${r.n} of ${r.pairs} seeds where both have a value)` : ''}` : `no complete pair (${unit})`;
  const dir = `${r.sign.positive} of ${r.pairs} seeds higher, ${r.sign.negative} lower${r.sign.ties ? `, ${r.sign.ties} tied` : ''}`;
  const test = `${r.test} ${pEq(r.p)}${r.p >= r.alpha && r.minP >= r.alpha ? `, no lower than ${pText(r.minP)} with ${seedsText(r.pairs)}` : ''}`;
  const verdict = verdictWords(r, words);
  return `${m} (${ci}${dir}; ${test}): ${verdict}`;
}
