// Where a ResNet-18 training step's time goes on the local adapter: every dispatch timed by the
// Profiler (src/gpu/profile.ts: GPU timestamp queries where offered, else CPU-side timing), per
// top-level module, per op and per layer, forward and backward. The same step as `critdamp bench`
// (GPU batch with crop+flip, forward, cross-entropy, backward, SGD), width 1/8, batch 32, 3×32×32.
// Writes its section of bench/RESULTS.md. Run: node tools/build.mjs --quiet && node build/bench/profile.mjs [--quick] [--main] [--no-tune]
import '../src/gpu/node';
import { cpus } from 'node:os';
import { writeResults } from './results';
import { Engine } from '../src/gpu/engine';
import { Graph } from '../src/autograd/graph';
import { ResNet18 } from '../src/nn/resnet';
import { Optimizer } from '../src/optim/optimizer';
import { GpuBatcher } from '../src/data/batcher';
import { crossEntropy } from '../src/ops';
import { Profiler, type Profile, type ProfileBy } from '../src/gpu/profile';
import { Rng } from '../src/util/rng';
import { enableTuning } from '../src/ops/conv2d';
import { fileTuneStore } from '../src/io/tune.node';
import type { Dataset } from '../src/data/dataset';

const quick = process.argv.includes('--quick');
// --main profiles the README main job's shape instead (imagenet stem, batch 64, 1×28×28).
const main = process.argv.includes('--main');
const WIDTH = 1 / 8, BATCH = main ? 64 : 32, SIZE = main ? 28 : 32, CHANNELS = main ? 1 : 3, STEM = main ? 'imagenet' : 'cifar', STEPS = quick ? 1 : 3;

function synthetic(n: number): Dataset {
  const rng = new Rng(1);
  return { name: 'synthetic', images: new Uint8Array(n * CHANNELS * SIZE * SIZE).map(() => rng.int(256)), labels: new Uint8Array(n).map(() => rng.int(10)),
    n, c: CHANNELS, h: SIZE, w: SIZE, classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

/** rows(by) as a markdown table, times in ms summed over the profiled steps. */
function markdown(p: Profile, by: ProfileBy, limit = Infinity): string[] {
  return [
    `| ${by} | forward ms | backward ms | other ms | total ms | share | dispatches |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...p.rows(by).slice(0, limit).map((r) =>
      `| ${r.name} | ${r.forwardMs.toFixed(1)} | ${r.backwardMs.toFixed(1)} | ${r.otherMs.toFixed(1)} | ${r.ms.toFixed(1)} | ${(100 * r.share).toFixed(1)}% | ${r.dispatches} |`),
  ];
}

const e = await Engine.create();
// As `critdamp bench` and `train` run by default: the kernel autotuner on (--no-tune: the cost model's choices).
const tune = !process.argv.includes('--no-tune') && e.kernels.conv.variant === 'direct';
if (tune) await enableTuning(e, { store: fileTuneStore() });
const model = new ResNet18(e, { numClasses: 10, inChannels: CHANNELS, stem: STEM, width: WIDTH }, 0);
const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
const batcher = new GpuBatcher(e, synthetic(BATCH * (2 * STEPS + 1)), { batchSize: BATCH, shuffle: true, augment: { crop: 4, flip: true },
  mean: Array(CHANNELS).fill(0.5), std: Array(CHANNELS).fill(0.25), seed: 0, dropLast: true });
batcher.startEpoch(0);
const step = (i: number) => {
  const g = new Graph(e);
  const { x, labels } = batcher.batch(i, g);
  model.store.zeroGrad();
  const logits = model.forward(g, x, { training: true });
  g.backward(g.scope('loss', () => crossEntropy(g, logits, labels)));
  opt.step({ lr: 0.05, momentum: 0.6 });
  g.dispose();
};
step(0); // compiles the pipelines
await e.sync();
if (e.tuner?.waiting) {
  await e.tuner.tunePending();
  step(0); // compiles the tuned kernels
  await e.sync();
}

// Step time without the profiler (one pass per dispatch and its timestamp writes cost a little).
let t = performance.now();
for (let i = 1; i <= STEPS; i++) step(i);
await e.sync();
const plainMs = (performance.now() - t) / STEPS;

const profiler = Profiler.start(e);
t = performance.now();
for (let i = STEPS + 1; i <= 2 * STEPS; i++) step(i);
const profile = await profiler.stop();
const profiledMs = (performance.now() - t) / STEPS;

const how = profile.method === 'timestamps'
  ? "GPU timestamp queries, one compute pass per dispatch (Dawn quantizes timestamps; on SwiftShader to 65.536 µs, so a single small dispatch may read 0 while sums stay unbiased)"
  : 'CPU-side timing, one submission per dispatch (see src/gpu/profile.ts for its limits)';
const cpu = cpus();
const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${e.info.software ? 'no GPU (software adapter)' : 'GPU'}`;
const lines = [
  `ResNet-18 width 1/8, ${STEM} stem, batch ${BATCH}, ${CHANNELS}×${SIZE}×${SIZE} synthetic images; the full training step (GPU batch with crop 4 + flip, forward, cross-entropy, backward, SGD). Machine: ${machine}.`,
  `Timed with ${how}. ${STEPS} profiled step${STEPS > 1 ? 's' : ''} after one warm-up step; times are summed over them. ` +
    (tune ? 'Kernels as tuned on this adapter (the default of `critdamp train`).' : "Kernels as the cost model chose them (--no-tune)."),
  `Step: ${plainMs.toFixed(0)} ms (${((BATCH * 1000) / plainMs).toFixed(1)} images/s) unprofiled, ${profiledMs.toFixed(0)} ms while profiled; ` +
    `${profile.dispatches / STEPS} dispatches a step, ${profile.totalMs.toFixed(0)} ms of kernel time in all. "other" is the batch, the loss seed and the optimizer.`,
  '',
  '### by top-level module',
  '',
  ...markdown(profile, 'group'),
  '',
  '### by op',
  '',
  ...markdown(profile, 'op'),
  '',
  '### by shader entry point',
  '',
  ...markdown(profile, 'kernel'),
  '',
  '### the 12 slowest layers',
  '',
  ...markdown(profile, 'layer', 12),
  '',
];
const heading = `## bench/profile${main ? " (main job)" : ""} · ${e.adapterName} · ${new Date().toISOString().slice(0, 10)}`;
console.log([heading, '', ...lines].join('\n'));
batcher.destroy();
opt.destroy();
model.destroy();
e.destroy();
writeResults(heading, lines);
process.exit(0);
