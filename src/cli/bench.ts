/**
 * `critdamp bench`: how fast a training step of a model (ResNet-18 by default) runs on this machine's adapter (synthetic
 * data, the full step: GPU batch with augmentation, forward, loss, backward, SGD), and with
 * --profile where the time goes, per layer group, per op and per layer, forward and backward.
 * With --plan nothing runs: the step is recorded with the kernels a GPU would get, and each
 * dispatch is costed on a named GPU's public specifications (src/gpu/roofline.ts).
 */
import type { ModelSpec } from '../nn/model';
import { parseFlags } from './flags';
import { Engine } from '../gpu/engine';
import { Graph } from '../autograd/graph';
import { Profiler, type ProfileMethod } from '../gpu/profile';
import { configFor, createModel, describeModel, modelEntry, modelNames } from '../nn/registry';
import { Optimizer } from '../optim/optimizer';
import { GpuBatcher } from '../data/batcher';
import { crossEntropy } from '../ops';
import type { Dataset } from '../data/dataset';
import { Rng } from '../util/rng';
import { cliTuning, tunedLine } from './tune';
import { GPU_PROFILES, planTable, plannedAdapter, recordPlan, type GpuName, type GpuProfile, type Plan } from '../gpu/roofline';

export const BENCH_HELP = `critdamp bench — time a training step on this adapter (synthetic data; ResNet-18 unless --model)

Usage: critdamp bench [--profile | --plan] [options]
  --profile          time every dispatch and print time per layer group, per op and per layer
                     (GPU timestamp queries where the adapter offers them, else CPU-side timing)
  --method M         timestamps | cpu (default: timestamps where offered)
  --model NAME       ${modelNames().join(' | ')} (default resnet18)
  --plan             run nothing: list every dispatch of the step as a GPU adapter would get it
                     (workgroups, invocations, FLOPs, bytes) with its roofline time on --gpu, and
                     the step's estimated time, its closest bound and the dispatches that leave
                     cores idle
  --gpu G            the plan's GPU: h100 | h200 | a100 | rtx4090 | m2 (default h100; public specs)
  --json             print the plan as JSON
  --width W          channel multiplier (default 1/8)      --stem S   cifar | imagenet
  --batch N          batch size (default 32)               --size S   image side (default 32)
  --channels C       input channels (default 3)            --steps K  steps timed (default 3)
  --no-tune          time the cost model's kernel choices, not the tuned ones (on first use the tuner
                     times the variants after the first step; its choices are cached per adapter)
  --verbose          show Dawn's and the Vulkan loader's own warnings (hidden otherwise)`;

function fraction(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(s);
  const v = m ? Number(m[1]) / (m[2] ? Number(m[2]) : 1) : NaN;
  if (!(v > 0)) throw new Error(`--${what}: '${s}' is not a positive number or fraction like 1/8`);
  return v;
}

function positiveInt(s: string | undefined, fallback: number, what: string): number {
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${what}: '${s}' is not a positive integer`);
  return v;
}

function synthetic(n: number, c: number, h: number): Dataset {
  const rng = new Rng(1);
  return { name: 'synthetic', images: new Uint8Array(n * c * h * h).map(() => rng.int(256)), labels: new Uint8Array(n).map(() => rng.int(10)),
    n, c, h, w: h, classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

export const BENCH_OPTIONS = {
  profile: { type: 'boolean' }, method: { type: 'string' }, model: { type: 'string' }, plan: { type: 'boolean' }, gpu: { type: 'string' }, json: { type: 'boolean' },
  width: { type: 'string' }, stem: { type: 'string' },
  batch: { type: 'string' }, size: { type: 'string' }, channels: { type: 'string' }, steps: { type: 'string' }, 'no-tune': { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(argv, BENCH_OPTIONS);
  if (v.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  const width = fraction(v.width ?? '1/8', 'width');
  const batch = positiveInt(v.batch, 32, 'batch'), size = positiveInt(v.size, 32, 'size');
  const channels = positiveInt(v.channels, 3, 'channels'), steps = positiveInt(v.steps, 3, 'steps');
  const stem = v.stem ?? 'cifar';
  if (stem !== 'cifar' && stem !== 'imagenet') throw new Error(`--stem: '${stem}' is not cifar or imagenet`);
  const method = v.method as ProfileMethod | undefined;
  if (method !== undefined && method !== 'timestamps' && method !== 'cpu') throw new Error(`--method: '${method}' is not timestamps or cpu`);
  const gpuName = v.gpu ?? 'h100';
  if (!(gpuName in GPU_PROFILES)) throw new Error(`--gpu: '${gpuName}' is not one of ${Object.keys(GPU_PROFILES).join(', ')}`);
  if (!v.plan && (v.gpu !== undefined || v.json)) throw new Error('--gpu and --json go with --plan');
  if (v.plan && v.profile) throw new Error('--plan runs nothing, so it cannot --profile');
  const name = v.model ?? 'resnet18';
  if (!modelNames().includes(name)) throw new Error(`--model: unknown model '${name}' (${modelNames().join(', ')})`);
  const takes = modelEntry(name).options;
  const options = Object.fromEntries(Object.entries({ width, stem }).filter(([k]) => k in takes));
  const config = configFor(name, { numClasses: 10, inChannels: channels, inputSize: [size, size] }, options);
  const shape: BenchShape = { width, stem, batch, size, channels, model: config };
  const what = `${describeModel(config)}, batch ${batch}, ${channels}×${size}×${size}`;
  if (v.plan) {
    const gpu = GPU_PROFILES[gpuName as GpuName];
    const plan = await planTrainingStep(gpu, shape);
    if (v.json) console.log(JSON.stringify({ model: { name, width: v.width ?? '1/8', stem, batch, size, channels }, ...plan }, null, 1));
    else console.log(`critdamp bench --plan: ${what} on ${gpu.name} (nothing runs; public specs, src/gpu/roofline.ts)\n\n${planTable(plan)}`);
    return 0;
  }

  const e = await Engine.create();
  let bench: ReturnType<typeof benchStep>;
  try {
    bench = benchStep(e, shape, 2 * steps + 1);
  } catch (err) {
    e.destroy();
    throw err;
  }
  const step = bench.step;
  try {
    console.log(`critdamp bench: ${e.adapterName}; ${what}`);
    await cliTuning(e, v['no-tune'], 'critdamp bench');
    let t = performance.now();
    step(0); // compiles the pipelines
    await e.sync();
    console.log(`first step (compiles the pipelines): ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (e.tuner?.waiting) {
      t = performance.now();
      const reports = await e.tuner.tunePending();
      console.log(tunedLine(reports, (performance.now() - t) / 1000));
      step(0); // compiles the tuned pipelines
      await e.sync();
    }
    // images/s without the profiler, then (with --profile) the same number of steps profiled.
    t = performance.now();
    for (let i = 1; i <= steps; i++) step(i);
    await e.sync();
    const ms = (performance.now() - t) / steps;
    console.log(`step: ${ms.toFixed(0)} ms, ${((batch * 1000) / ms).toFixed(1)} images/s (mean of ${steps})`);
    let profile = null;
    if (v.profile) {
      const profiler = Profiler.start(e, { method });
      for (let i = steps + 1; i <= 2 * steps; i++) step(i);
      profile = await profiler.stop();
    }
    if (profile) {
      const how = profile.method === 'timestamps' ? 'GPU timestamp queries, one compute pass per dispatch' : 'CPU-side timing of one submission per dispatch';
      console.log(`\nprofile of ${steps} steps, ${profile.dispatches} dispatches, ${profile.totalMs.toFixed(0)} ms of kernel time (${how})`);
      if (profile.method === 'cpu') console.log(`${profile.unattributedMs.toFixed(0)} ms passed while the steps were being recorded, when completions cannot be seen: that work is in no row`);
      console.log('');
      console.log(profile.table('group'), '\n');
      console.log(profile.table('op'), '\n');
      console.log(profile.table('kernel', 20), '\n');
      console.log(profile.table('layer', 20));
    }
    return 0;
  } finally {
    bench.destroy();
    e.destroy();
  }
}

export interface BenchShape {
  width: number;
  stem: 'cifar' | 'imagenet';
  batch: number;
  size: number;
  channels: number;
  /** The model (default: ResNet-18 with this width and stem). */
  model?: ModelSpec;
}

/** A model, optimizer and synthetic batches for `batches` steps, and the step: batch, forward, loss, backward, SGD. */
export function benchStep(e: Engine, s: BenchShape, batches: number): { step(i: number): void; destroy(): void } {
  const model = createModel(e, s.model ?? { numClasses: 10, inChannels: s.channels, stem: s.stem, width: s.width }, 0);
  const opt = new Optimizer(model.store, { kind: 'sgd', weightDecay: 5e-4 });
  const data = synthetic(s.batch * batches, s.channels, s.size);
  const batcher = new GpuBatcher(e, data, { batchSize: s.batch, shuffle: true, augment: { crop: 4, flip: true },
    mean: new Array(s.channels).fill(0.5), std: new Array(s.channels).fill(0.25), seed: 0, dropLast: true });
  batcher.startEpoch(0);
  return {
    step(i: number) {
      const g = new Graph(e);
      try {
        const { x, labels } = batcher.batch(i, g);
        model.store.zeroGrad();
        const logits = model.forward(g, x, { training: true });
        g.backward(g.scope('loss', () => crossEntropy(g, logits, labels)));
        opt.step({ lr: 0.05, momentum: 0.6 });
      } finally {
        g.dispose();
      }
    },
    destroy() {
      batcher.destroy();
      opt.destroy();
      model.destroy();
    },
  };
}

/**
 * The roofline plan of one training step (`critdamp bench --plan`): recorded on an engine that runs
 * nothing, with the kernels a GPU adapter gets, each dispatch costed on `gpu`.
 */
export async function planTrainingStep(gpu: GpuProfile, shape: BenchShape, on?: Engine): Promise<Plan> {
  // `on`: record on this engine instead (tests compare a real adapter's dispatches with the plan's).
  const e = on ?? Engine.forPlanning(plannedAdapter(gpu));
  const bench = benchStep(e, shape, 1);
  try {
    return await recordPlan(e, gpu, () => bench.step(0));
  } finally {
    bench.destroy();
    if (!on) e.destroy();
  }
}
