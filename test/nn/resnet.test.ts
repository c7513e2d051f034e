// The whole ResNet-18 on the GPU against the float64 reference of the same network: logits,
// loss, every parameter gradient (relative error of each tensor ≤ 1e-3) and the running
// statistics after the step. Also: torchvision's names and counts, and memory back to baseline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { assertRelError, randomFloats } from '../util';
import { readStep } from './step';
import { ResNet18, resnet18Specs } from '../../src/nn/resnet';
import { crossEntropy } from '../../src/ops';
import { resnet18ParamShapes, resnet18Reference, resnet18BufferShapes } from '../reference/resnet';
import type { ResNetConfig } from '../../src/nn/resnet';
import { defaultKernelConfig, type Engine, type KernelConfig } from '../../src/gpu/engine';

async function compare(cfg: ResNetConfig, batch: number, size: number, seed: number, kernels?: KernelConfig): Promise<void> {
  const e = await requireEngine();
  const saved = e.kernels;
  if (kernels) e.kernels = kernels;
  try {
    await compareOn(e, cfg, batch, size, seed);
  } finally {
    e.kernels = saved;
  }
}

async function compareOn(e: Engine, cfg: ResNetConfig, batch: number, size: number, seed: number): Promise<void> {
  const model = new ResNet18(e, cfg, seed);
  const x = randomFloats(batch * cfg.inChannels * size * size, seed + 1);
  const labels = Uint32Array.from({ length: batch }, (_, i) => (i * 3 + 1) % cfg.numClasses);
  const before = await model.store.read();

  const { logits: gLogits, loss: gLoss, grads, after } = await readStep(e, model, x, [batch, cfg.inChannels, size, size], labels);

  const params = new Map<string, Float64Array>(), buffers = new Map<string, Float64Array>();
  for (const [name] of resnet18ParamShapes(cfg)) params.set(name, Float64Array.from(before.get(name)!.data));
  for (const [name] of resnet18BufferShapes(cfg)) buffers.set(name, Float64Array.from(before.get(name)!.data));
  const ref = resnet18Reference(params, buffers, cfg, Float64Array.from(x), [batch, cfg.inChannels, size, size], Int32Array.from(labels), { train: true });

  assertRelError(gLogits, ref.logits, 1e-4, 'logits');
  assertRelError(gLoss, [ref.loss], 1e-5, 'loss');
  let worst = 0, worstName = '';
  for (const [name, g] of ref.grads!) {
    assertRelError(grads.get(name)!, g, 1e-3, `${name}.grad`);
    let num = 0, den = 0;
    const got = grads.get(name)!;
    for (let i = 0; i < g.length; i++) { num += (got[i] - g[i]) ** 2; den += g[i] ** 2; }
    if (Math.sqrt(num / den) > worst) { worst = Math.sqrt(num / den); worstName = name; }
  }
  for (const [name, b] of ref.newBuffers!) assertRelError(after.get(name)!.data, b, 1e-4, name);
  console.log(`    worst gradient relative error ${worst.toExponential(2)} (${worstName}), ${ref.grads!.size} tensors`);
  model.store.destroy();
}

test('resnet18: width 1, cifar stem, batch 2, 32×32: logits, loss and every gradient match float64', async () => {
  await compare({ numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 }, 2, 32, 5);
});

test('resnet18: width 1/8, imagenet stem, batch 2, 64×64: logits, loss and every gradient match float64', async () => {
  await compare({ numClasses: 10, inChannels: 3, stem: 'imagenet', width: 1 / 8 }, 2, 64, 6);
});

// The kernels a GPU adapter gets (tiled conv, workgroup batch norm), run here on whatever adapter
// the tests have: a whole step in that configuration, both stems, an odd batch.
const gpuKernels = (e: Engine) => defaultKernelConfig({ software: false, hostCores: e.info.hostCores });

test('resnet18 (GPU kernel configuration): width 1/8, cifar stem, batch 3, 16×16: logits, loss and every gradient match float64', async () => {
  const e = await requireEngine();
  await compare({ numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 8 }, 3, 16, 7, gpuKernels(e));
});

// 48×48: layer4 on 2×2 maps. On 1×1 maps a batch of 3 gives batch norm 3 values a channel, whose
// gradients amplify float32 rounding past 1e-3 in either configuration; the op tests cover 1×1 maps.
test('resnet18 (GPU kernel configuration): width 1/8, imagenet stem, batch 3, 1×48×48: logits, loss and every gradient match float64', async () => {
  const e = await requireEngine();
  await compare({ numClasses: 10, inChannels: 1, stem: 'imagenet', width: 1 / 8 }, 3, 48, 8, gpuKernels(e));
});

test('resnet18: torchvision names, shapes and 11,173,962 trainable parameters', () => {
  const cfg: ResNetConfig = { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 };
  const { params, buffers } = resnet18Specs(cfg);
  assert.equal(params.map((p) => [p.name, p.shape]), resnet18ParamShapes(cfg));
  assert.equal(buffers.map((b) => [b.name, b.shape]), resnet18BufferShapes(cfg));
  assert.is(params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0), 11_173_962);
  const imagenet = resnet18Specs({ numClasses: 1000, inChannels: 3, stem: 'imagenet', width: 1 });
  assert.is(imagenet.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0), 11_689_512);
  assert.equal(params.find((p) => p.name === 'layer2.0.downsample.0.weight')!.shape, [128, 64, 1, 1]);
  assert.throws(() => resnet18Specs({ ...cfg, stem: 'tiny' as 'cifar' }), /stem must be 'cifar' or 'imagenet', got tiny/);
});

test('resnet18: same seed, same weights; init statistics follow PyTorch (Kaiming fan_out, BN 1/0)', async () => {
  const e = await requireEngine();
  const cfg = { numClasses: 10, inChannels: 1, stem: 'cifar' as const, width: 1 / 4 };
  const a = new ResNet18(e, cfg, 42), b = new ResNet18(e, cfg, 42), c = new ResNet18(e, cfg, 43);
  const [wa, wb, wc] = await Promise.all([a.store.read(), b.store.read(), c.store.read()]);
  assert.equal(Array.from(wa.get('layer3.0.conv1.weight')!.data), Array.from(wb.get('layer3.0.conv1.weight')!.data));
  assert.not.equal(Array.from(wa.get('conv1.weight')!.data), Array.from(wc.get('conv1.weight')!.data));
  const w = wa.get('layer3.0.conv1.weight')!.data; // [64, 32, 3, 3]: std √(2/(64·9))
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(2 / 576) - 1) < 0.03, `conv std ${std}`);
  const fc = wa.get('fc.weight')!.data; // U(±1/√128)
  assert.ok(Math.max(...fc.map(Math.abs)) <= 1 / Math.sqrt(128) && Math.max(...fc.map(Math.abs)) > 0.8 / Math.sqrt(128));
  assert.ok(wa.get('bn1.weight')!.data.every((v) => v === 1) && wa.get('bn1.bias')!.data.every((v) => v === 0));
  assert.ok(wa.get('bn1.running_var')!.data.every((v) => v === 1));
  [a, b, c].forEach((m) => m.store.destroy());
});

test('resnet18: after a full step, bytes in use return to the baseline and nothing new is allocated', async () => {
  const e = await requireEngine();
  const model = new ResNet18(e, { numClasses: 10, inChannels: 1, stem: 'imagenet', width: 1 / 16 }, 1);
  const x = e.tensor(randomFloats(2 * 1 * 16 * 16, 1), [2, 1, 16, 16]);
  const l = e.tensor(new Uint32Array([1, 2]), [2]);
  const step = async () => {
    model.store.zeroGrad();
    const g = new Graph(e);
    g.backward(crossEntropy(g, model.forward(g, x, { training: true }), l));
    await e.sync();
    g.dispose();
  };
  const baseline = e.pool.bytesInUse;
  await step();
  assert.is(e.pool.bytesInUse, baseline, 'bytes in use after step 1');
  const created = e.pool.created;
  await step();
  assert.is(e.pool.bytesInUse, baseline, 'bytes in use after step 2');
  assert.is(e.pool.created, created, 'the second step reuses every buffer');
  x.dispose();
  l.dispose();
  model.store.destroy();
});

test('resnet18: input shape errors', async () => {
  const e = await requireEngine();
  const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 16 }, 1);
  const x = e.empty([2, 1, 8, 8]);
  const g = new Graph(e);
  assert.throws(() => model.forward(g, x, { training: true }), /resnet18: input must be \[N, 3, H, W\] \(NCHW\), got \[2, 1, 8, 8\]/);
  g.dispose();
  x.dispose();
  model.store.destroy();
});

test.run();
