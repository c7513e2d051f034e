// Shared test helpers: float comparisons with stated tolerances, and one WebGPU engine per test
// process (tools/run-tests.mjs closes it after the last test).
import * as assert from 'uvu/assert';

type Floats = ArrayLike<number>;

/** ‖a − b‖₂ / max(‖b‖₂, tiny): the relative error of a whole tensor. */
export function relError(actual: Floats, expected: Floats): number {
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/**
 * Elementwise |a − e| ≤ atol + rtol·|e|, and no NaN unless expected. Names the first offending
 * index, both values and the tensor's relative error when it fails.
 */
export function assertClose(actual: Floats, expected: Floats, opts: { rtol?: number; atol?: number; name?: string } = {}): void {
  const { rtol = 1e-5, atol = 1e-6, name = 'tensor' } = opts;
  assert.is(actual.length, expected.length, `${name}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.unreachable(`${name}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol}; ` +
        `relative error of the tensor ${relError(actual, expected).toExponential(2)})`);
    }
  }
}

/** Asserts the relative error of the whole tensor is at most tol. */
export function assertRelError(actual: Floats, expected: Floats, tol: number, name = 'tensor'): void {
  assert.is(actual.length, expected.length, `${name}: length ${actual.length} != ${expected.length}`);
  const e = relError(actual, expected);
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) assert.unreachable(`${name}[${i}] is ${actual[i]}`);
  }
  assert.ok(e <= tol, `${name}: relative error ${e.toExponential(3)} > ${tol}`);
}

/** Deterministic pseudo-random floats in [-1, 1) for test inputs. */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
