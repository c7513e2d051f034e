// Running one GPU op forward and backward (with a given seed gradient dy) and comparing against
// the float64 reference; a central finite-difference check of the GPU backward itself.
import * as assert from 'uvu/assert';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/tensor';
import { randomFloats } from '../util';

export interface OpInput { data: Float32Array | Uint32Array; shape: number[]; grad?: boolean }

export interface OpRun { y: Float32Array; grads: (Float32Array | null)[] }

/** Runs f on fresh tensors, backpropagates dy, reads y and every input gradient. */
export async function runOp(e: Engine, inputs: OpInput[], f: (t: Tensor[]) => Tensor, dy?: Float32Array): Promise<OpRun> {
  const ts = inputs.map((i) => e.tensor(i.data, i.shape, { requiresGrad: i.grad ?? false }));
  try {
    const out = f(ts);
    const y = await out.read();
    const grads: (Float32Array | null)[] = [];
    if (dy) {
      const seed = e.tensor(dy, out.shape);
      e.tape.backward(out, seed);
      for (const t of ts) grads.push(t.requiresGrad && t.gradValid ? await t.grad!.read() : null);
      seed.dispose();
    }
    await e.sync();
    return { y, grads };
  } finally {
    e.tape.reset();
    for (const t of ts) t.dispose();
  }
}

export const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

/** Max |v| of a tensor: tolerances scale with it. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Central finite differences of L = Σ y·r (r fixed random) through the GPU forward, in float32,
 * against the GPU gradient of the same L, at `samples` entries of input `which`. Float32 forces
 * a large step (h = 1e-2) and a loose tolerance (stated by the caller): this catches wrong rules,
 * not rounding.
 */
export async function gpuFiniteDiff(e: Engine, inputs: OpInput[], which: number, f: (t: Tensor[]) => Tensor,
  opts: { samples?: number; h?: number; tol: number }): Promise<void> {
  const { samples = 6, h = 1e-2, tol } = opts;
  const probe = await runOp(e, inputs, f);
  const r = randomFloats(probe.y.length, 99);
  const { grads } = await runOp(e, inputs, f, r);
  const g = grads[which]!;
  const L = async (data: Float32Array) => {
    const ins = inputs.map((inp, i) => (i === which ? { ...inp, data } : inp));
    const { y } = await runOp(e, ins, f);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  const base = inputs[which].data as Float32Array;
  const scale = maxAbs(g);
  for (let k = 0; k < samples; k++) {
    const i = Math.floor(((k + 0.5) / samples) * base.length);
    const plus = base.slice(); plus[i] += h;
    const minus = base.slice(); minus[i] -= h;
    const numeric = ((await L(plus)) - (await L(minus))) / (2 * h);
    assert.ok(Math.abs(numeric - g[i]) <= tol * Math.max(scale, 1e-3),
      `finite difference at input ${which}[${i}]: analytic ${g[i]}, numeric ${numeric} (tolerance ${tol}·${scale.toExponential(2)})`);
  }
}
