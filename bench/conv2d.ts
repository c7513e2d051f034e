// conv2d testbed: times forward, backward_data and backward_weight of each kernel variant at the
// given shapes (default: ResNet-18's distinct convs at width WIDTH, batch N, 32×32), prints ms and
// GFLOP/s with the direct kernels' tiles, and checks that every variant agrees with 'direct'
// (max |a − b| / max |b|; the float64 checks live in test/ops/conv2d*.test.ts).
// Usage: node build/bench/conv2d.mjs [--quick] [--variants=direct,tiled,register] [N,C,H,O,K,stride,pad ...]
//   env N (batch, default 8), WIDTH (default 1)
import '../src/gpu/node';
import { Engine, type KernelConfig } from '../src/gpu/engine';
import { Graph } from '../src/autograd/graph';
import type { Tensor } from '../src/tensor';
import { conv2dDirectPlan, conv2dOutputSize, convBackwardData, convBackwardWeight, convForward, type ConvGeometry } from '../src/ops/conv2d';
import { stageChannels } from '../src/nn/resnet';

let current: Graph | null = null;
/** The graph timed work records into; resetGraph() frees it, as the end of a step would. */
const graphOf = (e: Engine) => (current ??= new Graph(e));
const resetGraph = () => {
  current?.dispose();
  current = null;
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const variants = (args.find((a) => a.startsWith('--variants='))?.slice(11) ?? 'direct').split(',') as KernelConfig['conv']['variant'][];
const reps = quick ? 3 : 5;

function geometry(N: number, C: number, H: number, O: number, K: number, stride: number, pad: number): ConvGeometry {
  const OH = conv2dOutputSize(H, K, stride, pad);
  return { N, C, H, W: H, O, KH: K, KW: K, OH, OW: OH, stride, pad };
}

function resnetShapes(N: number, width: number): ConvGeometry[] {
  const ch = stageChannels(width);
  const out = [geometry(N, 3, 32, ch[0], 3, 1, 1), geometry(N, ch[0], 32, ch[0], 3, 1, 1)];
  let h = 32;
  for (let s = 1; s < 4; s++) {
    out.push(geometry(N, ch[s - 1], h, ch[s], 3, 2, 1), geometry(N, ch[s - 1], h, ch[s], 1, 2, 0));
    h = conv2dOutputSize(h, 3, 2, 1);
    out.push(geometry(N, ch[s], h, ch[s], 3, 1, 1));
  }
  return out;
}

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; a[i] = s / 4294967296 - 0.5; }
  return a;
}

async function time(e: Engine, f: () => void): Promise<number> {
  f();
  await e.sync();
  resetGraph();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    await e.sync();
    ts.push(performance.now() - t0);
    resetGraph();
  }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)];
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 1e-30;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

const e = await Engine.create();
const custom = args.filter((a) => /^\d/.test(a)).map((a) => {
  const [N, C, H, O, K, stride, pad] = a.split(',').map(Number);
  return geometry(N, C, H, O, K, stride, pad);
});
const shapes = custom.length ? custom : resnetShapes(Number(process.env.N ?? 8), Number(process.env.WIDTH ?? 1));
console.log(`${e.adapterName}; variants ${variants.join(', ')}; median of ${reps}`);
const saved = e.kernels;
for (const g of shapes) {
  const x = e.tensor(rand(g.N * g.C * g.H * g.W, 1), [g.N, g.C, g.H, g.W]);
  const w = e.tensor(rand(g.O * g.C * g.KH * g.KW, 2), [g.O, g.C, g.KH, g.KW]);
  const dy = e.tensor(rand(g.N * g.O * g.OH * g.OW, 3), [g.N, g.O, g.OH, g.OW]);
  const outs: Tensor[] = [e.empty(dy.shape), e.empty(x.shape), e.empty(w.shape)];
  const flop = 2 * g.N * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
  const plan = conv2dDirectPlan(e, g), t = (o: object) => Object.values(o).join('/');
  console.log(`N ${g.N} ${g.C}→${g.O} ${g.H}² ${g.KH}×${g.KW}/${g.stride}  direct tiles: fwd ${t(plan.forward)} dx ${t(plan.backwardData)} dw ${t(plan.backwardWeight)}`);
  let ref: Float32Array[] | null = null;
  for (const variant of variants) {
    e.kernels = { ...saved, conv: { ...saved.conv, variant } };
    const ms = [
      await time(e, () => convForward(e, g, x, w, outs[0])),
      await time(e, () => convBackwardData(e, g, w, dy, outs[1], 0)),
      await time(e, () => convBackwardWeight(graphOf(e), g, x, dy, outs[2], 0)),
    ];
    const got = await Promise.all(outs.map((o) => o.read()));
    ref ??= got;
    const diff = Math.max(...got.map((v, i) => maxRelDiff(v, ref![i])));
    const cols = ms.map((m) => `${m.toFixed(1).padStart(8)} ms ${(flop / m / 1e6).toFixed(2).padStart(6)} GF/s`);
    console.log(`  ${variant.padEnd(9)} fwd ${cols[0]} | dx ${cols[1]} | dw ${cols[2]} | vs ${variants[0]} ${diff.toExponential(1)}`);
  }
  e.kernels = saved;
  for (const v of [x, w, dy, ...outs]) v.dispose();
}
e.destroy();
process.exit(0);
