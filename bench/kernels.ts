// Kernel benchmark: every distinct conv2d of ResNet-18 (width 1, cifar stem, batch 8, 32×32) in its
// three products (ms, GFLOP/s), the other ops at their ResNet shapes (ms, GB/s), and whole training
// steps (forward + loss + backward; ms, images/s). Each time is the median of several synced runs
// after a warm-up run (which compiles the pipelines; the step table shows that first run too).
// Writes its table into bench/RESULTS.md under "## bench/kernels · <adapter>" (replacing an older
// section of the same adapter, leaving every other section alone) and prints it.
// Usage: node tools/build.mjs --quiet && node build/bench/kernels.mjs [--quick]   (or BENCH_QUICK=1)
import { writeResults } from './results';
import '../src/gpu/node';
import { Engine } from '../src/gpu/engine';
import { Graph } from '../src/autograd/graph';
import type { Tensor } from '../src/tensor';
import { add, avgPool, batchNorm, crossEntropy, linear, maxPool, relu } from '../src/ops';
import { conv2dOutputSize, convBackwardData, convBackwardWeight, convForward, type ConvGeometry } from '../src/ops/conv2d';
import { ResNet18, stageChannels } from '../src/nn/resnet';

let current: Graph | null = null;
/** The graph timed work records into; resetGraph() frees it, as the end of a step would. */
const graphOf = (e: Engine) => (current ??= new Graph(e));
const resetGraph = () => {
  current?.dispose();
  current = null;
};

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const REPS = quick ? 3 : 7;

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; a[i] = s / 4294967296 - 0.5; }
  return a;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** Median ms of `reps` synced runs of f after one warm-up run; `after` runs untimed after each. */
async function time(e: Engine, f: () => void, after: () => void = () => {}, reps = REPS): Promise<{ ms: number; first: number }> {
  let t0 = performance.now();
  f();
  await e.sync();
  const first = performance.now() - t0;
  after();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    t0 = performance.now();
    f();
    await e.sync();
    ts.push(performance.now() - t0);
    after();
  }
  return { ms: median(ts), first };
}

interface ConvCase { layer: string; g: ConvGeometry }

/** The distinct convolutions of a cifar-stem ResNet-18 with 32×32 inputs. */
function resnetConvs(N: number, width: number): ConvCase[] {
  const ch = stageChannels(width);
  const conv = (layer: string, C: number, H: number, O: number, K: number, stride: number): ConvCase => {
    const pad = K === 3 ? 1 : 0, OH = conv2dOutputSize(H, K, stride, pad);
    return { layer, g: { N, C, H, W: H, O, KH: K, KW: K, OH, OW: OH, stride, pad } };
  };
  const out = [conv('conv1', 3, 32, ch[0], 3, 1), conv('layer1.*.conv*', ch[0], 32, ch[0], 3, 1)];
  let h = 32;
  for (let s = 1; s < 4; s++) {
    out.push(conv(`layer${s + 1}.0.conv1`, ch[s - 1], h, ch[s], 3, 2), conv(`layer${s + 1}.0.downsample`, ch[s - 1], h, ch[s], 1, 2));
    h = conv2dOutputSize(h, 3, 2, 1);
    out.push(conv(`layer${s + 1}.*.conv*`, ch[s], h, ch[s], 3, 1));
  }
  return out;
}

/**
 * The adapter's ceilings that kernels are measured against: the copy bandwidth (copyBufferToBuffer
 * of 32 MiB, read + write) and a plain GEMM through critdamp's convolution (a 1×1 convolution,
 * 512×512×1024). The best matmul-shaped kernel critdamp has here is the best of that GEMM and every
 * convolution measured below (convTable raises it), so "of best" is at most 100%.
 */
async function ceilings(e: Engine): Promise<{ gflops: number; copyGBs: number }> {
  const g: ConvGeometry = { N: 1, C: 512, H: 32, W: 32, O: 512, KH: 1, KW: 1, OH: 32, OW: 32, stride: 1, pad: 0 };
  const x = e.tensor(rand(512 * 1024, 1), [1, 512, 32, 32]), w = e.tensor(rand(512 * 512, 2), [512, 512, 1, 1]), y = e.empty([1, 512, 32, 32]);
  const mm = await time(e, () => convForward(e, g, x, w, y), () => resetGraph());
  const n = 8 * 2 ** 20, src = e.tensor(rand(n, 3), [n]), dst = e.empty([n]);
  const cp = await time(e, () => e.copy(src, dst));
  for (const t of [x, w, y, src, dst]) t.dispose();
  return { gflops: (2 * 512 * 512 * 1024) / mm.ms / 1e6, copyGBs: (2 * 4 * n) / cp.ms / 1e6 };
}

let CEIL = { gflops: NaN, copyGBs: NaN };
const pct = (v: number, of: number) => `${Math.round((100 * v) / of)}%`;

const f1 = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const shape = (g: ConvGeometry) => `${g.C}→${g.O}, ${g.H}², ${g.KH}×${g.KW}/${g.stride}`;

async function convTable(e: Engine, lines: string[]): Promise<void> {
  lines.push('### conv2d (ResNet-18 width 1, cifar stem, batch 8, 32×32)', '',
    '', '',
    '| layer | shape | forward ms | GFLOP/s | of best | backward_data ms | GFLOP/s | of best | backward_weight ms | GFLOP/s | of best |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const header = lines.length - 4;
  const measured: { layer: string; g: ConvGeometry; ms: number[]; flop: number }[] = [];
  for (const { layer, g } of resnetConvs(8, 1)) {
    const x = e.tensor(rand(g.N * g.C * g.H * g.W, 1), [g.N, g.C, g.H, g.W]);
    const w = e.tensor(rand(g.O * g.C * g.KH * g.KW, 2), [g.O, g.C, g.KH, g.KW]);
    const dy = e.tensor(rand(g.N * g.O * g.OH * g.OW, 3), [g.N, g.O, g.OH, g.OW]);
    const y = e.empty(dy.shape), dx = e.empty(x.shape), dw = e.empty(w.shape);
    const reset = () => resetGraph();
    const fwd = await time(e, () => convForward(e, g, x, w, y), reset);
    const bd = await time(e, () => convBackwardData(e, g, w, dy, dx, 0), reset);
    const bw = await time(e, () => convBackwardWeight(graphOf(e), g, x, dy, dw, 0), reset);
    const flop = 2 * g.N * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
    measured.push({ layer, g, ms: [fwd.ms, bd.ms, bw.ms], flop });
    CEIL.gflops = Math.max(CEIL.gflops, ...[fwd.ms, bd.ms, bw.ms].map((ms) => flop / ms / 1e6));
    for (const t of [x, w, dy, y, dx, dw]) t.dispose();
  }
  lines[header] = `"of best": GFLOP/s as a share of the best matmul-shaped kernel critdamp has here (${f1(CEIL.gflops)} GFLOP/s, the best of the rows below and a 512×512×1024 GEMM).`;
  for (const { layer, g, ms, flop } of measured) {
    const gf = (t: number) => `${f1(flop / t / 1e6)} | ${pct(flop / t / 1e6, CEIL.gflops)}`;
    lines.push(`| ${layer} | ${shape(g)} | ${f1(ms[0])} | ${gf(ms[0])} | ${f1(ms[1])} | ${gf(ms[1])} | ${f1(ms[2])} | ${gf(ms[2])} |`);
    console.log(lines[lines.length - 1]);
  }
  lines.push('');
}

/** Times op forward (nothing recorded) and its backward alone (tape.backward over one recorded forward). */
async function opRow(e: Engine, name: string, shapeText: string, inputs: Tensor[], f: (t: Tensor[]) => Tensor, bytesFwd: number, bytesBwd: number): Promise<string> {
  for (const t of inputs) t.requiresGrad = false;
  const fwd = await time(e, () => { f(inputs); }, () => resetGraph());
  let bwdText = '– | – | –';
  if (bytesBwd > 0) {
    for (const t of inputs) t.requiresGrad = t.dtype === 'f32';
    const y = f(inputs);
    const dy = e.tensor(rand(y.size, 9), y.shape);
    // Re-running backward over the same records adds into the same gradients: the same work.
    const bwd = await time(e, () => graphOf(e).backward(y, y.size === 1 ? undefined : dy));
    resetGraph();
    dy.dispose();
    bwdText = `${f1(bwd.ms)} | ${f1(bytesBwd / bwd.ms / 1e6)} | ${pct(bytesBwd / bwd.ms / 1e6, CEIL.copyGBs)}`;
    for (const t of inputs) t.requiresGrad = false;
  }
  return `| ${name} | ${shapeText} | ${f1(fwd.ms)} | ${f1(bytesFwd / fwd.ms / 1e6)} | ${pct(bytesFwd / fwd.ms / 1e6, CEIL.copyGBs)} | ${bwdText} |`;
}

async function opTable(e: Engine, lines: string[]): Promise<void> {
  lines.push('### other ops (ResNet-18 width 1, batch 8, 32×32)', '',
    `GB/s counts each tensor an op must read or write once (4 bytes a value); "of copy": as a share of the copy bandwidth here (${f1(CEIL.copyGBs)} GB/s).`, '',
    '| op | shape | forward ms | GB/s | of copy | backward ms | GB/s | of copy |', '|---|---|---:|---:|---:|---:|---:|---:|');
  const B = 4;
  for (const [N, C, H] of [[8, 64, 32], [8, 512, 4]]) {
    const n = N * C * H * H, shp = [N, C, H, H], text = `[${shp.join(', ')}]`;
    const x = e.tensor(rand(n, 1), shp), x2 = e.tensor(rand(n, 2), shp);
    const gamma = e.tensor(new Float32Array(C).fill(1), [C]), beta = e.tensor(new Float32Array(C), [C]);
    const rm = e.tensor(new Float32Array(C), [C]), rv = e.tensor(new Float32Array(C).fill(1), [C]);
    const rows = [
      await opRow(e, 'batch_norm (train)', text, [x, gamma, beta], ([a, g, b]) => batchNorm(graphOf(e), a, g, b, { runningMean: rm, runningVar: rv, batchesTracked: 0, running: 'update' }, { training: true }), 2 * n * B, 3 * n * B),
      await opRow(e, 'relu', text, [x], ([a]) => relu(graphOf(e), a), 2 * n * B, 3 * n * B),
      await opRow(e, 'add', text, [x, x2], ([a, b]) => add(graphOf(e), a, b), 3 * n * B, 3 * n * B),
      // As ResNet-18 runs them: each ReLU fused into the op before it (no relu pass of its own).
      await opRow(e, 'batch_norm + relu (train, fused)', text, [x, gamma, beta], ([a, g, b]) => batchNorm(graphOf(e), a, g, b, { runningMean: rm, runningVar: rv, batchesTracked: 0, running: 'update' }, { training: true, relu: true }), 2 * n * B, 4 * n * B),
      await opRow(e, 'add + relu (fused)', text, [x, x2], ([a, b]) => add(graphOf(e), a, b, { relu: true }), 3 * n * B, 4 * n * B),
    ];
    for (const r of rows) { lines.push(r); console.log(r); }
    for (const t of [x, x2, gamma, beta, rm, rv]) t.dispose();
  }
  const x = e.tensor(rand(8 * 512 * 16, 3), [8, 512, 4, 4]);
  const feat = e.tensor(rand(8 * 512, 4), [8, 512]), fw = e.tensor(rand(10 * 512, 5), [10, 512]), fb = e.tensor(rand(10, 6), [10]);
  const logits = e.tensor(rand(80, 7), [8, 10]), labels = e.tensor(Uint32Array.from({ length: 8 }, (_, i) => i), [8], { dtype: 'u32' });
  // The ImageNet stem's 3×3/2 max pool (width 1 at 32×32): reads x, writes y and its argmax; backward reads argmax and dy, writes dx.
  const xp = e.tensor(rand(8 * 64 * 16 * 16, 8), [8, 64, 16, 16]), np = xp.size;
  const rows = [
    await opRow(e, 'max_pool 3×3/2', '[8, 64, 16, 16]', [xp], ([a]) => maxPool(graphOf(e), a), (np + np / 2) * B, (np + np / 2) * B),
    await opRow(e, 'avg_pool', '[8, 512, 4, 4]', [x], ([a]) => avgPool(graphOf(e), a), (x.size + 4096) * B, (x.size + 4096) * B),
    await opRow(e, 'linear', '[8, 512] → 10', [feat, fw, fb], ([a, w, b]) => linear(graphOf(e), a, w, b), (feat.size + fw.size + 90) * B, (2 * feat.size + 2 * fw.size + 100) * B),
    await opRow(e, 'cross_entropy', '[8, 10]', [logits, labels], ([z, l]) => crossEntropy(graphOf(e), z, l), 100 * B, 170 * B),
  ];
  for (const r of rows) { lines.push(r); console.log(r); }
  for (const t of [x, xp, feat, fw, fb, logits, labels]) t.dispose();
  lines.push('');
}

async function stepTable(e: Engine, lines: string[]): Promise<void> {
  lines.push('### training step (forward + cross_entropy + backward)', '',
    'First step includes compiling the pipelines it needs.', '',
    '| model | input | batch | first step s | step ms | images/s |', '|---|---|---:|---:|---:|---:|');
  const cases: [number, string, number, number, number][] = [
    [1, '1', 8, 3, 32], [0.25, '1/4', 8, 3, 32], [0.125, '1/8', 8, 3, 32], [0.125, '1/8', 64, 1, 28],
  ];
  for (const [width, wText, N, inC, H] of cases) {
    const model = new ResNet18(e, { numClasses: 10, inChannels: inC, stem: 'cifar', width }, 1);
    const x = e.tensor(rand(N * inC * H * H, 11), [N, inC, H, H]);
    const labels = e.tensor(Uint32Array.from({ length: N }, (_, i) => i % 10), [N], { dtype: 'u32' });
    const step = () => {
      model.store.zeroGrad();
      graphOf(e).backward(crossEntropy(graphOf(e), model.forward(graphOf(e), x, { training: true }), labels));
    };
    const t = await time(e, step, () => resetGraph(), width === 1 ? Math.min(REPS, 3) : REPS);
    const row = `| ResNet-18 width ${wText}, cifar stem | ${inC}×${H}×${H} | ${N} | ${(t.first / 1000).toFixed(1)} | ${f1(t.ms)} | ${f1(N / t.ms * 1000)} |`;
    lines.push(row);
    console.log(row);
    model.store.destroy();
    x.dispose();
    labels.dispose();
  }
  lines.push('');
}

const e = await Engine.create();
const started = performance.now();
const date = new Date().toISOString().slice(0, 10);
const heading = `## bench/kernels · ${e.adapterName} · ${date}`;
console.log(heading);
CEIL = await ceilings(e);
console.log(`ceilings: best matmul ${f1(CEIL.gflops)} GFLOP/s, copy ${f1(CEIL.copyGBs)} GB/s`);
const lines: string[] = [`Kernel variants: conv2d '${e.kernels.conv.variant}', batch norm '${e.kernels.batchNorm}'. In ResNet-18 every ReLU is fused into the batch norm or residual add before it, so relu never runs as its own pass. ${quick ? 'Quick run: median of 3.' : `Median of ${REPS} runs.`}`, '',
  `Ceilings on this adapter: copy ${f1(CEIL.copyGBs)} GB/s (copyBufferToBuffer of 32 MiB, read + write); a 512×512×1024 GEMM through critdamp's convolution ${f1(CEIL.gflops)} GFLOP/s (the conv table takes the best of it and its rows).`, ''];
await convTable(e, lines);
await opTable(e, lines);
await stepTable(e, lines);
lines.push(`Whole benchmark: ${((performance.now() - started) / 1000).toFixed(0)} s.`);
writeResults(heading, lines);
console.log(`\n${[heading, '', ...lines].join('\n')}`);
e.destroy();
process.exit(0);
