// relu, add, max_pool, avg_pool, linear and cross_entropy against the float64 reference.
// Tolerances: exact ops (relu, add, max_pool) 1e-6 absolute; sums (avg_pool, linear,
// cross_entropy) 1e-5·max|ref| + 1e-4·|ref|.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { assertClose, randomFloats } from '../util';
import { add, avgPool, crossEntropy, linear, maxPool, relu } from '../../src/ops';
import type { Tensor } from '../../src/tensor';
import {
  globalAvgPoolBackward, globalAvgPoolForward, linearBackward, linearForward, maxPoolBackward, maxPoolForward,
  reluBackward, reluForward, softmaxCrossEntropy, type Shape4,
} from '../reference/ops';
import { f64, gpuFiniteDiff, maxAbs, runOp } from './helpers';

const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });

for (const n of [1, 63, 64, 65, 1000]) {
  test(`relu and add: ${n} elements (around the workgroup size)`, async () => {
    const e = await requireEngine();
    const x = randomFloats(n, n), b = randomFloats(n, n + 1), dy = randomFloats(n, n + 2);
    const r = await runOp(e, [{ data: x, shape: [n], grad: true }], ([t]) => relu(t), dy);
    assertClose(r.y, reluForward(f64(x)), { atol: 0, rtol: 0, name: 'relu y' });
    assertClose(r.grads[0]!, reluBackward(f64(x), f64(dy)), { atol: 0, rtol: 0, name: 'relu dx' });
    const s = await runOp(e, [{ data: x, shape: [n], grad: true }, { data: b, shape: [n], grad: true }], ([ta, tb]) => add(ta, tb), dy);
    assertClose(s.y, Float64Array.from(x, (v, i) => Math.fround(v + b[i])), { atol: 0, rtol: 0, name: 'add y' });
    assertClose(s.grads[0]!, dy, { atol: 0, rtol: 0, name: 'add da' });
    assertClose(s.grads[1]!, dy, { atol: 0, rtol: 0, name: 'add db' });
  });
}

const pools: { shape: Shape4; k: number; stride: number; pad: number }[] = [
  { shape: [2, 3, 8, 8], k: 3, stride: 2, pad: 1 },   // the ImageNet stem's pool
  { shape: [1, 2, 7, 9], k: 3, stride: 2, pad: 1 },   // odd sizes
  { shape: [2, 1, 5, 5], k: 2, stride: 2, pad: 0 },
  { shape: [1, 3, 6, 5], k: 3, stride: 1, pad: 1 },   // overlapping windows, stride 1
];
for (const c of pools) {
  test(`max_pool: x ${c.shape} k ${c.k} stride ${c.stride} pad ${c.pad}`, async () => {
    const e = await requireEngine();
    const n = c.shape.reduce((a, b) => a * b);
    // Distinct values, so no window has a tie.
    const x = Float32Array.from(randomFloats(n, n), (v, i) => v + i * 1e-3);
    const ref = maxPoolForward(f64(x), c.shape, c);
    const dy = randomFloats(ref.y.length, 3);
    const r = await runOp(e, [{ data: x, shape: c.shape, grad: true }], ([t]) => maxPool(t, { kernel: c.k, stride: c.stride, pad: c.pad }), dy);
    assertClose(r.y, ref.y, { atol: 0, rtol: 0, name: 'y' });
    assertClose(r.grads[0]!, maxPoolBackward(f64(dy), ref.argmax, c.shape), { atol: 1e-6, rtol: 1e-6, name: 'dx' });
  });
}

test('max_pool: all-negative windows at the border (padding never wins)', async () => {
  const e = await requireEngine();
  const x = new Float32Array(16).fill(-5);
  const r = await runOp(e, [{ data: x, shape: [1, 1, 4, 4] }], ([t]) => maxPool(t));
  assert.equal(Array.from(r.y), [-5, -5, -5, -5]);
});

for (const shape of [[2, 3, 4, 4], [3, 5, 1, 1], [1, 70, 3, 5]] as Shape4[]) {
  test(`avg_pool: x ${shape}`, async () => {
    const e = await requireEngine();
    const n = shape.reduce((a, b) => a * b);
    const x = randomFloats(n, 5), dy = randomFloats(shape[0] * shape[1], 6);
    const r = await runOp(e, [{ data: x, shape, grad: true }], ([t]) => avgPool(t), dy);
    const ref = globalAvgPoolForward(f64(x), shape);
    assertClose(r.y, ref, { ...tol(ref), name: 'y' });
    assertClose(r.grads[0]!, globalAvgPoolBackward(f64(dy), shape), { atol: 1e-7, rtol: 1e-6, name: 'dx' });
  });
}

for (const [N, IN, OUT] of [[2, 512, 10], [3, 7, 5], [1, 1, 1], [9, 33, 17]]) {
  test(`linear: x [${N}, ${IN}] → ${OUT}: y, dx, dW, db`, async () => {
    const e = await requireEngine();
    const x = randomFloats(N * IN, 7), w = randomFloats(OUT * IN, 8, 0.3), b = randomFloats(OUT, 9), dy = randomFloats(N * OUT, 10);
    const r = await runOp(e, [{ data: x, shape: [N, IN], grad: true }, { data: w, shape: [OUT, IN], grad: true }, { data: b, shape: [OUT], grad: true }],
      ([tx, tw, tb]) => linear(tx, tw, tb), dy);
    const ref = linearForward(f64(x), [N, IN], f64(w), f64(b));
    const back = linearBackward(f64(x), [N, IN], f64(w), f64(dy));
    assertClose(r.y, ref, { ...tol(ref), name: 'y' });
    assertClose(r.grads[0]!, back.dx, { ...tol(back.dx), name: 'dx' });
    assertClose(r.grads[1]!, back.dw, { ...tol(back.dw), name: 'dW' });
    assertClose(r.grads[2]!, back.db, { ...tol(back.db), name: 'db' });
  });
}

for (const [N, K, eps] of [[2, 10, 0], [5, 3, 0.1], [70, 10, 0], [1, 1000, 0.2]]) {
  test(`cross_entropy: logits [${N}, ${K}], label smoothing ${eps}`, async () => {
    const e = await requireEngine();
    const z = randomFloats(N * K, 11, 4);
    const labels = Uint32Array.from({ length: N }, (_, i) => (i * 7) % K);
    const r = await runOp(e, [{ data: z, shape: [N, K], grad: true }, { data: labels, shape: [N] }], ([tz, tl]) => crossEntropy(tz, tl, { labelSmoothing: eps }), new Float32Array([1]));
    const ref = softmaxCrossEntropy(f64(z), Int32Array.from(labels), eps);
    assertClose(r.y, [ref.loss], { atol: 1e-6, rtol: 1e-5, name: 'loss' });
    assertClose(r.grads[0]!, ref.dlogits, { ...tol(ref.dlogits), name: 'dlogits' });
  });
}

test('cross_entropy: huge logits stay finite; a label out of range gives NaN, not a silent loss', async () => {
  const e = await requireEngine();
  const r = await runOp(e, [{ data: new Float32Array([1e4, -1e4, 0, 3e4]), shape: [2, 2] }, { data: new Uint32Array([1, 0]), shape: [2] }], ([z, l]) => crossEntropy(z, l));
  assertClose(r.y, [(2e4 + 3e4) / 2], { atol: 1e-2, rtol: 1e-6, name: 'loss' });
  const bad = await runOp(e, [{ data: new Float32Array([0, 0]), shape: [1, 2] }, { data: new Uint32Array([2]), shape: [1] }], ([z, l]) => crossEntropy(z, l));
  assert.ok(Number.isNaN(bad.y[0]));
});

test('finite differences of the GPU backward: linear, avg_pool, cross_entropy (h = 1e-2, tol 2e-2)', async () => {
  const e = await requireEngine();
  const lin = [{ data: randomFloats(6, 1), shape: [2, 3], grad: true }, { data: randomFloats(12, 2), shape: [4, 3], grad: true }, { data: randomFloats(4, 3), shape: [4], grad: true }];
  const fl = ([x, w, b]: Tensor[]) => linear(x, w, b);
  for (const i of [0, 1, 2]) await gpuFiniteDiff(e, lin, i, fl, { tol: 2e-2, samples: 3 });
  await gpuFiniteDiff(e, [{ data: randomFloats(2 * 3 * 3 * 2, 4), shape: [2, 3, 3, 2], grad: true }], 0, ([x]) => avgPool(x), { tol: 2e-2 });
  const ce = [{ data: randomFloats(12, 5, 2), shape: [3, 4], grad: true }, { data: new Uint32Array([0, 3, 1]), shape: [3] }];
  await gpuFiniteDiff(e, ce, 0, ([z, l]) => crossEntropy(z, l, { labelSmoothing: 0.1 }), { tol: 2e-2 });
});

test('shape errors name the op, the input and both shapes', async () => {
  const e = await requireEngine();
  const a = e.empty([2, 3]), b = e.empty([3, 2]), w = e.empty([4, 5]), lab = e.empty([3], 'u32'), labf = e.empty([2]);
  assert.throws(() => add(a, b), /add: input a \[2, 3\] and input b \[3, 2\] must have the same shape/);
  assert.throws(() => linear(a, w, null), /linear: input x \[2, 3\] has 3 features but weight \[4, 5\] expects 5/);
  assert.throws(() => crossEntropy(a, lab), /cross_entropy: labels has shape \[3\], expected \[2\]/);
  assert.throws(() => crossEntropy(a, labf), /cross_entropy: labels must be u32, got f32/);
  assert.throws(() => maxPool(a), /max_pool: input x must be 4-D NCHW, got shape \[2, 3\]/);
  [a, b, w, lab, labf].forEach((t) => t.dispose());
});

test.run();
