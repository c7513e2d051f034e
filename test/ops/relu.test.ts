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

test('relu, add, accumulate: the vec4 kernels (size a multiple of 4) and the scalar ones agree bit for bit', async () => {
  const e = await requireEngine();
  const n = 1024, x = randomFloats(n, 5), y = randomFloats(n, 6), dy = randomFloats(n, 7);
  const vec = await runOp(e, [{ data: x, shape: [n], grad: true }, { data: y, shape: [n], grad: true }], (g: Graph, [a, b]) => relu(g, add(g, a, b)), dy);
  // The same values with one more element take the scalar path; the first n results must match.
  const pad = (v: Float32Array) => Float32Array.from([...v, 0.5]);
  const sca = await runOp(e, [{ data: pad(x), shape: [n + 1], grad: true }, { data: pad(y), shape: [n + 1], grad: true }], (g: Graph, [a, b]) => relu(g, add(g, a, b)), pad(dy));
  assert.equal(Array.from(vec.y), Array.from(sca.y.subarray(0, n)), 'forward');
  assert.equal(Array.from(vec.grads[0]!), Array.from(sca.grads[0]!.subarray(0, n)), 'gradient through relu and add');
  assert.equal(Array.from(vec.grads[1]!), Array.from(sca.grads[1]!.subarray(0, n)));
  const want = ref.reluForward(f64(x).map((v, i) => Math.fround(v + y[i])));
  assertClose(vec.y, want, { atol: 0, rtol: 0, name: 'relu(a + b) against float64' });
});

test.run();
