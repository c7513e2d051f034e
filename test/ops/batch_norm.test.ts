// batch_norm (train and eval) against the float64 reference, running statistics included.
// Tolerance: 1e-5·max|ref| + 1e-4·|ref| (float32 two-pass statistics over ≤ 2·9·9 values).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { assertClose, randomFloats } from '../util';
import { add, batchNorm } from '../../src/ops';
import { batchNormChunkedPlan } from '../../src/ops/batch_norm';
import { batchNormEvalBackward, batchNormEvalForward, batchNormRunningUpdate, batchNormTrainBackward, batchNormTrainForward, reluBackward, reluForward, type Shape4 } from '../../src/reference/ops';
import { f64, gpuFiniteDiff, maxAbs } from './helpers';
import type { Tensor } from '../../src/tensor';
import { defaultKernelConfig, type Engine } from '../../src/gpu/engine';
import { Graph } from '../../src/autograd/graph';
import type { BatchNormState } from '../../src/ops';

/** A layer state over fresh running statistics (disposed with the graph). */
function bnState(g: Graph, rm: ArrayLike<number>, rv: ArrayLike<number>, running: BatchNormState['running'] = 'update'): BatchNormState {
  const e: Engine = g.engine;
  return { runningMean: g.own(e.tensor(Float32Array.from(rm), [rm.length])), runningVar: g.own(e.tensor(Float32Array.from(rv), [rv.length])), batchesTracked: 0, running };
}

const shapes: Shape4[] = [[2, 3, 5, 7], [4, 5, 3, 3], [3, 70, 2, 2], [1, 2, 9, 9], [2, 1, 1, 1]];
const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });

/**
 * Runs fn with the engine's batch norm kernels set to `variant` as the adapter that gets it would
 * run them ('chunked' as on a GPU, 'split' as on a CPU rasterizer), then restores them.
 */
async function withVariant<T>(e: Engine, variant: Engine['kernels']['batchNorm'], fn: () => Promise<T>): Promise<T> {
  const saved = e.kernels;
  const as = defaultKernelConfig({ software: variant === 'split', hostCores: e.info.hostCores });
  e.kernels = { ...saved, batchNorm: variant, valuesPerInvocation: as.valuesPerInvocation };
  try {
    return await fn();
  } finally {
    e.kernels = saved;
  }
}

const VARIANTS: Engine['kernels']['batchNorm'][] = ['chunked', 'split'];

// Shapes whose channels the chunked kernels cut into several chunks (src/ops/batch_norm.ts): 3
// chunks of vec4s, one a whole image; 2 chunks of vec4s that split an image; 3 chunks of scalars
// across planes of odd size.
const chunkedShapes: Shape4[] = [[3, 2, 64, 64], [3, 2, 60, 60], [5, 2, 27, 27]];
test('batch_norm chunked: the test shapes cover one and several chunks, vec4 and scalar loads', () => {
  const plans = chunkedShapes.map(([N, C, H, W]) => batchNormChunkedPlan(N, C, H * W));
  assert.equal(plans.map((p) => [p.overrides.CHUNKS, p.consts.LANES]), [[3, 4], [2, 4], [3, 1]]);
  assert.equal(shapes.map(([N, C, H, W]) => batchNormChunkedPlan(N, C, H * W).consts.LANES), [1, 1, 4, 1, 1]);
});

const trainCases = [
  ...VARIANTS.flatMap((variant) => shapes.filter(([N, , H, W]) => N * H * W > 1).map((shape) => ({ variant, shape }))),
  ...chunkedShapes.map((shape) => ({ variant: 'chunked' as const, shape })),
];
for (const { variant, shape } of trainCases) {
  test(`batch_norm train (${variant}): x ${shape}`, async () => {
    const e = await requireEngine();
    await withVariant(e, variant, async () => {
      const [N, C, H, W] = shape;
      const n = N * C * H * W;
      const x = randomFloats(n, n + 1).map((v, i) => 3 * v + 0.5 * (i % 7));
      const gamma = randomFloats(C, 2).map((v) => 1 + 0.5 * v), beta = randomFloats(C, 3);
      const rm = randomFloats(C, 4), rv = randomFloats(C, 5).map((v) => 1 + 0.5 * v);
      const dy = randomFloats(n, 6);
      const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [C], { requiresGrad: true });
      const tb = e.tensor(beta, [C], { requiresGrad: true });
      const g = new Graph(e);
      const state = bnState(g, rm, rv);
      const y = batchNorm(g, tx, tg, tb, state, { training: true });
      g.backward(y, g.own(e.tensor(dy, shape)));
      const [gy, gdx, gdg, gdb, grm, grv] = await Promise.all([y.read(), tx.grad!.read(), tg.grad!.read(), tb.grad!.read(), state.runningMean.read(), state.runningVar.read()]);
      assert.is(state.batchesTracked, 1, 'num_batches_tracked counts the batch');
      const ref = batchNormTrainForward(f64(x), shape, f64(gamma), f64(beta));
      const refRm = f64(rm), refRv = f64(rv);
      batchNormRunningUpdate(refRm, refRv, ref.mean, ref.varUnbiased, 0.1);
      const back = batchNormTrainBackward(f64(x), shape, f64(gamma), ref.mean, ref.invstd, f64(dy));
      assertClose(gy, ref.y, { ...tol(ref.y), name: 'y' });
      assertClose(grm, refRm, { ...tol(refRm), name: 'running_mean' });
      assertClose(grv, refRv, { ...tol(refRv), name: 'running_var' });
      // dx cancels (Σ terms of size |dy|): its error scales with |dy|, not with |dx|.
      assertClose(gdx, back.dx, { atol: 1e-5 * Math.max(maxAbs(back.dx), maxAbs(dy)), rtol: 1e-4, name: 'dx' });
      assertClose(gdg, back.dgamma, { ...tol(back.dgamma), name: 'dgamma' });
      assertClose(gdb, back.dbeta, { ...tol(back.dbeta), name: 'dbeta' });
      g.dispose();
      for (const t of [tx, tg, tb]) t.dispose();
    });
  });
}

for (const variant of VARIANTS) {
  test(`batch_norm train (${variant}): gradients accumulate into existing ones, and dx is left out when x needs none`, async () => {
    const e = await requireEngine();
    await withVariant(e, variant, async () => {
      const shape: Shape4 = [3, 4, 5, 5];
      const [N, C, H, W] = shape, n = N * C * H * W;
      const x = randomFloats(n, 41), gamma = randomFloats(C, 42).map((v) => 1 + v / 2), beta = randomFloats(C, 43), dy = randomFloats(n, 44);
      const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [C], { requiresGrad: true }), tb = e.tensor(beta, [C], { requiresGrad: true });
      const g = new Graph(e);
      const state = bnState(g, new Array(C).fill(0), new Array(C).fill(1));
      // Two uses of the same inputs: the second backward adds into the first one's gradients.
      const y = add(g, batchNorm(g, tx, tg, tb, state, { training: true }), batchNorm(g, tx, tg, tb, state, { training: true }));
      g.backward(y, g.own(e.tensor(dy, shape)));
      const ref = batchNormTrainForward(f64(x), shape, f64(gamma), f64(beta));
      const back = batchNormTrainBackward(f64(x), shape, f64(gamma), ref.mean, ref.invstd, f64(dy));
      const twice = (a: Float64Array) => a.map((v) => 2 * v);
      assertClose(await tx.grad!.read(), twice(back.dx), { atol: 2e-5 * Math.max(maxAbs(back.dx), maxAbs(dy)), rtol: 1e-4, name: 'dx' });
      assertClose(await tg.grad!.read(), twice(back.dgamma), { ...tol(back.dgamma), name: 'dgamma' });
      assertClose(await tb.grad!.read(), twice(back.dbeta), { ...tol(back.dbeta), name: 'dbeta' });
      g.dispose();
      // Frozen input: only the parameter gradients.
      const fx = e.tensor(x, shape), g2 = new Graph(e);
      const y2 = batchNorm(g2, fx, tg, tb, bnState(g2, new Array(C).fill(0), new Array(C).fill(1)), { training: true });
      tg.gradValid = false;
      tb.gradValid = false;
      g2.backward(y2, g2.own(e.tensor(dy, shape)));
      assert.is(fx.grad, null, 'no gradient for an input that needs none');
      assertClose(await tg.grad!.read(), back.dgamma, { ...tol(back.dgamma), name: 'dgamma (frozen x)' });
      g2.dispose();
      for (const t of [tx, tg, tb, fx]) t.dispose();
    });
  });
}

// [2, 6, 4, 7]: a plane the split kernels hold in registers; [4, 3, 2, 17]: one they loop over
// (34 values), with runs of 2 values and 4 images per elementwise invocation.
const reluShapes: Shape4[] = [[2, 6, 4, 7], [4, 3, 2, 17]];
for (const variant of VARIANTS) for (const training of [true, false]) for (const shape of reluShapes) {
  test(`batch_norm with the fused ReLU (${variant}, ${training ? 'train' : 'eval'}, x ${shape}): y = max(BN(x), 0), dy masked by [y > 0]`, async () => {
    const e = await requireEngine();
    await withVariant(e, variant, async () => {
      const [, C] = shape, n = shape.reduce((p, q) => p * q);
      const x = randomFloats(n, 51), gamma = randomFloats(C, 52).map((v) => 1 + v / 2), beta = randomFloats(C, 53), dy = randomFloats(n, 54);
      const rm = randomFloats(C, 55), rv = randomFloats(C, 56).map((v) => 1 + v / 2);
      const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [C], { requiresGrad: true }), tb = e.tensor(beta, [C], { requiresGrad: true });
      const g = new Graph(e);
      const y = batchNorm(g, tx, tg, tb, bnState(g, rm, rv), { training, relu: true });
      g.backward(y, g.own(e.tensor(dy, shape)));
      let pre: Float64Array, back: { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array };
      if (training) {
        const f = batchNormTrainForward(f64(x), shape, f64(gamma), f64(beta));
        pre = f.y;
        back = batchNormTrainBackward(f64(x), shape, f64(gamma), f.mean, f.invstd, reluBackward(pre, f64(dy)));
      } else {
        pre = batchNormEvalForward(f64(x), shape, f64(gamma), f64(beta), f64(rm), f64(rv));
        back = batchNormEvalBackward(f64(x), shape, f64(gamma), f64(rm), f64(rv), reluBackward(pre, f64(dy)));
      }
      const ry = reluForward(pre);
      assert.ok(pre.some((v) => v < 0) && pre.some((v) => v > 0), 'the ReLU cuts some values and passes others');
      assertClose(await y.read(), ry, { ...tol(ry), name: 'y' });
      assertClose(await tx.grad!.read(), back.dx, { atol: 1e-5 * Math.max(maxAbs(back.dx), maxAbs(dy)), rtol: 1e-4, name: 'dx' });
      assertClose(await tg.grad!.read(), back.dgamma, { ...tol(back.dgamma), name: 'dgamma' });
      assertClose(await tb.grad!.read(), back.dbeta, { ...tol(back.dbeta), name: 'dbeta' });
      g.dispose();
      for (const t of [tx, tg, tb]) t.dispose();
    });
  });
}

test('batch_norm eval backward: through the running statistics (constants), accumulating into existing gradients', async () => {
  const e = await requireEngine();
  const shape: Shape4 = [2, 5, 3, 4];
  const n = 120, C = 5;
  const x = randomFloats(n, 31), gamma = randomFloats(C, 32).map((v) => 1 + v / 2), beta = randomFloats(C, 33);
  const rm = randomFloats(C, 34), rv = randomFloats(C, 35).map((v) => 1.5 + v), dy = randomFloats(n, 36);
  const g = new Graph(e);
  const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [C], { requiresGrad: true }), tb = e.tensor(beta, [C], { requiresGrad: true });
  const state = bnState(g, rm, rv);
  // Used twice: the second backward must add to the first.
  const y = g.scope('twice', () => {
    const a = batchNorm(g, tx, tg, tb, state, { training: false });
    const b = batchNorm(g, tx, tg, tb, state, { training: false });
    return add(g, a, b);
  });
  g.backward(y, g.own(e.tensor(dy, shape)));
  const [gdx, gdg, gdb] = await Promise.all([tx.grad!.read(), tg.grad!.read(), tb.grad!.read()]);
  const back = batchNormEvalBackward(f64(x), shape, f64(gamma), f64(rm), f64(rv), f64(dy));
  const twice = (a: Float64Array) => a.map((v) => 2 * v);
  assertClose(gdx, twice(back.dx), { ...tol(back.dx), name: 'dx' });
  assertClose(gdg, twice(back.dgamma), { ...tol(back.dgamma), name: 'dgamma' });
  assertClose(gdb, twice(back.dbeta), { ...tol(back.dbeta), name: 'dbeta' });
  assert.equal(Array.from(await state.runningMean.read()), Array.from(rm), 'eval mode leaves running_mean alone');
  g.dispose();
  [tx, tg, tb].forEach((t) => t.dispose());
});

test('batch_norm eval: finite differences of the GPU backward (h = 1e-2, tol 2e-2)', async () => {
  const e = await requireEngine();
  const C = 3;
  const inputs = [
    { data: randomFloats(2 * C * 3 * 3, 41), shape: [2, C, 3, 3], grad: true },
    { data: randomFloats(C, 42).map((v) => 1 + v / 2), shape: [C], grad: true },
    { data: randomFloats(C, 43), shape: [C], grad: true },
  ];
  const f = (g: Graph, [x, gamma, beta]: Tensor[]) => batchNorm(g, x, gamma, beta, bnState(g, [0.1, -0.2, 0.3], [0.5, 1, 2]), { training: false });
  await gpuFiniteDiff(e, inputs, 0, f, { tol: 2e-2 });
  await gpuFiniteDiff(e, inputs, 1, f, { tol: 2e-2, samples: 3 });
  await gpuFiniteDiff(e, inputs, 2, f, { tol: 2e-2, samples: 3 });
});

test("batch_norm running 'eval': training mode normalises with the running statistics, leaves them alone, and backpropagates through them", async () => {
  const e = await requireEngine();
  const shape: Shape4 = [2, 3, 4, 2];
  const x = randomFloats(48, 51), gamma = randomFloats(3, 52).map((v) => 1 + v / 2), beta = randomFloats(3, 53);
  const rm = randomFloats(3, 54), rv = randomFloats(3, 55).map((v) => 1.5 + v), dy = randomFloats(48, 56);
  const g = new Graph(e);
  const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [3], { requiresGrad: true }), tb = e.tensor(beta, [3], { requiresGrad: true });
  const state = bnState(g, rm, rv, 'eval');
  const y = batchNorm(g, tx, tg, tb, state, { training: true });
  g.backward(y, g.own(e.tensor(dy, shape)));
  const want = batchNormEvalForward(f64(x), shape, f64(gamma), f64(beta), f64(rm), f64(rv));
  const back = batchNormEvalBackward(f64(x), shape, f64(gamma), f64(rm), f64(rv), f64(dy));
  assertClose(await y.read(), want, { ...tol(want), name: 'y' });
  assertClose(await tx.grad!.read(), back.dx, { ...tol(back.dx), name: 'dx' });
  assertClose(await tg.grad!.read(), back.dgamma, { ...tol(back.dgamma), name: 'dgamma' });
  assert.equal(Array.from(await state.runningVar.read()), Array.from(rv), 'running_var untouched');
  assert.is(state.batchesTracked, 0);
  g.dispose();
  [tx, tg, tb].forEach((t) => t.dispose());
});

test('batch_norm eval: running statistics, no update', async () => {
  const e = await requireEngine();
  const shape: Shape4 = [3, 4, 5, 3];
  const n = 180;
  const x = randomFloats(n, 8), gamma = randomFloats(4, 9), beta = randomFloats(4, 10);
  const rm = randomFloats(4, 11), rv = randomFloats(4, 12).map((v) => 1.2 + v);
  const g = new Graph(e);
  const ts = [e.tensor(x, shape), e.tensor(gamma, [4]), e.tensor(beta, [4])];
  const state = bnState(g, rm, rv);
  const y = batchNorm(g, ts[0], ts[1], ts[2], state, { training: false });
  const ref = batchNormEvalForward(f64(x), shape, f64(gamma), f64(beta), f64(rm), f64(rv));
  assertClose(await y.read(), ref, { ...tol(ref), name: 'y' });
  assert.equal(Array.from(await state.runningMean.read()), Array.from(rm), 'running_mean untouched');
  assert.is(state.batchesTracked, 0, 'eval mode counts no batch');
  g.dispose();
  ts.forEach((t) => t.dispose());
});

test("batch_norm: running 'freeze' keeps running statistics bit-identical and counts no batch; 'update' moves them", async () => {
  const e = await requireEngine();
  const rm = randomFloats(3, 1), rv = randomFloats(3, 2).map((v) => 2 + v);
  const g = new Graph(e);
  const ts = [e.tensor(randomFloats(2 * 3 * 4 * 4, 3), [2, 3, 4, 4]), e.tensor([1, 1, 1], [3], { requiresGrad: true }), e.tensor([0, 0, 0], [3])];
  const frozen = bnState(g, rm, rv, 'freeze'), moving = bnState(g, rm, rv);
  batchNorm(g, ts[0], ts[1], ts[2], frozen, { training: true });
  batchNorm(g, ts[0], ts[1], ts[2], moving, { training: true });
  assert.equal(Array.from(await frozen.runningMean.read()), Array.from(rm));
  assert.equal(Array.from(await frozen.runningVar.read()), Array.from(rv));
  assert.is(frozen.batchesTracked, 0);
  assert.not.equal(Array.from(await moving.runningMean.read()), Array.from(rm));
  assert.is(moving.batchesTracked, 1);
  g.dispose();
  ts.forEach((t) => t.dispose());
});

test('batch_norm: finite differences of the GPU backward through the batch statistics (h = 1e-2, tol 3e-2)', async () => {
  const e = await requireEngine();
  const C = 3;
  const inputs = [
    { data: randomFloats(2 * C * 3 * 3, 21), shape: [2, C, 3, 3], grad: true },
    { data: randomFloats(C, 22).map((v) => 1 + v / 2), shape: [C], grad: true },
    { data: randomFloats(C, 23), shape: [C], grad: true },
  ];
  const f = (g: Graph, [x, gamma, beta]: Tensor[]) => batchNorm(g, x, gamma, beta, bnState(g, [0, 0, 0], [1, 1, 1]), { training: true });
  await gpuFiniteDiff(e, inputs, 0, f, { tol: 3e-2 });
  await gpuFiniteDiff(e, inputs, 1, f, { tol: 3e-2, samples: 3 });
});

test('batch_norm: shape errors', async () => {
  const e = await requireEngine();
  const gr = new Graph(e);
  const x = gr.empty([2, 3, 4, 4]), g = gr.empty([4]), c3 = gr.empty([3]);
  const state = { runningMean: c3, runningVar: c3, batchesTracked: 0, running: 'update' as const };
  assert.throws(() => batchNorm(gr, x, g, c3, state, { training: true }), /batch_norm: weight \(gamma\) has shape \[4\], expected \[3\] \(one per channel of input x \[2, 3, 4, 4\]\)/);
  assert.throws(() => batchNorm(gr, gr.empty([1, 3, 1, 1]), c3, c3, state, { training: true }), /more than one value per channel/);
  gr.dispose();
});

test.run();
