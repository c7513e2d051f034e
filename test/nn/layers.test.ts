// Every op of a ResNet-18 training step is tagged with the torchvision module that computes it,
// and every dispatch of the step carries that tag (`layer:op`, `layer:op.backward`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { randomFloats } from '../util';
import { Graph } from '../../src/autograd/graph';
import { ResNet18 } from '../../src/nn/resnet';
import { crossEntropy } from '../../src/ops';
import type { DispatchObserver } from '../../src/gpu/engine';

/** The (op, layer) list of torchvision's resnet18 forward, written out from its module tree. */
function expected(stem: 'cifar' | 'imagenet'): [string, string][] {
  const out: [string, string][] = [['conv2d', 'conv1'], ['batch_norm', 'bn1'], ['relu', 'relu']];
  if (stem === 'imagenet') out.push(['max_pool', 'maxpool']);
  for (let s = 1; s <= 4; s++) {
    for (let b = 0; b <= 1; b++) {
      const m = `layer${s}.${b}`;
      // BasicBlock.forward: conv1, bn1, relu, conv2, bn2, downsample (first block of stages 2–4),
      // out += identity (the block itself), relu (the same module again).
      out.push(['conv2d', `${m}.conv1`], ['batch_norm', `${m}.bn1`], ['relu', `${m}.relu`], ['conv2d', `${m}.conv2`], ['batch_norm', `${m}.bn2`]);
      if (s > 1 && b === 0) out.push(['conv2d', `${m}.downsample.0`], ['batch_norm', `${m}.downsample.1`]);
      out.push(['add', m], ['relu', `${m}.relu`]);
    }
  }
  out.push(['avg_pool', 'avgpool'], ['linear', 'fc'], ['cross_entropy', 'loss']);
  return out;
}

for (const stem of ['cifar', 'imagenet'] as const) {
  test(`layers: every record of a ResNet-18 (${stem} stem) step names its torchvision module; every dispatch carries it`, async () => {
    const e = await requireEngine();
    const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem, width: 1 / 16 }, 1);
    const size = stem === 'cifar' ? 8 : 16;
    const x = e.tensor(randomFloats(2 * 3 * size * size, 2), [2, 3, size, size]);
    const y = e.tensor(new Uint32Array([3, 4]), [2]);
    const labels: string[] = [];
    const observer: DispatchObserver = { passFor: () => null, dispatched: (l) => labels.push(l) };
    e.observer = observer;
    const g = new Graph(e);
    try {
      const logits = model.forward(g, x, { training: true });
      g.backward(g.scope('loss', () => crossEntropy(g, logits, y)));
    } finally {
      e.observer = null;
    }
    assert.equal(g.records.map((r) => [r.op, r.layer]), expected(stem));
    // Forward dispatches are labelled layer:op in record order, backward ones layer:op.backward.
    const forward = labels.filter((l) => !l.endsWith('.backward') && l !== 'backward:seed');
    const backward = labels.filter((l) => l.endsWith('.backward'));
    assert.ok(labels.every((l) => /^[\w.]+:[\w:.]+$/.test(l)), `unlabelled dispatch among ${labels.filter((l) => !/^[\w.]+:[\w:.]+$/.test(l)).join(', ')}`);
    assert.equal([...new Set(forward)], expected(stem).map(([op, layer]) => `${layer}:${op}`).filter((v, i, a) => a.indexOf(v) === i));
    assert.ok(labels.includes('backward:seed'));
    assert.ok(backward.includes('conv1:conv2d.backward') && backward.includes('fc:linear.backward'));
    g.dispose();
    x.dispose();
    y.dispose();
    model.destroy();
  });
}

test.run();
