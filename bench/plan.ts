// The roofline plan's targets (issue 25), checked: ResNet-18 width 1, batch 128, cifar stem, on
// the H100 profile, (1) no dispatch above 50 MFLOP launches fewer workgroups than the GPU has SMs,
// (2) the estimated step is within 3× of the sum of the dispatches' roofline times. Also prints the
// plan's totals on every profile and for the imagenet stem. Runs nothing on a GPU (about a second
// a plan): every figure comes from the recorded dispatches and public specifications
// (src/gpu/roofline.ts). Exits 1 when a target is missed.
// Usage: node build/bench/plan.mjs [--markdown]   (--markdown: the table bench/RESULTS.md shows)
import { planTrainingStep, type BenchShape } from '../src/cli/bench';
import { GPU_PROFILES, type GpuName, type Plan } from '../src/gpu/roofline';

const markdown = process.argv.includes('--markdown');
const TARGET: BenchShape = { width: 1, stem: 'cifar', batch: 128, size: 32, channels: 3 };
const MFLOP_LIMIT = 50e6, RATIO_LIMIT = 3;

interface Row { gpu: string; shape: string; plan: Plan }
const rows: Row[] = [];
for (const name of Object.keys(GPU_PROFILES) as GpuName[]) {
  for (const shape of [TARGET, { ...TARGET, stem: 'imagenet' as const, size: 224 }]) {
    rows.push({ gpu: name, shape: `${shape.stem} ${shape.channels}×${shape.size}²`, plan: await planTrainingStep(GPU_PROFILES[name], shape) });
  }
}

const ms = (us: number) => (us / 1000).toFixed(2);
const head = ['GPU', 'input', 'dispatches', 'GFLOP', 'GB', 'roofline sum ms', 'estimate ms', 'estimate / roofline', 'closest bound', '> 50 MFLOP on < cores'];
const cells = rows.map(({ gpu, shape, plan: { totals: t, dispatches, gpu: g } }) => [gpu, shape, String(t.dispatches), (t.flops / 1e9).toFixed(1), (t.bytes / 1e9).toFixed(2),
  ms(t.rooflineUs), ms(t.estimateUs), `${(t.estimateUs / t.rooflineUs).toFixed(2)}×`, t.bound,
  String(dispatches.filter((d) => d.flops > MFLOP_LIMIT && d.workgroups < g.cores).length)]);
if (markdown) {
  console.log(`| ${head.join(' | ')} |\n|${head.map((_, i) => (i < 2 || i === 8 ? '---' : '---:')).join('|')}|`);
  for (const c of cells) console.log(`| ${c.join(' | ')} |`);
} else {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  for (const r of [head, ...cells]) console.log(r.map((v, i) => (i < 2 || i === 8 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
}

const h100 = rows.find((r) => r.gpu === 'h100' && r.shape.startsWith('cifar'))!.plan;
const thin = h100.dispatches.filter((d) => d.flops > MFLOP_LIMIT && d.workgroups < h100.gpu.cores);
const ratio = h100.totals.estimateUs / h100.totals.rooflineUs;
const smallest = h100.dispatches.filter((d) => d.flops > MFLOP_LIMIT).reduce((a, b) => (b.workgroups < a.workgroups ? b : a));
console.log(`\ntargets (width 1, batch 128, cifar stem, ${h100.gpu.name}):`);
console.log(`  dispatches above 50 MFLOP on fewer than ${h100.gpu.cores} workgroups: ${thin.length} ${thin.length === 0 ? '(met)' : `(MISSED: ${thin.map((d) => `${d.label} ${d.kernel} ${d.workgroups}`).join('; ')})`}` +
  `; the fewest such a dispatch launches: ${smallest.workgroups} (${smallest.label} ${smallest.kernel})`);
console.log(`  estimated step / roofline sum: ${ratio.toFixed(2)}× (${ms(h100.totals.estimateUs)} / ${ms(h100.totals.rooflineUs)} ms) ${ratio <= RATIO_LIMIT ? '(met)' : '(MISSED)'}`);
process.exit(thin.length === 0 && ratio <= RATIO_LIMIT ? 0 : 1);
