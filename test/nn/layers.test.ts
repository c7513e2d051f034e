// Every op of a ResNet-18 training step is tagged with the torchvision module that computes it,
// and every dispatch of the step carries that tag (`layer:op`, `layer:op.backward`), so the
// profiler can say where the time goes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Graph } from '../../src/autograd/graph';
import { ResNet18 } from '../../src/nn/resnet';
import { Optimizer } from '../../src/optim/optimizer';
import { GpuBatcher } from '../../src/data/batcher';
import { crossEntropy } from '../../src/ops';
import type { Dataset } from '../../src/data/dataset';

// The (op, layer) records of one training step with the cifar stem, written out by hand from
// torchvision's resnet18 (torchvision/models/resnet.py). BasicBlock.forward runs conv1, bn1, relu,
// conv2, bn2, then downsample (first block of layer2..4), `out += identity` (the block's own
// code), and the same `relu` module again. critdamp fuses each ReLU into the op before it: the
// stem's and bn1's into batch_norm (tagged with the BN module), the block's last one into the
// residual add (tagged `layerX.Y.relu`, the module that ends the block). The loss is outside the model.
const CIFAR = `
conv2d conv1
batch_norm bn1
conv2d layer1.0.conv1
batch_norm layer1.0.bn1
conv2d layer1.0.conv2
batch_norm layer1.0.bn2
add layer1.0.relu
conv2d layer1.1.conv1
batch_norm layer1.1.bn1
conv2d layer1.1.conv2
batch_norm layer1.1.bn2
add layer1.1.relu
conv2d layer2.0.conv1
batch_norm layer2.0.bn1
conv2d layer2.0.conv2
batch_norm layer2.0.bn2
conv2d layer2.0.downsample.0
batch_norm layer2.0.downsample.1
add layer2.0.relu
conv2d layer2.1.conv1
batch_norm layer2.1.bn1
conv2d layer2.1.conv2
batch_norm layer2.1.bn2
add layer2.1.relu
conv2d layer3.0.conv1
batch_norm layer3.0.bn1
conv2d layer3.0.conv2
batch_norm layer3.0.bn2
conv2d layer3.0.downsample.0
batch_norm layer3.0.downsample.1
add layer3.0.relu
conv2d layer3.1.conv1
batch_norm layer3.1.bn1
conv2d layer3.1.conv2
batch_norm layer3.1.bn2
add layer3.1.relu
conv2d layer4.0.conv1
batch_norm layer4.0.bn1
conv2d layer4.0.conv2
batch_norm layer4.0.bn2
conv2d layer4.0.downsample.0
batch_norm layer4.0.downsample.1
add layer4.0.relu
conv2d layer4.1.conv1
batch_norm layer4.1.bn1
conv2d layer4.1.conv2
batch_norm layer4.1.bn2
add layer4.1.relu
avg_pool avgpool
linear fc
cross_entropy
`.trim().split('\n').map((line) => [line.split(' ')[0], line.split(' ')[1] ?? ''] as [string, string]);

/** The imagenet stem adds torchvision's `maxpool` after the stem's (fused) relu; nothing else changes. */
const IMAGENET: [string, string][] = [...CIFAR.slice(0, 2), ['max_pool', 'maxpool'], ...CIFAR.slice(2)];

const labelOf = ([op, layer]: [string, string]) => `${layer}:${op}`;

function synthetic(n: number, size: number): Dataset {
  return { name: 'synthetic', images: new Uint8Array(n * 3 * size * size).map((_, i) => (i * 37) % 256),
    labels: new Uint8Array(n).map((_, i) => i % 10), n, c: 3, h: size, w: size, classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

for (const [stem, expected, size] of [['cifar', CIFAR, 8], ['imagenet', IMAGENET, 16]] as const) {
  test(`layers: a ResNet-18 (${stem} stem) training step records torchvision's module paths, and every dispatch carries one`, async () => {
    const e = await requireEngine();
    const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem, width: 1 / 16 }, 1);
    const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
    const batcher = new GpuBatcher(e, synthetic(4, size), { batchSize: 2, shuffle: true, augment: { crop: 2, flip: true },
      mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], seed: 0, dropLast: true });
    const labels: string[] = [];
    e.observer = { passFor: () => null, dispatched: (label) => labels.push(label) };
    const g = new Graph(e);
    try {
      batcher.startEpoch(0);
      const { x, labels: y } = batcher.batch(0, g);
      model.store.zeroGrad();
      g.backward(crossEntropy(g, model.forward(g, x, { training: true }), y));
      opt.step({ lr: 0.1, momentum: 0.9 });
    } finally {
      e.observer = null;
    }
    assert.equal(g.records.map((r) => [r.op, r.layer]), expected);

    // The step's dispatches, runs of one label merged: the batch, each op's forward in record
    // order, the loss seed, each op's backward rule in reverse order, the optimizer.
    assert.ok(labels.length > 0 && labels.every((l) => l.length > 0 && l.includes(':')), `unlabelled dispatches: ${labels.filter((l) => !l.includes(':')).length}`);
    const runs = labels.filter((l, i) => l !== labels[i - 1]);
    assert.equal(runs, [
      'data:batch',
      ...expected.map(labelOf),
      'backward:seed',
      ...[...expected].reverse().map((r) => `${labelOf(r)}.backward`),
      'optimizer:sgd',
    ]);
    g.dispose();
    batcher.destroy();
    opt.destroy();
    model.destroy();
    await e.sync();
  });
}

test('layers: outside a step the engine is unlabelled again, and a graph scope nests module paths', async () => {
  const e = await requireEngine();
  assert.is(e.label, '');
  const g = new Graph(e);
  assert.is(g.scope('layer1', () => g.scope('0', () => g.scope('conv1', () => g.layer))), 'layer1.0.conv1');
  assert.is(g.layer, '');
  g.dispose();
});

test.run();
