// batch_norm (train and eval) against the float64 reference, running statistics included.
// Tolerance: 1e-5·max|ref| + 1e-4·|ref| (float32 two-pass statistics over ≤ 2·9·9 values).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { assertClose, randomFloats } from '../util';
import { batchNorm } from '../../src/ops';
import { batchNormEvalForward, batchNormRunningUpdate, batchNormTrainBackward, batchNormTrainForward, type Shape4 } from '../reference/ops';
import { f64, gpuFiniteDiff, maxAbs } from './helpers';
import type { Tensor } from '../../src/tensor';

const shapes: Shape4[] = [[2, 3, 5, 7], [4, 5, 3, 3], [3, 70, 2, 2], [1, 2, 9, 9], [2, 1, 1, 1]];
const tol = (r: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(r), rtol: 1e-4 });

for (const shape of shapes.filter(([N, , H, W]) => N * H * W > 1)) {
  test(`batch_norm train: x ${shape}`, async () => {
    const e = await requireEngine();
    const [N, C, H, W] = shape;
    const n = N * C * H * W;
    const x = randomFloats(n, n + 1).map((v, i) => 3 * v + 0.5 * (i % 7));
    const gamma = randomFloats(C, 2).map((v) => 1 + 0.5 * v), beta = randomFloats(C, 3);
    const rm = randomFloats(C, 4), rv = randomFloats(C, 5).map((v) => 1 + 0.5 * v);
    const dy = randomFloats(n, 6);
    const tx = e.tensor(x, shape, { requiresGrad: true }), tg = e.tensor(gamma, [C], { requiresGrad: true });
    const tb = e.tensor(beta, [C], { requiresGrad: true }), trm = e.tensor(rm, [C]), trv = e.tensor(rv, [C]);
    const y = batchNorm(tx, tg, tb, trm, trv, { training: true });
    e.tape.backward(y, e.tape.own(e.tensor(dy, shape)));
    const [gy, gdx, gdg, gdb, grm, grv] = await Promise.all([y.read(), tx.grad!.read(), tg.grad!.read(), tb.grad!.read(), trm.read(), trv.read()]);
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
    e.tape.reset();
    for (const t of [tx, tg, tb, trm, trv]) t.dispose();
  });
}

test('batch_norm eval: running statistics, no update', async () => {
  const e = await requireEngine();
  const shape: Shape4 = [3, 4, 5, 3];
  const n = 180;
  const x = randomFloats(n, 8), gamma = randomFloats(4, 9), beta = randomFloats(4, 10);
  const rm = randomFloats(4, 11), rv = randomFloats(4, 12).map((v) => 1.2 + v);
  const ts = [e.tensor(x, shape), e.tensor(gamma, [4]), e.tensor(beta, [4]), e.tensor(rm, [4]), e.tensor(rv, [4])];
  const y = batchNorm(ts[0], ts[1], ts[2], ts[3], ts[4], { training: false });
  const ref = batchNormEvalForward(f64(x), shape, f64(gamma), f64(beta), f64(rm), f64(rv));
  assertClose(await y.read(), ref, { ...tol(ref), name: 'y' });
  assert.equal(Array.from(await ts[3].read()), Array.from(rm), 'running_mean untouched');
  e.tape.reset();
  ts.forEach((t) => t.dispose());
});

test('batch_norm: frozen layer (updateRunning false) leaves running statistics bit-identical', async () => {
  const e = await requireEngine();
  const rm = randomFloats(3, 1), rv = randomFloats(3, 2).map((v) => 2 + v);
  const ts = [e.tensor(randomFloats(2 * 3 * 4 * 4, 3), [2, 3, 4, 4]), e.tensor([1, 1, 1], [3]), e.tensor([0, 0, 0], [3]), e.tensor(rm, [3]), e.tensor(rv, [3])];
  batchNorm(ts[0], ts[1], ts[2], ts[3], ts[4], { training: true, updateRunning: false });
  assert.equal(Array.from(await ts[3].read()), Array.from(rm));
  assert.equal(Array.from(await ts[4].read()), Array.from(rv));
  e.tape.reset();
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
  const f = ([x, g, b]: Tensor[]) => batchNorm(x, g, b, x.engine.tape.own(x.engine.tensor([0, 0, 0], [C])), x.engine.tape.own(x.engine.tensor([1, 1, 1], [C])), { training: true });
  await gpuFiniteDiff(e, inputs, 0, f, { tol: 3e-2 });
  await gpuFiniteDiff(e, inputs, 1, f, { tol: 3e-2, samples: 3 });
});

test('batch_norm: shape errors', async () => {
  const e = await requireEngine();
  const x = e.empty([2, 3, 4, 4]), g = e.empty([4]), c3 = e.empty([3]);
  assert.throws(() => batchNorm(x, g, c3, c3, c3, { training: true }), /batch_norm: weight \(gamma\) has shape \[4\], expected \[3\] \(one per channel of input x \[2, 3, 4, 4\]\)/);
  assert.throws(() => batchNorm(e.empty([1, 3, 1, 1]), c3, c3, c3, c3, { training: true }), /more than one value per channel/);
  e.tape.reset();
  [x, g, c3].forEach((t) => t.dispose());
});

test.run();
