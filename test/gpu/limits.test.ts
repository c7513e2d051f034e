// Device limits: no kernel binds more than the 8 storage buffers per stage that WebGPU guarantees
// (many browsers grant no more); on a device made with WebGPU's default limits every entry point
// of every kernel runs, in the CPU and GPU kernel configurations and the register conv, and
// matches its float64 reference; a tensor larger than the device can bind fails before anything
// is allocated, with a message naming the tensor, its size, the limit and what to change.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { randomFloats } from '../util';
import { KERNELS } from '../../shaders/kernels';
import { DeviceLimitError, Engine, defaultKernelConfig, type KernelConfig } from '../../src/gpu/engine';
import { Graph } from '../../src/autograd/graph';
import { add, checkOps, conv2d, crossEntropy, maxPool, relu } from '../../src/ops';
import { ResNet18 } from '../../src/nn/resnet';
import { Optimizer } from '../../src/optim/optimizer';
import { GpuBatcher } from '../../src/data/batcher';
import { SegmentSumsReader } from '../../src/attribution/segment_sums';
import type { Dataset } from '../../src/data/dataset';

/** WebGPU's guaranteed maxStorageBuffersPerShaderStage. */
const GUARANTEED_STORAGE_BUFFERS = 8;

test('limits: no kernel entry point binds more than the 8 storage buffers WebGPU guarantees', () => {
  for (const k of KERNELS) {
    for (const [entry, names] of Object.entries(k.entries)) {
      assert.ok(names.length <= GUARANTEED_STORAGE_BUFFERS, `${k.name}:${entry} binds ${names.length} storage buffers (${names.join(', ')})`);
    }
  }
});

/** Every entry point of every kernel, as the profiler names them (`batch_norm.backward_eval`). */
const allEntries = () => KERNELS.flatMap((k) => Object.keys(k.entries).map((entry) => `${k.name.replace(/\.wgsl$/, '')}.${entry}`));

function images(n: number, c: number, side: number): Dataset {
  return { name: 'limits', images: Uint8Array.from({ length: n * c * side * side }, (_, i) => (i * 37) % 256), labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
    n, c, h: side, w: side, classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

/** Every op against float64, then a whole training step, its evaluation backward and attribution sums. */
async function workout(e: Engine, config: string): Promise<void> {
  for (const c of await checkOps(e)) assert.ok(c.ok, `${config}: ${c.op} off its reference by ${JSON.stringify(c.worst)}`);
  const g = new Graph(e);
  // vec4 elementwise kernels (a size that is a multiple of 4), a second use of a tensor
  // (gradients accumulate), and a max pool whose windows overlap more than a cell's unrolled code.
  const a = g.own(e.tensor(randomFloats(2 * 3 * 8 * 8, 1), [2, 3, 8, 8], { requiresGrad: true }));
  const y = add(g, relu(g, a), add(g, a, maxPool(g, a, { kernel: 5, stride: 1, pad: 2 })));
  g.backward(y, g.own(e.tensor(randomFloats(y.size, 2), y.shape)));
  // And the scalar kernels (67 values): a sum without the ReLU, whose gradient passes unchanged
  // (a graph runs backward once, so a second graph).
  const g2 = new Graph(e);
  const b = g2.own(e.tensor(randomFloats(67, 3), [67], { requiresGrad: true }));
  const z = add(g2, b, b);
  g2.backward(z, g2.own(e.tensor(randomFloats(67, 4), [67])));
  // A convolution with a bias (VGG's): its gradient is reduce's per-channel sum.
  const g3 = new Graph(e);
  const cx = g3.own(e.tensor(randomFloats(2 * 3 * 6 * 6, 5), [2, 3, 6, 6]));
  const cw = g3.own(e.tensor(randomFloats(4 * 3 * 3 * 3, 6), [4, 3, 3, 3], { requiresGrad: true }));
  const cb = g3.own(e.tensor(randomFloats(4, 7), [4], { requiresGrad: true }));
  const cy = conv2d(g3, cx, cw, { stride: 1, pad: 1 }, cb);
  g3.backward(cy, g3.own(e.tensor(randomFloats(cy.size, 8), cy.shape)));
  await Promise.all([a.grad!.read(), b.grad!.read(), cb.grad!.read()]);
  g.dispose();
  g2.dispose();
  g3.dispose();
  cw.grad?.dispose();
  cb.grad?.dispose();
  a.grad?.dispose();
  b.grad?.dispose();

  const data = images(6, 3, 16);
  for (const kind of ['sgd', 'adam'] as const) {
    const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'imagenet', width: 1 / 16 }, 3);
    const opt = new Optimizer(model.store, { kind, weightDecay: 5e-4 });
    const batches = new GpuBatcher(e, data, { batchSize: 3, shuffle: true, augment: { crop: 2, flip: true }, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], seed: 0, dropLast: true });
    const sums = new SegmentSumsReader(e, model.store, 1, 'attribution');
    try {
      batches.startEpoch(0);
      for (const training of [true, false]) {
        const step = new Graph(e);
        const { x, labels } = batches.batch(0, step);
        model.store.zeroGrad();
        step.backward(crossEntropy(step, model.forward(step, x, { training }), labels));
        if (training) opt.step({ lr: 0.05, momentum: 0.9 });
        else sums.run(0);
        step.dispose();
      }
      const [row] = await sums.read();
      assert.ok(row.gg.every(Number.isFinite) && row.gg.some((v) => v > 0), `${config}, ${kind}: finite gradients through the evaluation backward`);
      await e.sync();
    } finally {
      sums.dispose();
      batches.destroy();
      opt.destroy();
      model.destroy();
    }
  }
}

test('limits: on a device with WebGPU\'s default limits, every entry point of every kernel runs and matches its reference', async () => {
  const e = await Engine.create(undefined, { limits: 'default' });
  try {
    assert.is(e.device.limits.maxStorageBuffersPerShaderStage, GUARANTEED_STORAGE_BUFFERS, 'the device keeps the default limits');
    const ran = new Set<string>();
    e.observer = { passFor: () => null, dispatched: (_label, kernel) => void ran.add(kernel) };
    const cpu = defaultKernelConfig({ software: true, hostCores: e.info.hostCores, subgroupSize: e.kernels.conv.shareWeights ? 4 : null });
    const gpu = defaultKernelConfig({ software: false, hostCores: e.info.hostCores });
    const configs: [string, KernelConfig][] = [
      ['CPU configuration', cpu], ['GPU configuration', gpu], ['register conv', { ...gpu, conv: { ...gpu.conv, variant: 'register' } }],
    ];
    for (const [name, config] of configs) {
      e.kernels = config;
      e.plans.clear();
      await workout(e, name);
    }
    const missing = allEntries().filter((k) => !ran.has(k));
    assert.equal(missing, [], `entry points that never ran: ${missing.join(', ')}`);
  } finally {
    e.destroy();
  }
});

test('limits: a tensor larger than the device can bind fails before allocating, naming the tensor, its size, the limit and what to change', async () => {
  const e = await requireEngine();
  const limit = Math.min(e.device.limits.maxStorageBufferBindingSize, e.device.limits.maxBufferSize);
  const created = e.pool.created;
  const floats = Math.floor(limit / 4) + 1;
  let err: unknown = null;
  try {
    e.labelled('layer1.0.conv1:conv2d', () => e.empty([floats]));
  } catch (x) {
    err = x;
  }
  // By name: the shared engine may come from another test file's bundle, with its own class.
  assert.is((err as Error | null)?.name, DeviceLimitError.name);
  const msg = (err as Error).message;
  assert.match(msg, `layer1.0.conv1:conv2d needs tensor [${floats}] (f32)`);
  assert.match(msg, `${(floats * 4).toLocaleString('en-US')} bytes`);
  assert.match(msg, `${limit.toLocaleString('en-US')} bytes`);
  assert.match(msg, /maxStorageBufferBindingSize|maxBufferSize/);
  assert.match(msg, /smaller batch \(--batch-size\)/);
  assert.match(msg, /--stem imagenet/);
  assert.is(e.pool.created, created, 'nothing was allocated');
  assert.not.throws(() => e.empty([16]).dispose(), 'the engine goes on');
});

test.run();
