// Would subgroup operations pay on this adapter? The direct conv kernels' 4 lanes of a SIMD group
// load the same weights (each load a per-lane gather on SwiftShader); with subgroups, each lane
// could load one of 4 and share it by subgroupBroadcast. This times the inner loop of such a
// kernel three ways at the same arithmetic (16 weights × a vec4 of inputs a step): every weight
// loaded, 4 loaded and broadcast, and no weight loads at all (the floor), and prints what one
// load and one broadcast cost. Usage: node build/bench/subgroups.mjs
import '../src/gpu/node';
import { adapterName, requestDevice } from '../src/gpu/device';

const STEPS = 4096, TM = 16, INVOCATIONS = 4096, LANES = 4;
type Way = 'load' | 'broadcast' | 'none';

function shader(way: Way): string {
  const weights = Array.from({ length: TM }, (_, m) => way === 'load' ? `    let w${m} = w[k * ${TM}u + ${m}u];`
    : way === 'none' ? `    let w${m} = f32(k + ${m}u);` : `    let w${m} = subgroupBroadcast(l${m >> 2}, ${m & 3}u);`);
  const shared = way === 'broadcast' ? Array.from({ length: TM / LANES }, (_, b) => `    let l${b} = w[k * ${TM}u + ${LANES * b}u + lane];`) : [];
  return `${way === 'broadcast' ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : ''}
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${LANES})
fn main(@builtin(global_invocation_id) gid: vec3u${way === 'broadcast' ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let i = gid.x;
  var a = vec4f();
  var b = vec4f();
  for (var k = 0u; k < ${STEPS}u; k++) {
    let at = i * 7u + k;
    let xv = vec4f(x[at % 65536u], x[(at + 1u) % 65536u], x[(at + 2u) % 65536u], x[(at + 3u) % 65536u]);
${[...shared, ...weights].join('\n')}
${Array.from({ length: TM }, (_, m) => `    ${m % 2 ? 'a' : 'b'} += w${m} * xv;`).join('\n')}
  }
  y[i] = w[0] + a.x + a.y + a.z + a.w + b.x + b.y + b.z + b.w;
}`;
}

const { adapter, device, info } = await requestDevice(undefined, ['subgroups']);
if (!device.features.has('subgroups')) {
  console.error(`${adapterName(info)}: no 'subgroups' feature, so there is nothing to measure`);
  device.destroy();
  process.exit(1);
}
const buffer = (n: number, usage: number) => device.createBuffer({ size: n * 4, usage });
const w = buffer(STEPS * TM, GPUBufferUsage.STORAGE), x = buffer(65536, GPUBufferUsage.STORAGE), y = buffer(INVOCATIONS, GPUBufferUsage.STORAGE);
const ms: Record<Way, number> = { load: 0, broadcast: 0, none: 0 };
for (const way of ['load', 'broadcast', 'none'] as Way[]) {
  const module = device.createShaderModule({ code: shader(way) });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [w, x, y].map((b, binding) => ({ binding, resource: { buffer: b } })) });
  const run = async () => {
    const enc = device.createCommandEncoder(), pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(INVOCATIONS / LANES);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  ms[way] = times.sort((a, b) => a - b)[2];
}
// Per SIMD group and step: 16 loads, or 4 loads + 16 broadcasts, over the floor.
const groupsSteps = (INVOCATIONS / LANES) * STEPS / 1e6;
const load = (ms.load - ms.none) / TM, broadcast = (ms.broadcast - ms.none - (TM / LANES) * load) / TM;
console.log(`${adapterName(info)}, subgroup size ${adapter.info.subgroupMinSize}–${adapter.info.subgroupMaxSize}`);
console.log(`${TM} weights a step, ${STEPS} steps, ${INVOCATIONS} invocations (median of 5):`);
console.log(`  every lane loads every weight   ${ms.load.toFixed(0)} ms`);
console.log(`  4 loads + 16 broadcasts         ${ms.broadcast.toFixed(0)} ms (${(ms.load / ms.broadcast).toFixed(2)}× faster)`);
console.log(`  no weight loads (the floor)     ${ms.none.toFixed(0)} ms`);
console.log(`  one load ≈ ${(load / groupsSteps).toFixed(1)} ns, one broadcast ≈ ${(broadcast / groupsSteps).toFixed(1)} ns per SIMD group`);
device.destroy();
process.exit(0);
