// cross_entropy (softmax, mean over the batch, label smoothing) against the float64 reference,
// edge values, and finite differences of its GPU backward. Tolerance: OPS.cross_entropy.tolerance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertClose, randomFloats } from '../util';
import { OPS, bounds, crossEntropy } from '../../src/ops';
import * as ref from '../../src/reference/ops';
import { f64, gpuFiniteDiff, runOp } from './helpers';

const tol = OPS.cross_entropy.tolerance;

for (const [N, K, eps] of [[2, 10, 0], [5, 3, 0.1], [70, 10, 0], [1, 1000, 0.2]]) {
  test(`cross_entropy: logits [${N}, ${K}], label smoothing ${eps}`, async () => {
    const e = await requireEngine();
    const z = randomFloats(N * K, 11, 4);
    const labels = Uint32Array.from({ length: N }, (_, i) => (i * 7) % K);
    const r = await runOp(e, [{ data: z, shape: [N, K], grad: true }, { data: labels, shape: [N] }], (g: Graph, [tz, tl]) => crossEntropy(g, tz, tl, { labelSmoothing: eps }), new Float32Array([1]));
    const want = ref.crossEntropyForwardBackward(f64(z), Int32Array.from(labels), eps);
    assertClose(r.y, [want.loss], { atol: 1e-6, rtol: 1e-5, name: 'loss' });
    assertClose(r.grads[0]!, want.dlogits, { ...bounds(tol.backward, want.dlogits), name: 'dlogits' });
  });
}

test('cross_entropy: huge logits stay finite; a label out of range gives NaN, not a silent loss', async () => {
  const e = await requireEngine();
  const r = await runOp(e, [{ data: new Float32Array([1e4, -1e4, 0, 3e4]), shape: [2, 2] }, { data: new Uint32Array([1, 0]), shape: [2] }], (g: Graph, [z, l]) => crossEntropy(g, z, l));
  assertClose(r.y, [(2e4 + 3e4) / 2], { atol: 1e-2, rtol: 1e-6, name: 'loss' });
  const bad = await runOp(e, [{ data: new Float32Array([0, 0]), shape: [1, 2] }, { data: new Uint32Array([2]), shape: [1] }], (g: Graph, [z, l]) => crossEntropy(g, z, l));
  assert.ok(Number.isNaN(bad.y[0]));
});

test('cross_entropy: finite differences of the GPU backward (h = 1e-2, tol 2e-2)', async () => {
  const e = await requireEngine();
  const ce = [{ data: randomFloats(12, 5, 2), shape: [3, 4], grad: true }, { data: new Uint32Array([0, 3, 1]), shape: [3] }];
  await gpuFiniteDiff(e, ce, 0, (g: Graph, [z, l]) => crossEntropy(g, z, l, { labelSmoothing: 0.1 }), { tol: 2e-2 });
});

test('cross_entropy: shape and dtype errors', async () => {
  const e = await requireEngine();
  const g = new Graph(e);
  const a = g.empty([2, 3]);
  assert.throws(() => crossEntropy(g, a, g.empty([3], 'u32')), /cross_entropy: labels has shape \[3\], expected \[2\]/);
  assert.throws(() => crossEntropy(g, a, g.empty([2])), /cross_entropy: labels must be u32, got f32/);
  g.dispose();
});

test.run();
