// The training step on this adapter (the same step as `critdamp bench`: GPU batch with crop and
// flip, forward, loss, backward, SGD; synthetic data): its time unprofiled (mean of --time-steps
// after a compiling step), then `critdamp bench --plan` beside what the adapter measures: the
// step profiled per dispatch (GPU timestamps), and for each (layer, op, shader entry point) the
// plan's roofline and estimated µs next to the measured µs a step, and the share of the roofline
// the kernels reach. The plan's dispatches are the adapter's own when it gets the GPU kernels
// (checked in test/gpu/roofline.test.ts); --gpu-kernels gives them to a software adapter (a dry run).
// Usage: node build/bench/gpu_step.mjs [--gpu h100] [--width 1] [--batch 128] [--stem cifar]
//          [--size 32] [--time-steps 10] [--steps 3] [--gpu-kernels] [--tune] [--json FILE]
// --tune: after timing the chooser's kernels, let the tuner time its candidates for every shape
// (GPU timestamps; at most --tune-seconds, the shapes left keep the chooser's pick), then time the
// step again with the tuned kernels (the profile is of those).
import '../src/gpu/node';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine, defaultKernelConfig } from '../src/gpu/engine';
import { Profiler } from '../src/gpu/profile';
import { GPU_PROFILES, type GpuName } from '../src/gpu/roofline';
import { benchStep, planTrainingStep, type BenchShape } from '../src/cli/bench';
import { enableTuning } from '../src/ops/conv2d';
import { memoryTuneStore } from '../src/gpu/tune';

const { values: v } = parseArgs({ options: {
  gpu: { type: 'string', default: 'h100' }, width: { type: 'string', default: '1' }, batch: { type: 'string', default: '128' },
  stem: { type: 'string', default: 'cifar' }, size: { type: 'string', default: '32' }, steps: { type: 'string', default: '3' },
  'time-steps': { type: 'string', default: '10' },
  'gpu-kernels': { type: 'boolean' }, tune: { type: 'boolean' }, 'tune-seconds': { type: 'string', default: '90' }, json: { type: 'string' },
} });
const gpu = GPU_PROFILES[v.gpu as GpuName];
if (!gpu) throw new Error(`--gpu: '${v.gpu}' is not one of ${Object.keys(GPU_PROFILES).join(', ')}`);
const [a, b] = v.width!.split('/').map(Number);
const shape: BenchShape = { width: a / (b || 1), stem: v.stem as BenchShape['stem'], batch: Number(v.batch), size: Number(v.size), channels: 3 };
const steps = Number(v.steps), timeSteps = Number(v['time-steps']);

const e = await Engine.create();
if (v['gpu-kernels']) e.kernels = defaultKernelConfig({ software: false, hostCores: e.info.hostCores });
const bench = benchStep(e, shape, 1 + timeSteps + steps);
try {
  let t = performance.now();
  bench.step(0); // compiles the pipelines
  await e.sync();
  const firstS = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 1; i <= timeSteps; i++) bench.step(i);
  await e.sync();
  const stepMs = (performance.now() - t) / timeSteps;
  console.log(`critdamp step on ${e.adapterName}: ResNet-18 width ${v.width}, ${shape.stem} stem, batch ${shape.batch}, 3×${shape.size}²: ` +
    `${stepMs.toFixed(2)} ms (mean of ${timeSteps}; ${((shape.batch * 1000) / stepMs).toFixed(0)} images/s; first step with compiles ${firstS.toFixed(1)} s)`);
  let tunedMs: number | null = null;
  if (v.tune) {
    const tuner = await enableTuning(e, { store: memoryTuneStore(), maxSeconds: Number(v['tune-seconds']) });
    bench.step(0); // queues every shape
    await e.sync();
    t = performance.now();
    const reports = await tuner.tunePending();
    const changed = reports.filter((r) => r.changed).length;
    console.log(`tuned ${reports.length} kernel shapes in ${((performance.now() - t) / 1000).toFixed(1)} s: ${changed} faster than the chooser's pick` +
      `${tuner.waiting ? `; ${tuner.waiting} left untuned (--tune-seconds)` : ''}`);
    bench.step(0); // compiles the tuned pipelines
    await e.sync();
    t = performance.now();
    for (let i = 1; i <= timeSteps; i++) bench.step(i);
    await e.sync();
    tunedMs = (performance.now() - t) / timeSteps;
    console.log(`critdamp step, tuned: ${tunedMs.toFixed(2)} ms (mean of ${timeSteps}; ${((shape.batch * 1000) / tunedMs).toFixed(0)} images/s)`);
  }
  console.log(`STEP_JSON ${JSON.stringify({ framework: 'critdamp', adapter: e.adapterName, ...shape, stepMs, tunedMs, steps: timeSteps, firstS })}`);
  const profiler = Profiler.start(e, {});
  for (let i = 1 + timeSteps; i <= timeSteps + steps; i++) bench.step(i);
  const profile = await profiler.stop();
  const plan = await planTrainingStep(gpu, shape);
  const key = (label: string, kernel: string) => `${label}\u0000${kernel}`;
  const planned = new Map<string, { label: string; kernel: string; dispatches: number; flops: number; rooflineUs: number; estimateUs: number }>();
  for (const d of plan.dispatches) {
    const k = key(d.label, d.kernel);
    const r = planned.get(k) ?? { label: d.label, kernel: d.kernel, dispatches: 0, flops: 0, rooflineUs: 0, estimateUs: 0 };
    r.dispatches++;
    r.flops += d.flops;
    r.rooflineUs += d.rooflineUs;
    r.estimateUs += d.estimateUs;
    planned.set(k, r);
  }
  const measured = new Map(profile.entries.map((x) => [key(x.label, x.kernel), x]));
  const unplanned = profile.entries.filter((x) => !planned.has(key(x.label, x.kernel)));
  const rows = [...planned.values()].map((p) => ({ ...p, measuredUs: ((measured.get(key(p.label, p.kernel))?.ms ?? NaN) * 1000) / steps }))
    .sort((x, y) => y.measuredUs - x.measuredUs);
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const measuredUs = sum((r) => r.measuredUs);
  const f = (us: number) => (Number.isFinite(us) ? us.toFixed(us >= 100 ? 0 : 1) : '–');
  console.log(`plan on ${gpu.name} beside ${e.adapterName} (${profile.method}); ResNet-18 width ${v.width}, ${shape.stem} stem, batch ${shape.batch}, ${shape.size}², ${steps} steps profiled`);
  console.log(`${'label'.padEnd(40)} ${'kernel'.padEnd(36)} ${'disp.'.padStart(5)} ${'roofline µs'.padStart(11)} ${'estimate µs'.padStart(11)} ${'measured µs'.padStart(11)} ${'of roofline'.padStart(11)}`);
  for (const r of rows.slice(0, 40)) {
    console.log(`${(r.label || '(outside the model)').padEnd(40)} ${r.kernel.padEnd(36)} ${String(r.dispatches).padStart(5)} ${f(r.rooflineUs).padStart(11)} ${f(r.estimateUs).padStart(11)} ` +
      `${f(r.measuredUs).padStart(11)} ${`${((100 * r.rooflineUs) / r.measuredUs).toFixed(0)}%`.padStart(11)}`);
  }
  console.log(`... ${Math.max(0, rows.length - 40)} more rows (--json has them all)`);
  console.log(`step: roofline sum ${(plan.totals.rooflineUs / 1000).toFixed(2)} ms, plan estimate ${(plan.totals.estimateUs / 1000).toFixed(2)} ms, ` +
    `measured kernel time ${(measuredUs / 1000).toFixed(2)} ms (${((100 * plan.totals.rooflineUs) / measuredUs).toFixed(0)}% of the roofline)`);
  if (unplanned.length) console.log(`WARNING: ${unplanned.length} measured (label, kernel) pairs are not in the plan: the adapter ran other kernels than the plan's`);
  if (v.json) writeFileSync(v.json, JSON.stringify({ adapter: e.adapterName, gpu, shape, stepMs, tunedMs, steps, method: profile.method, totals: plan.totals, measuredUs, rows }, null, 1));
} finally {
  bench.destroy();
  e.destroy();
}
