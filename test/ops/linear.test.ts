// linear (x·Wᵀ + b through conv2d's kernels, bias add, column sum) against the float64 reference,
// and finite differences of its GPU backward. Tolerance: OPS.linear.tolerance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import type { Tensor } from '../../src/tensor';
import { assertClose, randomFloats } from '../util';
import { OPS, bounds, linear } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, gpuFiniteDiff, runOp } from './helpers';

const tol = OPS.linear.tolerance;

/** y, dx, dW and db of linear on x of `xShape` (a batch, then features flattened) against float64. */
async function checkLinear(xShape: number[], OUT: number, seed: number): Promise<void> {
  const e = await requireEngine();
  const N = xShape[0], IN = xShape.slice(1).reduce((a, b) => a * b, 1);
  const x = randomFloats(N * IN, seed), w = randomFloats(OUT * IN, seed + 1, 0.3), b = randomFloats(OUT, seed + 2), dy = randomFloats(N * OUT, seed + 3);
  const r = await runOp(e, [{ data: x, shape: xShape, grad: true }, { data: w, shape: [OUT, IN], grad: true }, { data: b, shape: [OUT], grad: true }],
    (g: Graph, [tx, tw, tb]) => linear(g, tx, tw, tb), dy);
  const y = ref.linearForward(f64(x), [N, IN], f64(w), f64(b));
  const back = ref.linearBackward(f64(x), [N, IN], f64(w), f64(dy));
  assertClose(r.y, y, { ...bounds(tol.forward, y), name: 'y' });
  assertClose(r.grads[0]!, back.dx, { ...bounds(tol.backward, back.dx), name: 'dx' });
  assertClose(r.grads[1]!, back.dw, { ...bounds(tol.backward, back.dw), name: 'dW' });
  assertClose(r.grads[2]!, back.db, { ...bounds(tol.backward, back.db), name: 'db' });
}

for (const [N, IN, OUT] of [[2, 512, 10], [3, 7, 5], [1, 1, 1], [9, 33, 17]]) {
  test(`linear: x [${N}, ${IN}] → ${OUT}: y, dx, dW, db`, () => checkLinear([N, IN], OUT, 7));
}

test('linear: finite differences of the GPU backward (h = 1e-2, tol 2e-2)', async () => {
  const e = await requireEngine();
  const lin = [{ data: randomFloats(6, 1), shape: [2, 3], grad: true }, { data: randomFloats(12, 2), shape: [4, 3], grad: true }, { data: randomFloats(4, 3), shape: [4], grad: true }];
  const fl = (g: Graph, [x, w, b]: Tensor[]) => linear(g, x, w, b);
  for (const i of [0, 1, 2]) await gpuFiniteDiff(e, lin, i, fl, { tol: 2e-2, samples: 3 });
});

test('linear: x [N, C, H, W] is read as [N, C·H·W] (nn.Flatten then nn.Linear): y, dx (in x\'s shape), dW, db', async () => {
  await checkLinear([3, 2, 5, 3], 7, 41);
  const e = await requireEngine();
  const g = new Graph(e);
  assert.throws(() => linear(g, g.empty([2, 3, 2, 2]), g.empty([4, 5]), null), /linear: input x \[2, 3, 2, 2\] has 12 features \(flattened\) but weight \[4, 5\] expects 5/);
  assert.throws(() => linear(g, g.empty([6]), g.empty([4, 6]), null), /linear: input x must be \[batch, features\]/);
  g.dispose();
});

test('linear: shape errors name the op, the input and both shapes', async () => {
  const e = await requireEngine();
  const g = new Graph(e);
  assert.throws(() => linear(g, g.empty([2, 3]), g.empty([4, 5]), null), /linear: input x \[2, 3\] has 3 features but weight \[4, 5\] expects 5/);
  assert.throws(() => linear(g, g.empty([2, 3]), g.empty([4, 3]), g.empty([5])), /linear: bias has shape \[5\], expected \[4\]/);
  g.dispose();
});

test.run();
