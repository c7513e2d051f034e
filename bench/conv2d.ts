// conv2d testbed: times forward, backward_data and backward_weight at ResNet-18 shapes (or the
// shapes given as argv `N,C,H,W,O,K,stride,pad`), prints ms and GFLOP/s per entry.
// Usage: node build/bench/conv2d.mjs [--quick] [shape ...]
import '../src/gpu/node';
import { Engine } from '../src/gpu/engine';
import { conv2d } from '../src/ops';
import type { Tensor } from '../src/tensor';

export interface ConvShape { name: string; N: number; C: number; H: number; W: number; O: number; K: number; stride: number; pad: number }

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; a[i] = s / 4294967296 - 0.5; }
  return a;
}

export async function timeIt(e: Engine, reps: number, f: () => void): Promise<number> {
  f(); await e.sync(); e.tape.reset();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    await e.sync();
    ts.push(performance.now() - t0);
    e.tape.reset();
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

export async function timeConv(e: Engine, s: ConvShape, reps: number): Promise<{ fwd: number; bwdData: number; bwdWeight: number; flops: number }> {
  const OH = Math.floor((s.H + 2 * s.pad - s.K) / s.stride) + 1, OW = Math.floor((s.W + 2 * s.pad - s.K) / s.stride) + 1;
  const x = e.tensor(rand(s.N * s.C * s.H * s.W, 1), [s.N, s.C, s.H, s.W]);
  const w = e.tensor(rand(s.O * s.C * s.K * s.K, 2), [s.O, s.C, s.K, s.K]);
  const dy = e.tensor(rand(s.N * s.O * OH * OW, 3), [s.N, s.O, OH, OW]);
  const opts = { stride: s.stride, pad: s.pad };
  const run = (gx: boolean, gw: boolean) => () => {
    x.requiresGrad = gx; w.requiresGrad = gw;
    const y = conv2d(x, w, opts);
    if (gx || gw) e.tape.backward(y, dy);
  };
  const fwd = await timeIt(e, reps, run(false, false));
  const fx = await timeIt(e, reps, run(true, false));
  const fw = await timeIt(e, reps, run(false, true));
  for (const t of [x, w, dy]) t.dispose();
  return { fwd, bwdData: fx - fwd, bwdWeight: fw - fwd, flops: 2 * s.N * s.O * OH * OW * s.C * s.K * s.K };
}

export function resnetConvShapes(N: number, width: number, inC = 3, H = 32): ConvShape[] {
  const ch = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * width)));
  const out: ConvShape[] = [{ name: `conv1 ${inC}→${ch[0]} ${H}²`, N, C: inC, H, W: H, O: ch[0], K: 3, stride: 1, pad: 1 }];
  let h = H;
  ch.forEach((c, i) => {
    if (i === 0) { out.push({ name: `layer1 ${c}→${c} ${h}²`, N, C: c, H: h, W: h, O: c, K: 3, stride: 1, pad: 1 }); return; }
    const cin = ch[i - 1];
    out.push({ name: `layer${i + 1}.0.conv1 ${cin}→${c} ${h}²/2`, N, C: cin, H: h, W: h, O: c, K: 3, stride: 2, pad: 1 });
    out.push({ name: `layer${i + 1}.0.downsample ${cin}→${c} 1×1/2`, N, C: cin, H: h, W: h, O: c, K: 1, stride: 2, pad: 0 });
    h = Math.floor((h - 1) / 2) + 1;
    out.push({ name: `layer${i + 1} ${c}→${c} ${h}²`, N, C: c, H: h, W: h, O: c, K: 3, stride: 1, pad: 1 });
  });
  return out;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const e = await Engine.create();
  if (process.env.CONV_CFG) e.kernels = { ...e.kernels, conv: { ...e.kernels.conv, ...JSON.parse(process.env.CONV_CFG) } };
  console.log(`${e.adapterName}  kernels ${JSON.stringify(e.kernels)}`);
  const custom = args.filter((a) => /^\d/.test(a)).map((a) => {
    const [N, C, H, W, O, K, stride, pad] = a.split(',').map(Number);
    return { name: a, N, C, H, W, O, K, stride, pad };
  });
  const shapes = custom.length ? custom : resnetConvShapes(Number(process.env.N ?? 8), Number(process.env.WIDTH ?? 1));
  const reps = quick ? 3 : 5;
  const gf = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(2);
  for (const s of shapes) {
    const r = await timeConv(e, s, reps);
    console.log(`${s.name.padEnd(34)} fwd ${r.fwd.toFixed(1).padStart(7)} ms ${gf(r.flops, r.fwd).padStart(6)} GF/s | dx ${r.bwdData.toFixed(1).padStart(7)} ms ${gf(r.flops, r.bwdData).padStart(6)} | dw ${r.bwdWeight.toFixed(1).padStart(7)} ms ${gf(r.flops, r.bwdWeight).padStart(6)}`);
  }
  e.destroy();
  process.exit(0);
}
