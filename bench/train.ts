// Training throughput on the local adapter: images/s of the full training step (GPU batch with
// crop+flip augmentation, forward, loss, backward, optimizer) at widths 1, 1/4 and 1/8, the share
// of step time the host spends recording commands (an upper bound on how long the GPU can wait on
// the CPU), and the number of dispatches of one optimizer step over all ResNet-18 parameters.
// Writes its section of bench/RESULTS.md. Run: node tools/build.mjs --quiet && node build/bench/train.mjs [--quick]
import '../src/gpu/node';
import { writeResults } from './results';
import { Engine } from '../src/gpu/engine';
import { Graph } from '../src/autograd/graph';
import { ResNet18 } from '../src/nn/resnet';
import { Optimizer } from '../src/optim/optimizer';
import { GpuBatcher } from '../src/data/batcher';
import { crossEntropy } from '../src/ops';
import { Rng } from '../src/util/rng';
import type { Dataset } from '../src/data/dataset';

const quick = process.argv.includes('--quick');

function synthetic(n: number, c: number, h: number): Dataset {
  const rng = new Rng(1);
  const images = new Uint8Array(n * c * h * h).map(() => rng.int(256));
  const labels = new Uint8Array(n).map(() => rng.int(10));
  return { name: 'synthetic', images, labels, n, c, h, w: h, classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

interface Row { label: string; batch: number; imagesPerS: number; msPerStep: number; hostShare: number; dispatches: number }

async function measure(e: Engine, label: string, width: number, c: number, h: number, batch: number, steps: number): Promise<Row> {
  const data = synthetic(batch * (steps + 2), c, h);
  const model = new ResNet18(e, { numClasses: 10, inChannels: c, stem: 'cifar', width }, 0);
  const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
  const batcher = new GpuBatcher(e, data, { batchSize: batch, shuffle: true, augment: { crop: 4, flip: true }, mean: [0.5, 0.5, 0.5].slice(0, c), std: [0.25, 0.25, 0.25].slice(0, c), seed: 0, dropLast: true });
  batcher.startEpoch(0);
  let recordMs = 0, d0 = 0;
  const step = (i: number) => {
    const t = performance.now();
    const g = new Graph(e);
    const { x, labels } = batcher.batch(i, g);
    model.store.zeroGrad();
    g.backward(crossEntropy(g, model.forward(g, x, { training: true }), labels));
    opt.step({ lr: 0.05, momentum: 0.55 });
    g.dispose();
    e.flush();
    return performance.now() - t;
  };
  step(0); // compiles the pipelines
  await e.sync();
  const t0 = performance.now();
  d0 = e.dispatches;
  for (let i = 1; i <= steps; i++) recordMs += step(i);
  await e.sync();
  const wall = performance.now() - t0;
  const row = { label, batch, imagesPerS: (steps * batch) / (wall / 1000), msPerStep: wall / steps, hostShare: recordMs / wall, dispatches: (e.dispatches - d0) / steps };
  batcher.destroy();
  opt.destroy();
  model.store.destroy();
  console.log(`${label}: ${row.imagesPerS.toFixed(1)} images/s, ${row.msPerStep.toFixed(0)} ms/step, host ${(100 * row.hostShare).toFixed(1)}%`);
  return row;
}

const e = await Engine.create();
const date = new Date().toISOString().slice(0, 10);
const heading = `## bench/train · ${e.adapterName} · ${date}`;
const steps = quick ? 2 : 4;
const rows: Row[] = [];
rows.push(await measure(e, 'width 1, 3×32×32', 1, 3, 32, 8, quick ? 1 : 2));
rows.push(await measure(e, 'width 1/4, 3×32×32', 1 / 4, 3, 32, 32, steps));
rows.push(await measure(e, 'width 1/8, 3×32×32', 1 / 8, 3, 32, 64, steps));
rows.push(await measure(e, 'width 1/8, 1×28×28 (Fashion-MNIST main job)', 1 / 8, 1, 28, 64, steps));

// One SGD step over all of ResNet-18's parameters: dispatches do not depend on the tensor count.
const model = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 }, 0);
const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4, nesterov: true });
const before = e.dispatches;
opt.step({ lr: 0.1, momentum: 0.9 });
const sgdDispatches = e.dispatches - before;
await e.sync();
const tensors = model.store.params.size, params = model.store.count;
opt.destroy();
model.store.destroy();

const lines = [
  `Full training step (batch on the GPU with crop 4 + flip, forward, cross-entropy, backward, SGD), mean over ${steps} steps after one warm-up step; synthetic uint8 data, cifar stem.`,
  '"host share" is the time JavaScript spends recording and submitting a step\'s commands, as a fraction of the step\'s wall time: an upper bound on the time the GPU can wait on the CPU. On SwiftShader the "GPU" is the same two CPU cores, so the two do not overlap.',
  '',
  '| model | batch | images/s | ms/step | host share | dispatches/step |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.label} | ${r.batch} | ${r.imagesPerS.toFixed(1)} | ${r.msPerStep.toFixed(0)} | ${(100 * r.hostShare).toFixed(1)}% | ${r.dispatches.toFixed(0)} |`),
  '',
  `One SGD step (Nesterov, weight decay) over all ${params.toLocaleString('en-US')} parameters of ResNet-18 in ${tensors} tensors: **${sgdDispatches} dispatch** (flat parameter storage; the same for any number of tensors).`,
  '',
];
writeResults(heading, lines);
console.log([heading, '', ...lines].join('\n'));
e.destroy();
process.exit(0);
