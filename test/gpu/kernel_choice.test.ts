// Kernel choices belong to the engine: variant, tile plans per shape and the host's core count
// live on each Engine, so two engines (two adapters, or a test forcing tiles) never see each
// other's choices, and no module holds mutable kernel state.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableParallelism } from 'node:os';
import { requireEngine } from '../engine';
import { Engine, defaultKernelConfig } from '../../src/gpu/engine';
import { conv2dDirectPlan, type ConvGeometry } from '../../src/ops/conv2d';

// A 1/4-width ResNet layer at batch 32: its best tiles depend on how many cores share the work.
const G: ConvGeometry = { N: 32, C: 8, H: 32, W: 32, O: 8, KH: 3, KW: 3, OH: 32, OW: 32, stride: 1, pad: 1 };

test("kernel choice: cores come from the host, plans are the engine's own, forced tiles stay on their engine", async () => {
  const e = await requireEngine();
  assert.is(e.kernels.cores, availableParallelism(), 'cores from the Node provider');
  const other = await Engine.create();
  try {
    assert.is.not(other.plans, e.plans);
    other.kernels = { ...other.kernels, cores: 1 };
    const many = await Engine.create();
    try {
      many.kernels = { ...many.kernels, cores: 32 };
      const one = conv2dDirectPlan(other, G), wide = conv2dDirectPlan(many, G);
      assert.not.equal(one, wide, 'the cost model weighs the work by the engine\'s cores');
      assert.ok(other.plans.size > 0 && many.plans.size > 0, 'each engine caches its own plans');
    } finally {
      many.destroy();
    }
    const forced = { TM: 3, TN: 2, TR: 5, TQ: 6 };
    other.kernels = { ...other.kernels, conv: { ...other.kernels.conv, forced: { output: forced } } };
    assert.equal(conv2dDirectPlan(other, G).forward, forced);
    assert.not.equal(conv2dDirectPlan(e, G).forward, forced, 'forcing tiles on one engine leaves another alone');
  } finally {
    other.destroy();
  }
});

test('kernel choice: direct conv lanes share weights exactly where the device has subgroups of 4 lanes on a software adapter', async () => {
  const e = await requireEngine();
  const info = (e.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const four = e.device.features.has('subgroups') && info?.subgroupMinSize === 4 && info?.subgroupMaxSize === 4;
  assert.is(e.kernels.conv.shareWeights, e.info.software && four,
    `subgroups ${e.device.features.has('subgroups')}, sizes ${info?.subgroupMinSize}–${info?.subgroupMaxSize}, software ${e.info.software}`);
  assert.is(defaultKernelConfig({ software: true, hostCores: 2, subgroupSize: 8 }).conv.shareWeights, false, 'a subgroup must be one SIMD group of 4');
  assert.is(defaultKernelConfig({ software: false, hostCores: 2, subgroupSize: 4 }).conv.shareWeights, false, 'GPUs run the tiled kernels');
});

test.run();
