// add (the residual sum) against the float64 reference. Tolerance: OPS.add.tolerance (exact: one
// float32 addition, and the gradient passes unchanged).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import type { Tensor } from '../../src/tensor';
import { assertClose, randomFloats } from '../util';
import { OPS, bounds, add, avgPool, crossEntropy, linear, maxPool, relu } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, gpuFiniteDiff, runOp } from './helpers';

const tol = OPS.add.tolerance;

for (const n of [1, 63, 64, 65, 1000]) {
  test(`add: ${n} elements (around the workgroup size)`, async () => {
    const e = await requireEngine();
    const a = randomFloats(n, n), b = randomFloats(n, n + 1), dy = randomFloats(n, n + 2);
    const s = await runOp(e, [{ data: a, shape: [n], grad: true }, { data: b, shape: [n], grad: true }], (g: Graph, [ta, tb]) => add(g, ta, tb), dy);
    // The reference sum rounded to float32, as the GPU's one addition is.
    const y = ref.addForward(f64(a), f64(b)).map(Math.fround);
    const back = ref.addBackward(f64(dy));
    assertClose(s.y, y, { ...bounds(tol.forward, y), name: 'add y' });
    assertClose(s.grads[0]!, back.da, { ...bounds(tol.backward, back.da), name: 'add da' });
    assertClose(s.grads[1]!, back.db, { ...bounds(tol.backward, back.db), name: 'add db' });
  });
}

for (const n of [64, 65]) {
  test(`add with the fused ReLU: y = max(a + b, 0), da = db = dy·[y > 0] (${n} elements: vec4 and scalar kernels)`, async () => {
    const e = await requireEngine();
    // Values with exact float32 sums, some of them 0 (the ReLU passes no gradient at 0).
    const a = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3), b = Float32Array.from({ length: n }, (_, i) => 0.5 * ((i % 5) - 2));
    const dy = randomFloats(n, n + 2);
    const s = await runOp(e, [{ data: a, shape: [n], grad: true }, { data: b, shape: [n], grad: true }], (g: Graph, [ta, tb]) => add(g, ta, tb, { relu: true }), dy);
    const sum = ref.addForward(f64(a), f64(b));
    const y = ref.reluForward(sum), back = ref.addBackward(ref.reluBackward(sum, f64(dy)));
    assert.ok(sum.some((v) => v === 0) && sum.some((v) => v < 0), 'the case has sums at and below 0');
    assertClose(s.y, y, { ...bounds(tol.forward, y), name: 'y' });
    assertClose(s.grads[0]!, back.da, { ...bounds(tol.backward, back.da), name: 'da' });
    assertClose(s.grads[1]!, back.db, { ...bounds(tol.backward, back.db), name: 'db' });
  });
}

test('add: shape errors name both inputs and shapes', async () => {
  const e = await requireEngine();
  const g = new Graph(e);
  assert.throws(() => add(g, g.empty([2, 3]), g.empty([3, 2])), /add: input a \[2, 3\] and input b \[3, 2\] must have the same shape/);
  g.dispose();
});

test.run();
