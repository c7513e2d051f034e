// The op checks (src/ops/selfcheck.ts: every op, forward and every input gradient, against its
// float64 reference with the registry's tolerances) on this machine's adapter, in the kernel
// configuration the adapter gets and in the other one (a GPU also runs the CPU rasterizers'
// kernels, and SwiftShader the GPU's), so bench/gpu.sh can check a real GPU before timing it.
// Usage: node build/bench/selfcheck.mjs   (exits 1 when a check fails)
import '../src/gpu/node';
import { Engine, defaultKernelConfig, type KernelConfig } from '../src/gpu/engine';
import { checkOps } from '../src/ops';

const e = await Engine.create();
let failed = 0;
try {
  console.log(`op checks on ${e.adapterName} (${e.info.software ? 'software' : 'hardware'} adapter)`);
  const other = defaultKernelConfig({ software: !e.info.software, hostCores: e.info.hostCores });
  const configs: [string, KernelConfig][] = [
    [`its own kernels (conv ${e.kernels.conv.variant}, batch norm ${e.kernels.batchNorm})`, e.kernels],
    [`the other configuration (conv ${other.conv.variant}, batch norm ${other.batchNorm})`, other],
  ];
  for (const [name, config] of configs) {
    e.kernels = config;
    e.plans.clear();
    const checks = await checkOps(e);
    for (const c of checks) {
      const worst = Object.entries(c.worst).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
      console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${name}: ${c.op.padEnd(14)} worst error / bound: ${worst}`);
      if (!c.ok) failed++;
    }
  }
} finally {
  e.destroy();
}
console.log(failed === 0 ? 'op checks: all within tolerance' : `op checks: ${failed} FAILED`);
process.exit(failed === 0 ? 0 : 1);
