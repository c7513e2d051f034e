/**
 * The roofline plan: every dispatch of a recorded training step (an Engine.forPlanning engine, or
 * a real one) with its launch, FLOPs and bytes, and what it would cost on a named GPU, from public
 * specifications alone; nothing runs on a GPU.
 *
 * Per dispatch:
 *   roofline = max(FLOPs / fp32 peak, bytes / memory bandwidth)
 *   estimate = LAUNCH_US + roofline / fill
 *   fill = min(1, workgroups / cores) · min(1, threads a busy core gets / THREADS_PER_CORE)
 * so a dispatch that leaves cores idle, or too few threads on them to hide memory latency, takes
 * proportionally longer than its roofline, and every dispatch pays a launch. `bytes` counts each
 * bound storage buffer once (src/gpu/engine.ts): a lower bound on traffic, exact for elementwise
 * passes, optimistic for GEMMs whose tiles are re-read from cache.
 */
import type { DispatchObserver, DispatchShape, Engine } from './engine';
import type { AdapterDescription } from './device';

export interface GpuProfile {
  /** Full name, for tables. */
  name: string;
  vendor: string;
  architecture: string;
  /** SMs (NVIDIA) or GPU cores (Apple): the units a workgroup runs on. */
  cores: number;
  boostGHz: number;
  /** Peak FP32 rate without tensor cores (FMA = 2 FLOPs), TFLOP/s. */
  fp32Tflops: number;
  /** Memory bandwidth, GB/s. */
  bandwidthGBs: number;
}

/**
 * Public vendor specifications (FP32 = cores × FP32 lanes a core × 2 × boost clock):
 * - h100: NVIDIA H100 SXM5 80 GB. NVIDIA H100 Tensor Core GPU datasheet and Hopper architecture
 *   whitepaper: 132 SMs (128 FP32 lanes each), 1.98 GHz boost, 67 TFLOP/s FP32, 3.35 TB/s HBM3.
 * - h200: NVIDIA H200 SXM 141 GB. NVIDIA H200 Tensor Core GPU datasheet: the H100's GH100 (132
 *   SMs, 1.98 GHz boost), 67 TFLOP/s FP32, 4.8 TB/s HBM3e.
 * - a100: NVIDIA A100 SXM4 80 GB. NVIDIA A100 datasheet and Ampere architecture whitepaper:
 *   108 SMs (64 FP32 lanes each), 1.41 GHz boost, 19.5 TFLOP/s FP32, 2,039 GB/s HBM2e.
 * - rtx4090: NVIDIA GeForce RTX 4090. NVIDIA Ada Lovelace architecture whitepaper: 128 SMs (128
 *   FP32 lanes each), 2.52 GHz boost, 82.6 TFLOP/s FP32, 1,008 GB/s GDDR6X (384-bit, 21 Gbps).
 * - m2: Apple M2, 10-core GPU. Apple newsroom, "Apple unveils M2" (June 2022): 10 GPU cores,
 *   3.6 TFLOP/s FP32, 100 GB/s unified memory. Apple publishes no clock; 1.4 GHz is what 3.6
 *   TFLOP/s over 10 cores × 128 ALUs × 2 implies (the model uses only cores, TFLOP/s and GB/s).
 */
export const GPU_PROFILES = {
  h100: { name: 'NVIDIA H100 SXM5 80 GB', vendor: 'nvidia', architecture: 'hopper', cores: 132, boostGHz: 1.98, fp32Tflops: 67, bandwidthGBs: 3350 },
  h200: { name: 'NVIDIA H200 SXM 141 GB', vendor: 'nvidia', architecture: 'hopper', cores: 132, boostGHz: 1.98, fp32Tflops: 67, bandwidthGBs: 4800 },
  a100: { name: 'NVIDIA A100 SXM4 80 GB', vendor: 'nvidia', architecture: 'ampere', cores: 108, boostGHz: 1.41, fp32Tflops: 19.5, bandwidthGBs: 2039 },
  rtx4090: { name: 'NVIDIA GeForce RTX 4090', vendor: 'nvidia', architecture: 'ada', cores: 128, boostGHz: 2.52, fp32Tflops: 82.6, bandwidthGBs: 1008 },
  m2: { name: 'Apple M2 (10-core GPU)', vendor: 'apple', architecture: 'apple-8', cores: 10, boostGHz: 1.4, fp32Tflops: 3.6, bandwidthGBs: 100 },
} as const satisfies Record<string, GpuProfile>;

export type GpuName = keyof typeof GPU_PROFILES;

/**
 * Model assumptions (not vendor figures): a dispatch recorded after a dependent one in the same
 * compute pass costs about LAUNCH_US of launch and barrier; a core hides memory latency with about
 * THREADS_PER_CORE threads resident (8 warps of 32).
 */
export const LAUNCH_US = 2;
export const THREADS_PER_CORE = 256;
/** Dispatches below both are bookkeeping, not "real work", when listing underfilled ones. */
const REAL_FLOPS = 1e6, REAL_BYTES = 1e6;

/** What the adapter of a profile looks like to the engine (it picks the GPU kernels by it). */
export function plannedAdapter(gpu: GpuProfile): AdapterDescription {
  return { vendor: gpu.vendor, architecture: gpu.architecture, device: `${gpu.name} (planned)`, description: 'roofline plan: no device',
    software: false, hostCores: 1, subgroupSize: null };
}

export interface PlannedDispatch extends DispatchShape {
  /** Layer and op (`layer1.0.conv1:conv2d`), and the shader entry point (`conv2d_tiled.forward`). */
  label: string;
  kernel: string;
  computeUs: number;
  memoryUs: number;
  rooflineUs: number;
  /** The share of the GPU it keeps busy (see the file header). */
  fill: number;
  estimateUs: number;
  bound: 'compute' | 'memory';
}

export interface PlanTotals {
  dispatches: number;
  flops: number;
  bytes: number;
  /** Σ roofline: every dispatch at peak, back to back, no launch cost. */
  rooflineUs: number;
  /** Σ estimate: with launches and the GPU's idle share. */
  estimateUs: number;
  /** Roofline time of the compute-bound and the memory-bound dispatches; launches; time lost to underfilling. */
  computeBoundUs: number;
  memoryBoundUs: number;
  launchUs: number;
  underfillUs: number;
  /** The largest of the four above: what the step is closest to being bound by. */
  bound: 'compute' | 'memory' | 'launch' | 'underfill';
}

export interface Plan {
  gpu: GpuProfile;
  dispatches: PlannedDispatch[];
  totals: PlanTotals;
  /** Dispatches doing real work (≥ 1 MFLOP or ≥ 1 MB) on fewer workgroups than the GPU has cores. */
  underfilled: PlannedDispatch[];
}

/** One dispatch on a GPU profile. */
export function planDispatch(gpu: GpuProfile, label: string, kernel: string, s: DispatchShape): PlannedDispatch {
  const computeUs = s.flops / (gpu.fp32Tflops * 1e6), memoryUs = s.bytes / (gpu.bandwidthGBs * 1e3);
  const rooflineUs = Math.max(computeUs, memoryUs);
  const busy = Math.min(s.workgroups, gpu.cores);
  const fill = Math.min(1, s.workgroups / gpu.cores) * Math.min(1, s.invocations / Math.max(1, busy) / THREADS_PER_CORE);
  return { label, kernel, ...s, computeUs, memoryUs, rooflineUs, fill, estimateUs: LAUNCH_US + rooflineUs / Math.max(fill, 1e-9),
    bound: computeUs >= memoryUs ? 'compute' : 'memory' };
}

export function planOf(gpu: GpuProfile, dispatches: PlannedDispatch[]): Plan {
  const sum = (f: (d: PlannedDispatch) => number) => dispatches.reduce((a, d) => a + f(d), 0);
  const parts = {
    computeBoundUs: sum((d) => (d.bound === 'compute' ? d.rooflineUs : 0)),
    memoryBoundUs: sum((d) => (d.bound === 'memory' ? d.rooflineUs : 0)),
    launchUs: dispatches.length * LAUNCH_US,
    underfillUs: sum((d) => d.estimateUs - LAUNCH_US - d.rooflineUs),
  };
  const names = { computeBoundUs: 'compute', memoryBoundUs: 'memory', launchUs: 'launch', underfillUs: 'underfill' } as const;
  const largest = (Object.keys(parts) as (keyof typeof parts)[]).reduce((a, b) => (parts[b] > parts[a] ? b : a));
  const totals: PlanTotals = {
    dispatches: dispatches.length, flops: sum((d) => d.flops), bytes: sum((d) => d.bytes),
    rooflineUs: sum((d) => d.rooflineUs), estimateUs: sum((d) => d.estimateUs), ...parts, bound: names[largest],
  };
  const underfilled = dispatches.filter((d) => d.workgroups < gpu.cores && (d.flops >= REAL_FLOPS || d.bytes >= REAL_BYTES));
  return { gpu, dispatches, totals, underfilled };
}

/** Records every dispatch of `run` on the engine (nothing else may observe it meanwhile), planned on `gpu`. */
export async function recordPlan(e: Engine, gpu: GpuProfile, run: () => void | Promise<void>): Promise<Plan> {
  const out: PlannedDispatch[] = [];
  const observer: DispatchObserver = { passFor: () => null, dispatched: (label, kernel, shape) => void out.push(planDispatch(gpu, label, kernel, shape)) };
  if (e.observer) throw new Error('recordPlan: the engine already has an observer (a profiler?)');
  e.observer = observer;
  try {
    await run();
  } finally {
    e.observer = null;
  }
  return planOf(gpu, out);
}

const us = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The plan as text: one row a dispatch, then the totals and the underfilled dispatches. */
export function planTable(plan: Plan): string {
  const head = ['#', 'label', 'kernel', 'workgroups', 'invocations', 'MFLOP', 'MB', 'roofline µs', 'bound', 'fill', 'estimate µs'];
  const rows = plan.dispatches.map((d, i) => [String(i + 1), d.label || '(outside the model)', d.kernel, String(d.workgroups), String(d.invocations),
    (d.flops / 1e6).toFixed(1), (d.bytes / 1e6).toFixed(2), us(d.rooflineUs), d.bound, d.fill.toFixed(2), us(d.estimateUs)]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const left = new Set([1, 2, 8]);
  const line = (r: string[]) => r.map((v, c) => (left.has(c) ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  const t = plan.totals, g = plan.gpu;
  const out = [line(head), ...rows.map(line), ''];
  out.push(`${g.name}: ${g.cores} cores, ${g.fp32Tflops} TFLOP/s FP32, ${g.bandwidthGBs} GB/s`);
  out.push(`${t.dispatches} dispatches, ${(t.flops / 1e9).toFixed(1)} GFLOP, ${(t.bytes / 1e9).toFixed(2)} GB`);
  out.push(`roofline sum ${(t.rooflineUs / 1000).toFixed(2)} ms (compute-bound dispatches ${(t.computeBoundUs / 1000).toFixed(2)} ms, memory-bound ${(t.memoryBoundUs / 1000).toFixed(2)} ms)`);
  out.push(`estimated step ${(t.estimateUs / 1000).toFixed(2)} ms = roofline + launches ${(t.launchUs / 1000).toFixed(2)} ms + underfilled GPU ${(t.underfillUs / 1000).toFixed(2)} ms ` +
    `(${(t.estimateUs / t.rooflineUs).toFixed(2)}× the roofline sum); closest bound: ${t.bound}`);
  out.push(plan.underfilled.length === 0 ? `no dispatch doing real work (≥ 1 MFLOP or ≥ 1 MB) launches fewer workgroups than the ${g.cores} cores`
    : `${plan.underfilled.length} dispatches doing real work launch fewer workgroups than the ${g.cores} cores:\n` +
      plan.underfilled.map((d) => `  ${d.label} ${d.kernel}: ${d.workgroups} workgroups, ${(d.flops / 1e6).toFixed(1)} MFLOP, ${(d.bytes / 1e6).toFixed(2)} MB, estimate ${us(d.estimateUs)} µs`).join('\n'));
  return out.join('\n');
}
