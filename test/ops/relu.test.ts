// relu against the float64 reference (src/reference/ops.ts reluForward/reluBackward), at sizes
// around the workgroup size. Tolerance: OPS.relu.tolerance (exact: relu only selects).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import type { Tensor } from '../../src/tensor';
import { assertClose, randomFloats } from '../util';
import { OPS, bounds, add, avgPool, crossEntropy, linear, maxPool, relu } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, gpuFiniteDiff, runOp } from './helpers';

const tol = OPS.relu.tolerance;

for (const n of [1, 63, 64, 65, 1000]) {
  test(`relu: ${n} elements (around the workgroup size)`, async () => {
    const e = await requireEngine();
    const x = randomFloats(n, n), dy = randomFloats(n, n + 2);
    const r = await runOp(e, [{ data: x, shape: [n], grad: true }], (g: Graph, [t]) => relu(g, t), dy);
    const y = ref.reluForward(f64(x)), dx = ref.reluBackward(f64(x), f64(dy));
    assertClose(r.y, y, { ...bounds(tol.forward, y), name: 'relu y' });
    assertClose(r.grads[0]!, dx, { ...bounds(tol.backward, dx), name: 'relu dx' });
  });
}

test('relu: gradient of a value used twice accumulates', async () => {
  const e = await requireEngine();
  const x = randomFloats(70, 1), dy = randomFloats(70, 2);
  const r = await runOp(e, [{ data: x, shape: [70], grad: true }], (g: Graph, [t]) => add(g, relu(g, t), relu(g, t)), dy);
  const dx = ref.reluBackward(f64(x), f64(dy)).map((v) => 2 * v);
  assertClose(r.grads[0]!, dx, { atol: 0, rtol: 0, name: '2·dx' });
});

test.run();
