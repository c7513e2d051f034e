// Self-test of the float64 CPU reference: every backward against central finite differences at
// small odd sizes, hand-computed values for tiny cases, and the whole ResNet-18 (names, shapes,
// parameter count, a finite-difference check at width 1/16 for both stems).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, randomFloats } from '../util';
import { checkGrad } from './gradcheck';
import {
  addForward, batchNormEvalForward, batchNormRunningUpdate, batchNormTrainBackward, batchNormTrainForward,
  conv2dBackward, conv2dForward, avgPoolBackward, avgPoolForward, linearBackward, linearForward,
  maxPoolBackward, maxPoolForward, reluBackward, reluForward, crossEntropyForwardBackward, type Shape4,
} from '../../src/reference/ops';
import {
  resnet18BufferShapes, resnet18Channels, resnet18ParamShapes, resnet18RandomParams, resnet18Reference, type ResNet18Config,
} from './resnet';

const rand = (n: number, seed: number, scale = 1) => Float64Array.from(randomFloats(n, seed, scale));
const f64 = (...v: number[]) => Float64Array.from(v);
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Σ y·r: a scalar whose gradient with respect to y is r, so dy = r. */
const weighted = (y: Float64Array, r: Float64Array) => y.reduce((s, v, i) => s + v * r[i], 0);
const ALL = { samples: 1e9 };

// ---- conv2d --------------------------------------------------------------------------------

const convCases: { x: Shape4; w: Shape4; stride: number; pad: number }[] = [
  { x: [2, 3, 5, 5], w: [4, 3, 3, 3], stride: 1, pad: 1 },
  { x: [2, 3, 5, 5], w: [4, 3, 3, 3], stride: 2, pad: 1 },
  { x: [2, 3, 5, 7], w: [4, 3, 3, 3], stride: 2, pad: 0 },
  { x: [2, 3, 5, 5], w: [5, 3, 1, 1], stride: 2, pad: 0 },
  { x: [1, 3, 5, 5], w: [2, 3, 1, 1], stride: 1, pad: 0 },
  { x: [2, 3, 7, 9], w: [4, 3, 7, 7], stride: 2, pad: 3 },
];
for (const { x: xs, w: ws, stride, pad } of convCases) {
  test(`conv2d: dx, dw match finite differences, x [${xs}], w [${ws}], stride ${stride}, pad ${pad}`, () => {
    const x = rand(sizeOf(xs), 1), w = rand(sizeOf(ws), 2);
    const { y, shape } = conv2dForward(x, xs, w, ws, { stride, pad });
    assert.equal(shape, [xs[0], ws[0], Math.floor((xs[2] + 2 * pad - ws[2]) / stride) + 1, Math.floor((xs[3] + 2 * pad - ws[3]) / stride) + 1]);
    const r = rand(y.length, 3);
    const { dx, dw } = conv2dBackward(x, xs, w, ws, r, { stride, pad });
    const f = () => weighted(conv2dForward(x, xs, w, ws, { stride, pad }).y, r);
    checkGrad('conv2d dx', f, x, dx, ALL);
    checkGrad('conv2d dw', f, w, dw, ALL);
  });
}

test('conv2d: hand-computed 1×1×3×3 cases (all-ones kernel, pads 0 and 1, strides 1 and 2; an edge kernel)', () => {
  const x = f64(1, 2, 3, 4, 5, 6, 7, 8, 9), ones = new Float64Array(9).fill(1);
  const conv = (w: Float64Array, stride: number, pad: number) => conv2dForward(x, [1, 1, 3, 3], w, [1, 1, 3, 3], { stride, pad });
  assert.equal([...conv(ones, 1, 1).y], [12, 21, 16, 27, 45, 33, 24, 39, 28]);
  assert.equal([...conv(ones, 2, 1).y], [12, 16, 24, 28]);
  assert.equal([...conv(ones, 1, 0).y], [45]);
  // 1·1 − 3 + 2·4 − 2·6 + 7 − 9 = −8 (cross-correlation: no kernel flip)
  assert.equal([...conv(f64(1, 0, -1, 2, 0, -2, 1, 0, -1), 1, 0).y], [-8]);
});

test('conv2d: 1×1 kernel mixes channels as w[o, c] (OIHW)', () => {
  const x = f64(1, 2, 3, 4); // [1, 2, 1, 2]: channel 0 = [1, 2], channel 1 = [3, 4]
  const w = f64(1, 0, 0, 1, 1, -1); // [3, 2, 1, 1]
  const { y, shape } = conv2dForward(x, [1, 2, 1, 2], w, [3, 2, 1, 1], { stride: 1, pad: 0 });
  assert.equal(shape, [1, 3, 1, 2]);
  assert.equal([...y], [1, 2, 3, 4, -2, -2]);
});

// ---- batch norm ----------------------------------------------------------------------------

for (const shape of [[2, 3, 5, 5], [5, 3, 1, 1], [3, 2, 3, 1]] as Shape4[]) {
  test(`batchNorm train: dx (through the batch statistics), dgamma, dbeta match finite differences, [${shape}]`, () => {
    const C = shape[1], x = rand(sizeOf(shape), 4, 2), gamma = rand(C, 5, 0.5).map((v) => v + 1), beta = rand(C, 6);
    const r = rand(x.length, 7);
    const fwd = batchNormTrainForward(x, shape, gamma, beta);
    const { dx, dgamma, dbeta } = batchNormTrainBackward(x, shape, gamma, fwd.mean, fwd.invstd, r);
    const f = () => weighted(batchNormTrainForward(x, shape, gamma, beta).y, r);
    checkGrad('batchNorm dx', f, x, dx, ALL);
    checkGrad('batchNorm dgamma', f, gamma, dgamma, ALL);
    checkGrad('batchNorm dbeta', f, beta, dbeta, ALL);
  });
}

test('batchNorm train: hand-computed statistics of [1, 3]; output normalized with the biased variance', () => {
  const { y, mean, varBiased, varUnbiased, invstd } = batchNormTrainForward(f64(1, 3), [2, 1, 1, 1], f64(2), f64(0.5));
  assert.equal([...mean, ...varBiased, ...varUnbiased], [2, 1, 2]);
  assertClose(invstd, [1 / Math.sqrt(1 + 1e-5)], { rtol: 1e-15, atol: 0 });
  assertClose(y, [0.5 - 2 / Math.sqrt(1 + 1e-5), 0.5 + 2 / Math.sqrt(1 + 1e-5)], { rtol: 1e-15, atol: 0 });
  // with γ = 1, β = 0 each channel comes out with mean 0 and variance σ²/(σ² + eps)
  const x = rand(2 * 3 * 5 * 5, 8, 3), out = batchNormTrainForward(x, [2, 3, 5, 5], f64(1, 1, 1), f64(0, 0, 0));
  const stats = batchNormTrainForward(out.y, [2, 3, 5, 5], f64(1, 1, 1), f64(0, 0, 0));
  assertClose(stats.mean, [0, 0, 0], { atol: 1e-14 });
  assertClose(stats.varBiased, [...out.varBiased].map((v) => v / (v + 1e-5)), { rtol: 1e-12 });
  assert.throws(() => batchNormTrainForward(f64(1, 2), [1, 2, 1, 1], f64(1, 1), f64(0, 0)), /more than 1 value per channel/);
});

test('batchNorm: running update r = (1 − m)·r + m·batch with the unbiased variance; eval uses running stats', () => {
  const rm = f64(0, 1), rv = f64(1, 2);
  batchNormRunningUpdate(rm, rv, f64(1, 1), f64(3, 3), 0.1);
  assertClose(rm, [0.1, 1], { rtol: 1e-15, atol: 0 });
  assertClose(rv, [1.2, 2.1], { rtol: 1e-15, atol: 0 });
  // y = γ·(x − μ)/√(σ² + eps) + β, channel 0: μ 1, σ² 4; channel 1: μ −1, σ² 0.25
  const y = batchNormEvalForward(f64(3, 1, 0, 1), [1, 2, 1, 2], f64(2, 1), f64(0, 1), f64(1, -1), f64(4, 0.25), 0);
  assertClose(y, [2, 0, 3, 5], { rtol: 1e-15, atol: 1e-15 });
});

// ---- relu, add -----------------------------------------------------------------------------

test('relu: forward, dx = dy·[x > 0] (0 at x = 0) against finite differences', () => {
  assert.equal([...reluForward(f64(-1, 0, 2))], [0, 0, 2]);
  assert.equal([...reluBackward(f64(-1, 0, 2), f64(5, 6, 7))], [0, 0, 7]);
  const x = rand(2 * 3 * 5 * 5, 9), r = rand(x.length, 10);
  checkGrad('relu dx', () => weighted(reluForward(x), r), x, reluBackward(x, r), ALL);
  assert.equal([...addForward(f64(1, 2), f64(10, 20))], [11, 22]);
});

// ---- max pool ------------------------------------------------------------------------------

/** Distinct values 0.1 apart, shuffled: no ties, and no finite-difference step crosses a tie. */
function distinct(n: number, seed: number): Float64Array {
  const order = [...randomFloats(n, seed)].map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const x = new Float64Array(n);
  order.forEach(([, i], rank) => { x[i] = (rank - n / 2) * 0.1; });
  return x;
}

for (const [shape, opts] of [[[2, 3, 5, 5], { k: 3, stride: 2, pad: 1 }], [[2, 3, 6, 7], { k: 3, stride: 2, pad: 1 }], [[1, 2, 5, 5], { k: 2, stride: 1, pad: 0 }]] as [Shape4, { k: number; stride: number; pad: number }][]) {
  test(`maxPool: dx matches finite differences (no ties), x [${shape}], k ${opts.k}, stride ${opts.stride}, pad ${opts.pad}`, () => {
    const x = distinct(sizeOf(shape), 11);
    const { y, argmax, shape: ys } = maxPoolForward(x, shape, opts);
    assert.is(y.length, sizeOf(ys));
    const r = rand(y.length, 12);
    checkGrad('maxPool dx', () => weighted(maxPoolForward(x, shape, opts).y, r), x, maxPoolBackward(r, argmax, shape), ALL);
  });
}

test('maxPool: padding never wins; ties go to the first max in row-major window order; overlapping windows add up', () => {
  const neg = maxPoolForward(f64(-4, -3, -2, -1), [1, 1, 2, 2]);
  assert.equal([...neg.y], [-1]);
  assert.equal([...neg.argmax], [3]);
  const flat = maxPoolForward(new Float64Array(9).fill(5), [1, 1, 3, 3]);
  assert.equal(flat.shape, [1, 1, 2, 2]);
  assert.equal([...flat.argmax], [0, 1, 3, 4]);
  // the centre of a 3×3 image is in all four 3×3/s2/p1 windows
  const centre = maxPoolForward(f64(0, 0, 0, 0, 1, 0, 0, 0, 0), [1, 1, 3, 3]);
  assert.equal([...centre.argmax], [4, 4, 4, 4]);
  assert.equal([...maxPoolBackward(f64(1, 2, 3, 4), centre.argmax, [1, 1, 3, 3])], [0, 0, 0, 0, 10, 0, 0, 0, 0]);
});

// ---- global average pool, linear -----------------------------------------------------------

test('globalAvgPool: hand-computed mean; dx = dy/(H·W) against finite differences', () => {
  assert.equal([...avgPoolForward(f64(1, 2, 3, 6, 10, 20, 30, 60), [1, 2, 2, 2])], [3, 30]);
  const shape: Shape4 = [2, 3, 5, 3], x = rand(sizeOf(shape), 13), r = rand(6, 14);
  checkGrad('globalAvgPool dx', () => weighted(avgPoolForward(x, shape), r), x, avgPoolBackward(r, shape), ALL);
});

test('linear: hand-computed y = x·wᵀ + b; dx, dw, db against finite differences', () => {
  assert.equal([...linearForward(f64(1, 2), [1, 2], f64(1, 0, 0, 1, 1, 1), f64(0.5, 0, -1))], [1.5, 2, 2]);
  const x = rand(3 * 5, 15), w = rand(7 * 5, 16), b = rand(7, 17), r = rand(3 * 7, 18);
  const { dx, dw, db } = linearBackward(x, [3, 5], w, r);
  const f = () => weighted(linearForward(x, [3, 5], w, b), r);
  checkGrad('linear dx', f, x, dx, ALL);
  checkGrad('linear dw', f, w, dw, ALL);
  checkGrad('linear db', f, b, db, ALL);
});

// ---- softmax cross-entropy -----------------------------------------------------------------

test('crossEntropyForwardBackward: hand-computed values, with and without label smoothing', () => {
  const two = crossEntropyForwardBackward(f64(0, 0), Int32Array.of(0));
  assertClose([two.loss], [Math.LN2], { rtol: 1e-15, atol: 0 });
  assertClose(two.dlogits, [-0.5, 0.5], { rtol: 1e-15, atol: 0 });
  assertClose([crossEntropyForwardBackward(f64(0, 0), Int32Array.of(1), 0.3).loss], [Math.LN2], { rtol: 1e-15, atol: 0 });
  const lse = Math.log(Math.E + Math.E ** 2 + Math.E ** 3), logp = [1 - lse, 2 - lse, 3 - lse];
  assertClose([crossEntropyForwardBackward(f64(1, 2, 3), Int32Array.of(2)).loss], [-logp[2]], { rtol: 1e-14, atol: 0 });
  // ε = 0.2, K = 3: q = [ε/3, ε/3, 1 − ε + ε/3]
  const eps = 0.2, q = [eps / 3, eps / 3, 1 - eps + eps / 3];
  assertClose([crossEntropyForwardBackward(f64(1, 2, 3), Int32Array.of(2), eps).loss], [-(q[0] * logp[0] + q[1] * logp[1] + q[2] * logp[2])], { rtol: 1e-14, atol: 0 });
  // mean over the batch, and stable for huge logits
  const batch = crossEntropyForwardBackward(f64(0, 0, 1000, 0), Int32Array.of(1, 0));
  assertClose([batch.loss], [Math.LN2 / 2], { rtol: 1e-14, atol: 0 });
  assertClose(batch.dlogits, [0.25, -0.25, 0, 0], { rtol: 1e-14, atol: 1e-300 });
});

for (const smoothing of [0, 0.1]) {
  test(`crossEntropyForwardBackward: dlogits of the mean loss match finite differences, label smoothing ${smoothing}`, () => {
    const logits = rand(3 * 5, 19, 3), labels = Int32Array.of(4, 0, 2);
    const { dlogits } = crossEntropyForwardBackward(logits, labels, smoothing);
    checkGrad('crossEntropyForwardBackward dlogits', () => crossEntropyForwardBackward(logits, labels, smoothing).loss, logits, dlogits, ALL);
  });
}

// ---- ResNet-18 -----------------------------------------------------------------------------

const cifar10: ResNet18Config = { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 };

test('resnet18ParamShapes: 11,173,962 trainable parameters at width 1 (CIFAR stem, 10 classes); 11,689,512 for torchvision (ImageNet stem, 1000)', () => {
  const count = (cfg: ResNet18Config) => resnet18ParamShapes(cfg).reduce((s, [, shape]) => s + sizeOf(shape), 0);
  assert.is(count(cifar10), 11_173_962);
  assert.is(count({ numClasses: 1000, inChannels: 3, stem: 'imagenet', width: 1 }), 11_689_512);
});

test('resnet18ParamShapes: torchvision names, order and shapes; BN buffers listed separately', () => {
  const list = resnet18ParamShapes(cifar10), shapes = new Map(list);
  assert.equal(list.slice(0, 6).map(([n]) => n), ['conv1.weight', 'bn1.weight', 'bn1.bias', 'layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias']);
  assert.equal(list.slice(-2).map(([n]) => n), ['fc.weight', 'fc.bias']);
  assert.equal(shapes.get('conv1.weight'), [64, 3, 3, 3]);
  assert.equal(shapes.get('layer2.0.downsample.0.weight'), [128, 64, 1, 1]);
  assert.equal(shapes.get('layer2.0.downsample.1.bias'), [128]);
  assert.equal(shapes.get('layer4.1.conv2.weight'), [512, 512, 3, 3]);
  assert.equal(shapes.get('fc.weight'), [10, 512]);
  assert.not.ok(shapes.has('layer1.0.downsample.0.weight'));
  assert.is(list.filter(([n]) => n.includes('downsample.0')).length, 3);
  assert.equal(new Map(resnet18ParamShapes({ ...cifar10, stem: 'imagenet', inChannels: 1 })).get('conv1.weight'), [64, 1, 7, 7]);
  const buffers = resnet18BufferShapes(cifar10);
  assert.is(buffers.length, 40); // 20 BN layers: stem, 16 in blocks, 3 in downsamples
  assert.equal(buffers.slice(0, 2), [['bn1.running_mean', [64]], ['bn1.running_var', [64]]]);
  assert.equal(resnet18Channels(1 / 8), [8, 16, 32, 64]);
  assert.equal(resnet18Channels(1 / 200), [1, 1, 1, 3]);
});

/** A width-1/16 network (4/8/16/32 channels) and a batch for it. */
function tinyNet(stem: 'cifar' | 'imagenet', size: number, seed: number) {
  const cfg: ResNet18Config = { numClasses: 5, inChannels: 3, stem, width: 1 / 16 };
  const { params, buffers } = resnet18RandomParams(cfg, seed);
  const xShape: Shape4 = [2, 3, size, size];
  return { cfg, params, buffers, xShape, x: rand(sizeOf(xShape), seed + 1000), labels: Int32Array.of(1, 3) };
}

// Spatial sizes keep ≥ 2×2 in layer4 so no BN sees only 2 values per channel (its output would
// then be ±γ + β whatever the input, and everything below it would have a zero gradient).
for (const [stem, size, smoothing] of [['cifar', 16, 0], ['cifar', 16, 0.1], ['imagenet', 64, 0]] as const) {
  test(`resnet18Reference: gradients match finite differences, ${stem} stem, width 1/16, batch 2, ${size}×${size}, label smoothing ${smoothing}`, () => {
    const { cfg, params, buffers, xShape, x, labels } = tinyNet(stem, size, 21);
    const run = () => resnet18Reference(params, buffers, cfg, x, xShape, labels, { train: true, labelSmoothing: smoothing });
    const { grads, loss, dx } = run();
    assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
    assert.equal([...grads!.keys()], resnet18ParamShapes(cfg).map(([n]) => n));
    const f = () => run().loss;
    // observed |analytic − numeric| ≈ 1e-8 relative; the tolerance leaves ~100× room
    const opts = { samples: 3, h: 1e-5, rtol: 1e-6, atol: 1e-9 };
    for (const name of ['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer1.1.bn2.bias', 'layer2.0.downsample.0.weight',
      'layer2.0.downsample.1.weight', 'layer3.1.conv1.weight', 'layer4.0.bn1.weight', 'layer4.1.conv2.weight', 'fc.weight', 'fc.bias']) {
      checkGrad(name, f, params.get(name)!, grads!.get(name)!, opts);
    }
    checkGrad('x', f, x, dx!, opts);
  });
}

test('resnet18Reference: train mode updates running stats as PyTorch (bn1 checked by hand); buffers passed in are untouched', () => {
  const { cfg, params, buffers, xShape, x, labels } = tinyNet('cifar', 8, 31);
  const before = buffers.get('bn1.running_mean')!.slice();
  const { newBuffers } = resnet18Reference(params, buffers, cfg, x, xShape, labels, { train: true });
  assert.equal([...newBuffers!.keys()], resnet18BufferShapes(cfg).map(([n]) => n));
  const h = conv2dForward(x, xShape, params.get('conv1.weight')!, [4, 3, 3, 3], { stride: 1, pad: 1 });
  const bn = batchNormTrainForward(h.y, h.shape, params.get('bn1.weight')!, params.get('bn1.bias')!);
  assertClose(newBuffers!.get('bn1.running_mean')!, before.map((r, c) => 0.9 * r + 0.1 * bn.mean[c]), { rtol: 1e-14, atol: 1e-15 });
  assertClose(newBuffers!.get('bn1.running_var')!, buffers.get('bn1.running_var')!.map((r, c) => 0.9 * r + 0.1 * bn.varUnbiased[c]), { rtol: 1e-14, atol: 0 });
  assert.equal([...buffers.get('bn1.running_mean')!], [...before]);
});

test('resnet18Reference: eval mode uses running stats (each sample on its own), train mode batch stats', () => {
  const { cfg, params, buffers, xShape, x, labels } = tinyNet('imagenet', 32, 41);
  const one: Shape4 = [1, ...xShape.slice(1)] as Shape4, x0 = x.slice(0, sizeOf(one));
  const evalBoth = resnet18Reference(params, buffers, cfg, x, xShape, labels, { train: false });
  const evalOne = resnet18Reference(params, buffers, cfg, x0, one, labels.slice(0, 1), { train: false });
  assert.is(evalBoth.grads, undefined);
  assertClose(evalOne.logits, evalBoth.logits.slice(0, 5), { rtol: 1e-12, atol: 1e-14, name: 'eval logits of sample 0' });
  const trainBoth = resnet18Reference(params, buffers, cfg, x, xShape, labels, { train: true });
  const diff = trainBoth.logits.slice(0, 5).reduce((s, v, i) => s + Math.abs(v - evalBoth.logits[i]), 0);
  assert.ok(diff > 1e-3, `train and eval logits should differ, |diff| ${diff}`);
});

test.run();
