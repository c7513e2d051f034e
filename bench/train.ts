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

async function measure(e: Engine, label: string, width: number, c: number, h: number, batch: number, steps: number, stem: 'cifar' | 'imagenet' = 'cifar'): Promise<Row> {
  const data = synthetic(batch * (steps + 2), c, h);
  const model = new ResNet18(e, { numClasses: 10, inChannels: c, stem, width }, 0);
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
rows.push(await measure(e, 'width 1/8, 1×28×28, cifar stem', 1 / 8, 1, 28, 64, steps));
rows.push(await measure(e, 'width 1/8, 1×28×28, imagenet stem (Fashion-MNIST main job)', 1 / 8, 1, 28, 64, steps, 'imagenet'));

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

// Memory over a long run: what the pool holds at step 10 and at step 1000 must be the same (a
// training step allocates nothing once the pool is warm). Small shape, so 1000 steps take seconds.
async function memoryOverSteps(): Promise<{ at10: number; at1000: number; created10: number; created1000: number }> {
  const m = new ResNet18(e, { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 / 16 }, 0);
  const o = new Optimizer(m.store, { kind: 'sgd', weightDecay: 5e-4 });
  const data = synthetic(64, 3, 16);
  const b = new GpuBatcher(e, data, { batchSize: 8, shuffle: true, augment: { crop: 2, flip: true }, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], seed: 0, dropLast: true });
  let at10 = 0, created10 = 0;
  for (let i = 1; i <= 1000; i++) {
    if ((i - 1) % b.batchesPerEpoch === 0) b.startEpoch(Math.floor((i - 1) / b.batchesPerEpoch));
    const g = new Graph(e);
    const { x, labels } = b.batch((i - 1) % b.batchesPerEpoch, g);
    m.store.zeroGrad();
    g.backward(crossEntropy(g, m.forward(g, x, { training: true }), labels));
    o.step({ lr: 0.01, momentum: 0.9 });
    g.dispose();
    if (i % 20 === 0) await e.sync();
    if (i === 10) { await e.sync(); at10 = e.pool.bytesAllocated; created10 = e.pool.created; }
  }
  await e.sync();
  const r = { at10, at1000: e.pool.bytesAllocated, created10, created1000: e.pool.created };
  b.destroy();
  o.destroy();
  m.store.destroy();
  return r;
}
const mem = await memoryOverSteps();
console.log(`memory: ${mem.at10} bytes held at step 10, ${mem.at1000} at step 1000`);

const lines = [
  `Full training step (batch on the GPU with crop 4 + flip, forward, cross-entropy, backward, SGD), mean over ${steps} steps after one warm-up step; synthetic uint8 data, cifar stem unless the row says otherwise.`,
  '"host share" is the time JavaScript spends recording and submitting a step\'s commands, as a fraction of the step\'s wall time: an upper bound on the time the GPU can wait on the CPU. On SwiftShader the "GPU" is the same two CPU cores, so the two do not overlap.',
  '',
  '| model | batch | images/s | ms/step | host share | dispatches/step |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.label} | ${r.batch} | ${r.imagesPerS.toFixed(1)} | ${r.msPerStep.toFixed(0)} | ${(100 * r.hostShare).toFixed(1)}% | ${r.dispatches.toFixed(0)} |`),
  '',
  `GPU memory: the high-water mark of bytes in use over this benchmark is ${(e.pool.peakInUse / 2 ** 20).toFixed(1)} MiB (the width-1 step dominates). ` +
  `Over a 1000-step run (width 1/16, batch 8, 3×16×16, crop and flip), the engine's pool (which also caches the buffers of the runs above) holds ${mem.at10.toLocaleString('en-US')} bytes in pool buffers at step 10 and ${mem.at1000.toLocaleString('en-US')} at step 1000 ` +
  `(${mem.created10} and ${mem.created1000} buffers created): ${mem.at10 === mem.at1000 && mem.created10 === mem.created1000 ? 'equal, nothing grows' : '**they differ: memory grows**'}.`,
  '',
  `One SGD step (Nesterov, weight decay) over all ${params.toLocaleString('en-US')} parameters of ResNet-18 in ${tensors} tensors: **${sgdDispatches} dispatch** (flat parameter storage; the same for any number of tensors).`,
  '',
];
writeResults(heading, lines);
console.log([heading, '', ...lines].join('\n'));
e.destroy();
process.exit(0);
