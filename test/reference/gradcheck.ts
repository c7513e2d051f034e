// Central finite differences, the check every analytic backward in test/reference answers to.
import * as assert from 'uvu/assert';

/** (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h, perturbing x[i] in place and restoring it. Error O(h²·f‴) + O(ε·|f|/h). */
export function numericGrad(f: () => number, x: Float64Array, i: number, h = 1e-6): number {
  const old = x[i];
  x[i] = old + h;
  const fp = f();
  x[i] = old - h;
  const fm = f();
  x[i] = old;
  return (fp - fm) / (2 * h);
}

export interface GradCheckOptions {
  /** How many entries to check; all of them when x is no longer than this. Default 24. */
  samples?: number;
  /** Finite-difference step. Default 1e-6. */
  h?: number;
  /** Passes when |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|). Defaults 1e-6 and 1e-7. */
  rtol?: number;
  atol?: number;
  /** Seed of the sample of indices. */
  seed?: number;
}

/** The indices to check: all of 0..n−1, or `samples` of them spread at random (deterministic per seed). */
export function sampleIndices(n: number, samples: number, seed = 1): number[] {
  if (n <= samples) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  let s = (seed * 2654435761) >>> 0 || 1;
  while (picked.size < samples) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    picked.add(s % n);
  }
  return [...picked].sort((a, b) => a - b);
}

/**
 * Checks analytic = ∂f/∂x at a sample of indices against numericGrad, and fails naming the
 * gradient, the index, both values and the tolerance. Returns the largest error seen relative to
 * the tolerance (≤ 1 when it passes), so a test can report how much room it had.
 */
export function checkGrad(name: string, f: () => number, x: Float64Array, analytic: ArrayLike<number>, opts: GradCheckOptions = {}): number {
  const { samples = 24, h = 1e-6, rtol = 1e-6, atol = 1e-7, seed = 1 } = opts;
  assert.is(analytic.length, x.length, `${name}: gradient has ${analytic.length} elements, x has ${x.length}`);
  let worst = 0;
  for (const i of sampleIndices(x.length, samples, seed)) {
    const a = analytic[i], n = numericGrad(f, x, i, h);
    const tol = atol + rtol * Math.max(Math.abs(a), Math.abs(n));
    const ratio = Math.abs(a - n) / tol;
    if (!(ratio <= 1)) {
      assert.unreachable(`${name}[${i}]: analytic ${a}, numeric ${n}, |diff| ${Math.abs(a - n).toExponential(2)} > ` +
        `atol ${atol} + rtol ${rtol}·max(|a|, |n|)`);
    }
    worst = Math.max(worst, ratio);
  }
  return worst;
}
