// conv2d forward, backward_data and backward_weight against the float64 reference.
// Tolerance: |gpu − ref| ≤ 1e-5·max|ref| + 1e-4·|ref| (float32 sums of up to a few hundred terms).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose, randomFloats } from '../util';
import { conv2d, ShapeError } from '../../src/ops';
import { conv2dBackward, conv2dForward, type Shape4 } from '../../src/reference/ops';
import { f64, gpuFiniteDiff, maxAbs, runOp } from './helpers';

const cases: { x: Shape4; w: Shape4; stride: number; pad: number }[] = [
  { x: [2, 3, 7, 5], w: [5, 3, 3, 3], stride: 1, pad: 1 },   // odd sizes, not multiples of any tile
  { x: [2, 4, 9, 9], w: [6, 4, 3, 3], stride: 2, pad: 1 },   // downsampling 3×3
  { x: [3, 5, 8, 8], w: [7, 5, 1, 1], stride: 2, pad: 0 },   // shortcut 1×1/2
  { x: [1, 3, 19, 17], w: [4, 3, 7, 7], stride: 2, pad: 3 }, // ImageNet stem 7×7/2
  { x: [2, 16, 6, 6], w: [9, 16, 3, 3], stride: 1, pad: 1 },
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], stride: 1, pad: 0 },   // smallest
];

for (const c of cases) {
  test(`conv2d: x ${c.x} w ${c.w} stride ${c.stride} pad ${c.pad}: forward, dx, dw`, async () => {
    const e = await requireEngine();
    const seed = c.x.reduce((a, b) => a * 31 + b, 7);
    const x = randomFloats(c.x.reduce((a, b) => a * b), seed);
    const w = randomFloats(c.w.reduce((a, b) => a * b), seed + 1, 0.5);
    const ref = conv2dForward(f64(x), c.x, f64(w), c.w, c);
    const dy = randomFloats(ref.y.length, seed + 2);
    const got = await runOp(e, [{ data: x, shape: c.x, grad: true }, { data: w, shape: c.w, grad: true }],
      (g: Graph, [tx, tw]) => conv2d(g, tx, tw, c), dy);
    const back = conv2dBackward(f64(x), c.x, f64(w), c.w, f64(dy), c);
    const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });
    assertClose(got.y, ref.y, { ...tol(ref.y), name: 'y' });
    assertClose(got.grads[0]!, back.dx, { ...tol(back.dx), name: 'dx' });
    assertClose(got.grads[1]!, back.dw, { ...tol(back.dw), name: 'dw' });
  });
}

test('conv2d with bias (VGG): y = conv + b[o], db[o] = Σ_{n,oh,ow} dy, at odd sizes; dx and dw unchanged by the bias', async () => {
  const e = await requireEngine();
  for (const c of [{ x: [2, 3, 7, 5] as Shape4, w: [5, 3, 3, 3] as Shape4, stride: 1, pad: 1 }, { x: [3, 4, 9, 9] as Shape4, w: [6, 4, 3, 3] as Shape4, stride: 2, pad: 1 }]) {
    const x = randomFloats(c.x.reduce((a, b) => a * b), 21), w = randomFloats(c.w.reduce((a, b) => a * b), 22, 0.5), b = randomFloats(c.w[0], 23);
    const conv = conv2dForward(f64(x), c.x, f64(w), c.w, c);
    const [N, O, OH, OW] = conv.shape, inner = OH * OW;
    const y = conv.y.map((v, i) => v + b[Math.floor(i / inner) % O]);
    const dy = randomFloats(y.length, 24);
    const db = new Float64Array(O);
    for (let i = 0; i < dy.length; i++) db[Math.floor(i / inner) % O] += dy[i];
    const got = await runOp(e, [{ data: x, shape: c.x, grad: true }, { data: w, shape: c.w, grad: true }, { data: b, shape: [O], grad: true }],
      (g: Graph, [tx, tw, tb]) => conv2d(g, tx, tw, c, tb), dy);
    const back = conv2dBackward(f64(x), c.x, f64(w), c.w, f64(dy), c);
    const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });
    assertClose(got.y, y, { ...tol(y), name: 'y' });
    assertClose(got.grads[0]!, back.dx, { ...tol(back.dx), name: 'dx' });
    assertClose(got.grads[1]!, back.dw, { ...tol(back.dw), name: 'dw' });
    assertClose(got.grads[2]!, db, { ...tol(db), name: 'db' });
    assert.is(N, c.x[0]);
  }
  const inputs = [{ data: randomFloats(2 * 2 * 5 * 4, 31), shape: [2, 2, 5, 4], grad: true }, { data: randomFloats(3 * 2 * 3 * 3, 32), shape: [3, 2, 3, 3], grad: true },
    { data: randomFloats(3, 33), shape: [3], grad: true }];
  await gpuFiniteDiff(e, inputs, 2, (g: Graph, [x, w, b]) => conv2d(g, x, w, { stride: 2, pad: 1 }, b), { tol: 2e-2 });
  const g = new Graph(e);
  assert.throws(() => conv2d(g, g.empty([1, 2, 4, 4]), g.empty([3, 2, 3, 3]), {}, g.empty([4])), /conv2d: bias b has shape \[4\], expected \[3\]/);
  g.dispose();
});

test('conv2d: gradients accumulate (+=) when an input is used twice', async () => {
  const e = await requireEngine();
  const xs: Shape4 = [1, 2, 5, 5], ws: Shape4 = [3, 2, 3, 3];
  const x = randomFloats(50, 3), w = randomFloats(54, 4);
  const dy = randomFloats(75, 5);
  // y = conv(x, w) + conv(x, w): every gradient is twice the single one.
  const { add } = await import('../../src/ops');
  const twice = await runOp(e, [{ data: x, shape: xs, grad: true }, { data: w, shape: ws, grad: true }],
    (g: Graph, [tx, tw]) => add(g, conv2d(g, tx, tw, { pad: 1 }), conv2d(g, tx, tw, { pad: 1 })), dy);
  const back = conv2dBackward(f64(x), xs, f64(w), ws, f64(dy), { stride: 1, pad: 1 });
  assertClose(twice.grads[0]!, back.dx.map((v) => 2 * v), { atol: 1e-5, rtol: 1e-4, name: '2·dx' });
  assertClose(twice.grads[1]!, back.dw.map((v) => 2 * v), { atol: 1e-5, rtol: 1e-4, name: '2·dw' });
});

test('conv2d: central finite differences of the GPU backward (h = 1e-2, tolerance 2e-2 of max|g|)', async () => {
  const e = await requireEngine();
  const inputs = [{ data: randomFloats(2 * 2 * 5 * 4, 11), shape: [2, 2, 5, 4], grad: true },
    { data: randomFloats(3 * 2 * 3 * 3, 12), shape: [3, 2, 3, 3], grad: true }];
  const f = (g: Graph, [x, w]: import('../../src/tensor').Tensor[]) => conv2d(g, x, w, { stride: 2, pad: 1 });
  await gpuFiniteDiff(e, inputs, 0, f, { tol: 2e-2 });
  await gpuFiniteDiff(e, inputs, 1, f, { tol: 2e-2 });
});

test('conv2d: shape errors name the op, the input and both shapes, before dispatch', async () => {
  const e = await requireEngine();
  const before = e.dispatches;
  const g = new Graph(e);
  const x = e.empty([2, 3, 8, 8]), w = e.empty([4, 5, 3, 3]), x3 = e.empty([3, 8, 8]);
  assert.throws(() => conv2d(g, x, w), (err: Error) => err instanceof ShapeError && /conv2d: input x \[2, 3, 8, 8\] has 3 channels but weight w \[4, 5, 3, 3\] expects 5/.test(err.message));
  assert.throws(() => conv2d(g, x3, w), /conv2d: input x must be 4-D NCHW, got shape \[3, 8, 8\]/);
  assert.throws(() => conv2d(g, e.empty([1, 5, 2, 2]), w), /smaller than the 3×3 kernel/);
  assert.is(e.dispatches, before);
  g.dispose();
  for (const t of [x, w, x3]) t.dispose();
});

test.run();
