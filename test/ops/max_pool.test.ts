// max_pool against the float64 reference: the ImageNet stem's 3×3/2 window, odd sizes,
// overlapping windows. Tolerance: OPS.max_pool.tolerance (y exact: a max only selects).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose, randomFloats } from '../util';
import { OPS, add, bounds, maxPool } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, runOp } from './helpers';

const tol = OPS.max_pool.tolerance;

const pools: { shape: ref.Shape4; k: number; stride: number; pad: number }[] = [
  { shape: [2, 3, 8, 8], k: 3, stride: 2, pad: 1 },   // the ImageNet stem's pool
  { shape: [1, 2, 7, 9], k: 3, stride: 2, pad: 1 },   // odd sizes
  { shape: [2, 1, 5, 5], k: 2, stride: 2, pad: 0 },
  { shape: [1, 3, 6, 5], k: 3, stride: 1, pad: 1 },   // overlapping windows, stride 1
  { shape: [2, 2, 9, 8], k: 2, stride: 3, pad: 0 },   // stride > window: some inputs in no window
  { shape: [1, 2, 9, 9], k: 5, stride: 1, pad: 2 },   // windows overlap 5 a side: the gather kernel
  { shape: [1, 2, 7, 7], k: 4, stride: 1, pad: 2 },   // 4 a side, the widest the cells hold
];
for (const c of pools) {
  test(`max_pool: x ${c.shape} k ${c.k} stride ${c.stride} pad ${c.pad}`, async () => {
    const e = await requireEngine();
    const n = c.shape.reduce((a, b) => a * b);
    // Distinct values, so no window has a tie.
    const x = Float32Array.from(randomFloats(n, n), (v, i) => v + i * 1e-3);
    const fwd = ref.maxPoolForward(f64(x), c.shape, c);
    const dy = randomFloats(fwd.y.length, 3);
    const r = await runOp(e, [{ data: x, shape: c.shape, grad: true }], (g: Graph, [t]) => maxPool(g, t, { kernel: c.k, stride: c.stride, pad: c.pad }), dy);
    const dx = ref.maxPoolBackward(f64(dy), fwd.argmax, c.shape);
    assertClose(r.y, fwd.y, { ...bounds(tol.forward, fwd.y), name: 'y' });
    assertClose(r.grads[0]!, dx, { ...bounds(tol.backward, dx), name: 'dx' });
  });
}

for (const k of [3, 5]) {
  test(`max_pool: gradient of an input pooled twice accumulates (${k === 3 ? 'cell' : 'gather'} kernel)`, async () => {
    const e = await requireEngine();
    const shape: ref.Shape4 = [2, 2, 7, 6], n = 2 * 2 * 7 * 6, opts = { kernel: k, stride: k === 3 ? 2 : 1, pad: (k - 1) / 2 };
    const x = Float32Array.from(randomFloats(n, 11), (v, i) => v + i * 1e-3);
    const fwd = ref.maxPoolForward(f64(x), shape, { k: opts.kernel, stride: opts.stride, pad: opts.pad });
    const dy = randomFloats(fwd.y.length, 12);
    const r = await runOp(e, [{ data: x, shape, grad: true }], (g: Graph, [t]) => add(g, maxPool(g, t, opts), maxPool(g, t, opts)), dy);
    const dx = ref.maxPoolBackward(f64(dy), fwd.argmax, shape).map((v) => 2 * v);
    assertClose(r.grads[0]!, dx, { ...bounds(tol.backward, dx), name: '2·dx' });
  });
}

test('max_pool: NaN wins its window, and its gradient goes to it', async () => {
  const e = await requireEngine();
  const x = Float32Array.from({ length: 16 }, (_, i) => i);
  x[5] = NaN;
  const r = await runOp(e, [{ data: x, shape: [1, 1, 4, 4], grad: true }], (g: Graph, [t]) => maxPool(g, t), Float32Array.from([1, 2, 3, 4]));
  // Windows (3×3/2, pad 1) over rows/columns −1…1, −1…3, 1…3: the NaN at (1, 1) is in all four.
  assert.ok(Array.from(r.y).every((v) => Number.isNaN(v)), `y ${Array.from(r.y)}`);
  const dx = Array.from(r.grads[0]!);
  assert.is(dx[5], 10, 'all four windows chose the NaN');
  assert.is(dx.reduce((s, v, i) => s + (i === 5 ? 0 : Math.abs(v)), 0), 0);
});

test('max_pool: all-negative windows at the border (padding never wins)', async () => {
  const e = await requireEngine();
  const x = new Float32Array(16).fill(-5);
  const r = await runOp(e, [{ data: x, shape: [1, 1, 4, 4] }], (g: Graph, [t]) => maxPool(g, t));
  assert.equal(Array.from(r.y), [-5, -5, -5, -5]);
});

test('max_pool: shape errors', async () => {
  const e = await requireEngine();
  const g = new Graph(e);
  assert.throws(() => maxPool(g, g.empty([2, 3])), /max_pool: input x must be 4-D NCHW, got shape \[2, 3\]/);
  assert.throws(() => maxPool(g, g.empty([1, 1, 4, 4]), { kernel: 3, pad: 2 }), /max_pool: pad 2 must be at most half the kernel 3/);
  g.dispose();
});

test.run();
