// The roofline plan (src/gpu/roofline.ts, `critdamp bench --plan`): an engine over a device that
// runs nothing records the same dispatches, launches and byte counts as a real adapter given the
// GPU kernels; the model's arithmetic on one dispatch; the profiles agree with their own specs;
// and issue 25's targets at width 1, batch 128, cifar stem on the H100 profile: no dispatch above
// 50 MFLOP launches fewer workgroups than the GPU has SMs, and the estimated step is within 3× of
// the sum of the dispatches' roofline times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { defaultKernelConfig } from '../../src/gpu/engine';
import { GPU_PROFILES, LAUNCH_US, THREADS_PER_CORE, planDispatch, type GpuProfile } from '../../src/gpu/roofline';
import { planTrainingStep } from '../../src/cli/bench';

test('roofline: one dispatch at peak, underfilled, and the profiles\' FP32 rates from cores × lanes × 2 × clock', () => {
  const gpu: GpuProfile = { name: 't', vendor: 'v', architecture: 'a', cores: 10, boostGHz: 1, fp32Tflops: 2, bandwidthGBs: 1000 };
  // 4 MFLOP at 2 TFLOP/s = 2 µs; 1 MB at 1000 GB/s = 1 µs: compute-bound, full GPU.
  const full = planDispatch(gpu, 'l', 'k', { workgroups: 40, wg: 256, invocations: 10240, flops: 4e6, bytes: 1e6 });
  assert.equal([full.computeUs, full.memoryUs, full.rooflineUs, full.bound, full.fill, full.estimateUs], [2, 1, 2, 'compute', 1, 2 + LAUNCH_US]);
  // 5 workgroups of 64 threads: half the cores, a quarter of the threads a core wants.
  const thin = planDispatch(gpu, 'l', 'k', { workgroups: 5, wg: 64, invocations: 320, flops: 1e6, bytes: 4e6 });
  assert.is(thin.bound, 'memory');
  assert.is(thin.fill, 0.5 * (64 / THREADS_PER_CORE));
  assert.ok(Math.abs(thin.estimateUs - (LAUNCH_US + 4 / thin.fill)) < 1e-9);
  const lanes = { h100: 128, h200: 128, a100: 64, rtx4090: 128, m2: 128 };
  for (const [name, p] of Object.entries(GPU_PROFILES)) {
    const implied = (p.cores * lanes[name as keyof typeof lanes] * 2 * p.boostGHz) / 1000;
    assert.ok(Math.abs(implied / p.fp32Tflops - 1) < 0.02, `${name}: ${implied} TFLOP/s from its cores and clock, ${p.fp32Tflops} listed`);
  }
});

test('roofline: the planning engine records what a real adapter given the GPU kernels records, dispatch for dispatch', async () => {
  const e = await requireEngine();
  const shape = { width: 1 / 16, stem: 'cifar' as const, batch: 3, size: 12, channels: 3 };
  const saved = e.kernels;
  e.kernels = defaultKernelConfig({ software: false, hostCores: e.info.hostCores });
  let real;
  try {
    real = await planTrainingStep(GPU_PROFILES.h100, shape, e);
    await e.sync();
  } finally {
    e.kernels = saved;
  }
  const planned = await planTrainingStep(GPU_PROFILES.h100, shape);
  const key = (d: (typeof planned.dispatches)[number]) => `${d.label} ${d.kernel} ${d.workgroups}×${d.wg} ${d.invocations} ${d.flops}`;
  assert.equal(planned.dispatches.map(key), real.dispatches.map(key));
  // Bytes too, except the optimizer's whole-model buffers, padded to the device's offset alignment.
  const bytes = (p: typeof planned) => p.dispatches.filter((d) => !d.label.startsWith('optimizer')).map((d) => d.bytes);
  assert.equal(bytes(planned), bytes(real));
  assert.ok(planned.dispatches.some((d) => d.kernel === 'conv2d_tiled.backward_weight') && planned.dispatches.some((d) => d.kernel === 'batch_norm_chunked.chunk_stats'));
});

test('roofline: issue 25\'s targets hold at width 1, batch 128, cifar stem on the H100 profile', async () => {
  const gpu = GPU_PROFILES.h100;
  const plan = await planTrainingStep(gpu, { width: 1, stem: 'cifar', batch: 128, size: 32, channels: 3 });
  const big = plan.dispatches.filter((d) => d.flops > 50e6);
  assert.ok(big.length > 50, `${big.length} dispatches above 50 MFLOP`);
  const thin = big.filter((d) => d.workgroups < gpu.cores);
  assert.equal(thin.map((d) => `${d.label} ${d.kernel}: ${d.workgroups}`), [], 'dispatches above 50 MFLOP on fewer workgroups than SMs');
  const t = plan.totals;
  assert.ok(t.estimateUs <= 3 * t.rooflineUs, `estimate ${t.estimateUs} µs, roofline sum ${t.rooflineUs} µs`);
  // A ResNet-18 CIFAR training step: about 3 × 0.56 GMAC × 2 FLOPs an image.
  assert.ok(t.flops > 400e9 && t.flops < 460e9, `${t.flops / 1e9} GFLOP`);
  assert.ok(plan.underfilled.every((d) => d.flops <= 50e6));
});

test.run();
