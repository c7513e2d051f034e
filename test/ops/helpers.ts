// Running one GPU op forward and backward (with a given seed gradient dy) and comparing against
// the float64 reference; a central finite-difference check of the GPU backward itself.
import * as assert from 'uvu/assert';
import type { Engine } from '../../src/gpu/engine';
import type { Tensor } from '../../src/tensor';
import { Graph } from '../../src/autograd/graph';
import { randomFloats } from '../util';

export interface OpInput { data: Float32Array | Uint32Array; shape: number[]; grad?: boolean }

export interface OpRun { y: Float32Array; grads: (Float32Array | null)[] }

/** An op applied to input tensors, recorded on g. */
export type OpFn = (g: Graph, t: Tensor[]) => Tensor;

/** Runs f on fresh tensors in a graph of its own, backpropagates dy, reads y and every input gradient. */
export async function runOp(e: Engine, inputs: OpInput[], f: OpFn, dy?: Float32Array): Promise<OpRun> {
  const ts = inputs.map((i) => e.tensor(i.data, i.shape, { requiresGrad: i.grad ?? false }));
  const g = new Graph(e);
  try {
    const out = f(g, ts);
    const y = await out.read();
    const grads: (Float32Array | null)[] = [];
    if (dy) {
      g.backward(out, g.own(e.tensor(dy, out.shape)));
      for (const t of ts) grads.push(t.requiresGrad && t.gradValid ? await t.grad!.read() : null);
    }
    await e.sync();
    return { y, grads };
  } finally {
    g.dispose();
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
export async function gpuFiniteDiff(e: Engine, inputs: OpInput[], which: number, f: OpFn,
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
