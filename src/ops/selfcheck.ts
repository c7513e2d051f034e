/**
 * The op checks, runnable wherever an Engine runs (the training page runs them in the browser):
 * every op in the registry, forward and every input gradient, at one small odd-sized case each,
 * against its float64 reference with the registry's tolerances. The full per-op suites (edge
 * sizes, finite differences) are in test/ops/; this is the same comparison, small enough for a page.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import { Graph } from '../autograd/graph';
import * as ref from '../reference/ops';
import { Rng } from '../util/rng';
import { OPS, bounds, type Tolerance } from './registry';
import type { OpName } from './op';
import { conv2d } from './conv2d';
import { batchNorm } from './batch_norm';
import { relu } from './relu';
import { add } from './add';
import { maxPool } from './max_pool';
import { avgPool } from './avg_pool';
import { linear } from './linear';
import { crossEntropy } from './cross_entropy';

export interface OpCheck {
  op: OpName;
  /** Worst |gpu − ref| over its allowed bound, per output (≤ 1 passes). */
  worst: Record<string, number>;
  ok: boolean;
}

interface Case {
  inputs: { data: Float32Array | Uint32Array; shape: number[]; grad: boolean }[];
  run(g: Graph, t: Tensor[]): Tensor;
  /** The float64 forward and the gradients of Σ y·dy with respect to each grad input. */
  reference(x: Float64Array[], dy: Float64Array): { y: ArrayLike<number>; grads: ArrayLike<number>[] };
}

const rand = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

function cases(rng: Rng): Record<OpName, Case> {
  const x4 = [2, 3, 5, 5] as [number, number, number, number];
  return {
    conv2d: {
      inputs: [{ data: rand(rng, 2 * 3 * 5 * 5), shape: x4, grad: true }, { data: rand(rng, 4 * 3 * 3 * 3), shape: [4, 3, 3, 3], grad: true }],
      run: (g, [x, w]) => conv2d(g, x, w, { stride: 2, pad: 1 }),
      reference: ([x, w], dy) => {
        const y = ref.conv2dForward(x, x4, w, [4, 3, 3, 3], { stride: 2, pad: 1 }).y;
        const b = ref.conv2dBackward(x, x4, w, [4, 3, 3, 3], dy, { stride: 2, pad: 1 });
        return { y, grads: [b.dx, b.dw] };
      },
    },
    batch_norm: {
      inputs: [{ data: rand(rng, 2 * 3 * 5 * 5), shape: x4, grad: true }, { data: rand(rng, 3), shape: [3], grad: true }, { data: rand(rng, 3), shape: [3], grad: true }],
      run: (g, [x, gamma, beta]) => {
        const state = { runningMean: g.own(g.engine.tensor(new Float32Array(3), [3])), runningVar: g.own(g.engine.tensor(new Float32Array(3).fill(1), [3])),
          batchesTracked: 0, running: 'update' as const };
        return batchNorm(g, x, gamma, beta, state, { training: true, relu: true });
      },
      // With the fused ReLU, as ResNet-18 uses it: y = max(BN(x), 0), dy masked by [y > 0].
      reference: ([x, gamma, beta], dy) => {
        const f = ref.batchNormTrainForward(x, x4, gamma, beta);
        const b = ref.batchNormTrainBackward(x, x4, gamma, f.mean, f.invstd, ref.reluBackward(f.y, dy));
        return { y: ref.reluForward(f.y), grads: [b.dx, b.dgamma, b.dbeta] };
      },
    },
    relu: {
      inputs: [{ data: rand(rng, 67), shape: [67], grad: true }],
      run: (g, [x]) => relu(g, x),
      reference: ([x], dy) => ({ y: ref.reluForward(x), grads: [ref.reluBackward(x, dy)] }),
    },
    add: {
      inputs: [{ data: rand(rng, 67), shape: [67], grad: true }, { data: rand(rng, 67), shape: [67], grad: true }],
      // With the fused ReLU, as ResNet-18's blocks end: y = max(a + b, 0).
      run: (g, [a, b]) => add(g, a, b, { relu: true }),
      reference: ([a, b], dy) => {
        const y = ref.addForward(a, b), r = ref.addBackward(ref.reluBackward(y, dy));
        return { y: ref.reluForward(y), grads: [r.da, r.db] };
      },
    },
    max_pool: {
      inputs: [{ data: rand(rng, 2 * 3 * 5 * 5), shape: x4, grad: true }],
      run: (g, [x]) => maxPool(g, x, { kernel: 3, stride: 2, pad: 1 }),
      reference: ([x], dy) => {
        const f = ref.maxPoolForward(x, x4, { k: 3, stride: 2, pad: 1 });
        return { y: f.y, grads: [ref.maxPoolBackward(dy, f.argmax, x4)] };
      },
    },
    avg_pool: {
      inputs: [{ data: rand(rng, 2 * 3 * 5 * 5), shape: x4, grad: true }],
      run: (g, [x]) => avgPool(g, x),
      reference: ([x], dy) => ({ y: ref.avgPoolForward(x, x4), grads: [ref.avgPoolBackward(dy, x4)] }),
    },
    linear: {
      inputs: [{ data: rand(rng, 3 * 7), shape: [3, 7], grad: true }, { data: rand(rng, 5 * 7), shape: [5, 7], grad: true }, { data: rand(rng, 5), shape: [5], grad: true }],
      run: (g, [x, w, b]) => linear(g, x, w, b),
      reference: ([x, w, b], dy) => { const r = ref.linearBackward(x, [3, 7], w, dy); return { y: ref.linearForward(x, [3, 7], w, b), grads: [r.dx, r.dw, r.db] }; },
    },
    cross_entropy: {
      inputs: [{ data: rand(rng, 4 * 6), shape: [4, 6], grad: true }, { data: Uint32Array.from([0, 5, 2, 3]), shape: [4], grad: false }],
      run: (g, [logits, labels]) => crossEntropy(g, logits, labels),
      reference: ([logits], dy) => {
        const r = ref.crossEntropyForwardBackward(logits, Int32Array.from([0, 5, 2, 3]));
        return { y: [r.loss], grads: [r.dlogits.map((v) => v * dy[0])] };
      },
    },
  };
}

/**
 * Worst |gpu − ref| relative to its bound (atol·max|ref| + rtol·|ref|); ≤ 1 is within tolerance.
 * The reference is rounded to float32 first: an exact op (add, relu) must give the correctly
 * rounded float32 of the float64 result, no closer.
 */
export function worstRatio(got: ArrayLike<number>, reference: ArrayLike<number>, tol: Tolerance): number {
  const want = Float64Array.from(reference, Math.fround);
  const { atol, rtol } = bounds(tol, want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]), allowed = atol + rtol * Math.abs(want[i]);
    worst = Math.max(worst, err === 0 ? 0 : allowed === 0 ? Infinity : err / allowed);
    if (!Number.isFinite(got[i])) worst = Infinity;
  }
  return worst;
}

export async function checkOps(engine: Engine, seed = 1): Promise<OpCheck[]> {
  const all = cases(new Rng(seed));
  const out: OpCheck[] = [];
  for (const op of Object.keys(OPS) as OpName[]) {
    const c = all[op], tol = OPS[op].tolerance;
    const ts = c.inputs.map((i) => engine.tensor(i.data, i.shape, { requiresGrad: i.grad }));
    const g = new Graph(engine);
    try {
      const y = c.run(g, ts);
      const dy = rand(new Rng(seed + 7), y.size);
      g.backward(y, g.own(engine.tensor(dy, y.shape)));
      const gy = await y.read();
      const grads = await Promise.all(ts.filter((t) => t.requiresGrad).map((t) => t.grad!.read()));
      const r = c.reference(c.inputs.map((i) => f64(i.data)), f64(dy));
      const worst: Record<string, number> = { y: worstRatio(gy, r.y, tol.forward) };
      grads.forEach((gr, k) => { worst[`d${k}`] = worstRatio(gr, r.grads[k], tol.backward); });
      out.push({ op, worst, ok: Object.values(worst).every((v) => v <= 1) });
    } finally {
      g.dispose();
      for (const t of ts) t.dispose();
    }
  }
  return out;
}
