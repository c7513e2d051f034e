// avg_pool (global average) against the float64 reference, and finite differences of its GPU
// backward. Tolerance: OPS.avg_pool.tolerance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose, randomFloats } from '../util';
import { OPS, bounds, avgPool } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, gpuFiniteDiff, runOp } from './helpers';

const tol = OPS.avg_pool.tolerance;

for (const shape of [[2, 3, 4, 4], [3, 5, 1, 1], [1, 70, 3, 5]] as ref.Shape4[]) {
  test(`avg_pool: x ${shape}`, async () => {
    const e = await requireEngine();
    const n = shape.reduce((a, b) => a * b);
    const x = randomFloats(n, 5), dy = randomFloats(shape[0] * shape[1], 6);
    const r = await runOp(e, [{ data: x, shape, grad: true }], (g: Graph, [t]) => avgPool(g, t), dy);
    const y = ref.avgPoolForward(f64(x), shape), dx = ref.avgPoolBackward(f64(dy), shape);
    assertClose(r.y, y, { ...bounds(tol.forward, y), name: 'y' });
    assertClose(r.grads[0]!, dx, { ...bounds(tol.backward, dx), name: 'dx' });
  });
}

test('avg_pool: finite differences of the GPU backward (h = 1e-2, tol 2e-2)', async () => {
  const e = await requireEngine();
  await gpuFiniteDiff(e, [{ data: randomFloats(2 * 3 * 3 * 2, 4), shape: [2, 3, 3, 2], grad: true }], 0, (g: Graph, [x]) => avgPool(g, x), { tol: 2e-2 });
});

test('avg_pool: shape errors', async () => {
  const e = await requireEngine();
  const g = new Graph(e);
  assert.throws(() => avgPool(g, g.empty([2, 3])), /avg_pool: input x must be 4-D NCHW, got shape \[2, 3\]/);
  g.dispose();
});

test.run();
