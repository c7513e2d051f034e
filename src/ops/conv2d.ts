/**
 * conv2d: 2-D convolution without bias, x [N,C,H,W] ⊛ w [O,C,KH,KW] → y [N,O,OH,OW],
 * OH = ⌊(H + 2·pad − KH)/stride⌋ + 1. Backward: dx by backward_data, dw by backward_weight, each
 * only when its input requires a gradient.
 *   dx[n,c,ih,iw] = Σ_{o,kh,kw} w[o,c,kh,kw]·dy[n,o,(ih+pad−kh)/s,(iw+pad−kw)/s]   (where divisible)
 *   dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,o,oh,ow]·x[n,c,oh·s−pad+kh,ow·s−pad+kw]
 * Three kernel families compute the same three products; engine.kernels.conv.variant picks one:
 *   'direct'   (CPU rasterizers) shaders/conv2d_direct*.wgsl: unrolled register tiles that reuse
 *              each loaded input across the taps that overlap it (code generated here);
 *   'tiled'    (GPUs) shaders/conv2d_tiled.wgsl: implicit GEMM through workgroup-memory tiles;
 *   'register' shaders/conv2d.wgsl: a generic register-tiled loop, the reference fallback.
 * linear (H = W = 1) goes through the same three functions.
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, ShapeError } from './check';
import conv2dWgsl from '../../shaders/conv2d.wgsl';
import directWgsl from '../../shaders/conv2d_direct.wgsl';
import directDwWgsl from '../../shaders/conv2d_direct_dw.wgsl';
import tiledWgsl from '../../shaders/conv2d_tiled.wgsl';
import reduceWgsl from '../../shaders/reduce.wgsl';

const REGISTER: ShaderSource = { name: 'conv2d.wgsl', code: conv2dWgsl };
const DIRECT: ShaderSource = { name: 'conv2d_direct.wgsl', code: directWgsl };
const DIRECT_DW: ShaderSource = { name: 'conv2d_direct_dw.wgsl', code: directDwWgsl };
const TILED: ShaderSource = { name: 'conv2d_tiled.wgsl', code: tiledWgsl };
const REDUCE: ShaderSource = { name: 'reduce.wgsl', code: reduceWgsl };

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

/** Every size of one convolution. */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number; OH: number; OW: number;
  stride: number; pad: number;
}

export function conv2dOutputSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const stride = opts.stride ?? 1, pad = opts.pad ?? 0;
  expectRank('conv2d', 'input x', x, 4, 'NCHW');
  expectRank('conv2d', 'weight w', w, 4, 'OIHW');
  expectDtype('conv2d', 'input x', x, 'f32');
  const [N, C, H, W] = x.shape;
  const [O, Cw, KH, KW] = w.shape;
  if (Cw !== C) {
    throw new ShapeError(`conv2d: input x [${x.shape.join(', ')}] has ${C} channels but weight w [${w.shape.join(', ')}] expects ${Cw}`);
  }
  if (!(stride >= 1 && Number.isInteger(stride)) || !(pad >= 0 && Number.isInteger(pad))) {
    throw new ShapeError(`conv2d: stride ${stride} and pad ${pad} must be integers ≥ 1 and ≥ 0`);
  }
  const OH = conv2dOutputSize(H, KH, stride, pad), OW = conv2dOutputSize(W, KW, stride, pad);
  if (OH < 1 || OW < 1) {
    throw new ShapeError(`conv2d: input x [${x.shape.join(', ')}] is smaller than the ${KH}×${KW} kernel with pad ${pad}`);
  }
  const e = x.engine, tape = e.tape;
  const g: ConvGeometry = { N, C, H, W, O, KH, KW, OH, OW, stride, pad };
  const y = tape.own(e.empty([N, O, OH, OW]));
  convForward(e, g, x, w, y);
  if (tape.wants([x, w])) {
    tape.record('conv2d', [x, w], y, () => {
      const dy = y.grad!;
      if (x.requiresGrad) {
        const { grad, acc } = tape.gradTarget(x);
        convBackwardData(e, g, w, dy, grad, acc);
      }
      if (w.requiresGrad) {
        const { grad, acc } = tape.gradTarget(w);
        convBackwardWeight(e, g, x, dy, grad, acc);
      }
    });
  }
  return y;
}

// ---- the three products, by variant ------------------------------------------------------------

const taps = (g: ConvGeometry) => g.KH * g.KW;
/** Params of conv2d.wgsl and conv2d_tiled.wgsl. */
const params = (g: ConvGeometry, acc: number) => [g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, g.KH, g.KW, g.stride, g.pad, acc];

/** y = conv(x, w). */
export function convForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  const cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directForward(e, g, x, w, y);
  if (cfg.variant === 'tiled') {
    return tiledDispatch(e, 'forward', g.O, g.N * g.OH * g.OW, params(g, 0), { 1: w, 2: x, 3: y });
  }
  registerDispatch(e, 'forward', g.O, g.N * g.OH * g.OW, params(g, 0), { 1: x, 2: w, 3: y });
}

/** dx (+)= convᵀ(dy, w). */
export function convBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  const cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directBackwardData(e, g, w, dy, dx, acc);
  if (cfg.variant === 'tiled') {
    return tiledDispatch(e, 'backward_data', g.C, g.N * g.H * g.W, params(g, acc), { 1: w, 2: dy, 3: dx });
  }
  registerDispatch(e, 'backward_data', g.C, g.N * g.H * g.W, params(g, acc), { 2: w, 4: dy, 5: dx });
}

/** dw (+)= dy ⋆ x. */
export function convBackwardWeight(e: Engine, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directBackwardWeight(e, g, x, dy, dw, acc);
  if (cfg.variant === 'tiled') {
    return tiledDispatch(e, 'backward_weight', g.O, g.C * taps(g), params(g, acc), { 1: dy, 2: x, 3: dw });
  }
  registerDispatch(e, 'backward_weight', g.O, g.C * taps(g), params(g, acc), { 1: x, 4: dy, 6: dw });
}

/** The register kernel: one invocation per TM × TN tile of the rows × cols result. */
function registerDispatch(e: Engine, entry: string, rows: number, cols: number, u32: number[], bindings: Record<number, Tensor>): void {
  const r = e.kernels.conv.register;
  e.dispatch({ shader: REGISTER, entry, consts: { TM: r.TM, TN: r.TN }, u32, bindings,
    invocations: Math.ceil(rows / r.TM) * Math.ceil(cols / r.TN), wg: r.WG });
}

/** The tiled kernel: one workgroup per BM × BN block of the rows × cols result matrix. */
function tiledDispatch(e: Engine, entry: string, rows: number, cols: number, u32: number[], bindings: Record<number, Tensor>): void {
  const t = e.kernels.conv.tiled;
  const groups = Math.ceil(rows / (t.TM * t.WY)) * Math.ceil(cols / (t.TN * t.WX));
  e.dispatch({ shader: TILED, entry, consts: { TM: t.TM, TN: t.TN }, overrides: { WX: t.WX, WY: t.WY, BK: t.BK },
    u32, bindings, invocations: groups * t.WX * t.WY, wg: t.WX * t.WY });
}

// ---- direct kernels (CPU rasterizers) ----------------------------------------------------------
// Tiles are chosen by a cost model in units of one 4-lane multiply-add (~3.6 cycles on SwiftShader's
// Subzero JIT), fitted to measurements (bench/conv2d.ts): a storage load, a per-lane gather, costs
// ~10; per invocation, each accumulator costs ~80 to store (a read and a write of dst), each patch
// cell ~13 to set up, and starting the invocation ~2100. A core does ~720k units a ms. Compiling
// costs ~0.5 ms per generated line, once, so a bigger tile must pay for itself over EXPECTED_CALLS.
const LOAD = 10, STORE = 80, CELL = 13, START = 2100, UNITS_PER_MS = 720_000;
const LANES = 4, CORES = 2, TASKS = 16;
const EXPECTED_CALLS = 100, COMPILE_MS_PER_LINE = 0.5;
/** Accumulators per invocation and generated lines per kernel, at most. */
const MAX_ACCS = 256, MAX_LINES = 1400;
/** One SIMD group per workgroup: SwiftShader spreads workgroups (in at most TASKS batches) over its threads. */
const DIRECT_WG = LANES;

interface Tap { t: number; du: number; dv: number }

/**
 * Modelled ms of `inv` invocations that each do `perInv` units: the workgroups are cut into at
 * most TASKS batches that run CORES at a time. Few batches balance badly when a core is shared
 * (measured: 2 batches run ~1.5× slower than 16 on two cores), hence the (1 + 1/tasks).
 */
function parallelMs(inv: number, perInv: number): number {
  const groups = Math.ceil(inv / DIRECT_WG), tasks = Math.min(TASKS, groups);
  return (Math.ceil(tasks / CORES) * Math.ceil(groups / tasks) * perInv * (1 + 1 / tasks)) / UNITS_PER_MS;
}

/** Tiles forced by tests and benchmarks (undefined: chosen by the cost model). */
export const directTiles: { output?: OutputTile; weight?: WeightTile } = {};

function usedPatch(TR: number, TQ: number, step: number, tapList: Tap[]): { rows: number[]; cols: number[]; cells: [number, number][] } {
  const cells = new Map<number, [number, number]>();
  for (const tp of tapList) {
    for (let r = 0; r < TR; r++) for (let q = 0; q < TQ; q++) {
      const u = r * step + tp.du, v = q * step + tp.dv;
      cells.set(u * 4096 + v, [u, v]);
    }
  }
  const list = [...cells.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { rows: [...new Set(list.map((c) => c[0]))], cols: [...new Set(list.map((c) => c[1]))].sort((a, b) => a - b), cells: list };
}

export interface OutputTile { TM: number; TR: number; TQ: number }

const plans = new Map<string, OutputTile | WeightTile>();

/** The result tile (channels × rows × columns) with the lowest modelled run and compile time. */
function chooseOutputTile(M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[]): OutputTile {
  // A pass with no taps only stores zeros: one small shared kernel.
  if (tapList.length === 0) return { TM: 1, TR: 1, TQ: 4 };
  if (directTiles.output) return directTiles.output;
  const key = `o|${M}|${N}|${gridH}|${gridW}|${K}|${step}|${tapList.map((t) => `${t.t},${t.du},${t.dv}`).join(';')}`;
  const known = plans.get(key) as OutputTile | undefined;
  if (known) return known;
  const T = tapList.length;
  const ms = [...new Set([1, 2, 4, 8, 16, ...(M < 16 ? [M] : [])])].filter((m) => m <= M * 2);
  const rs = [...new Set([1, 2, 4, 8, ...(gridH <= 8 ? [gridH] : [])])].filter((r) => r <= gridH * 2);
  const qs = [...new Set([1, 2, 4, 8, ...(gridW <= 8 ? [gridW] : [])])].filter((q) => q <= gridW * 2);
  let best: OutputTile = { TM: 1, TR: 1, TQ: 1 }, bestCost = Infinity;
  for (const TM of ms) for (const TR of rs) for (const TQ of qs) {
    const accs = TM * TR * TQ, G = Math.ceil(TQ / 4);
    const { rows, cols, cells } = usedPatch(TR, TQ, step, tapList);
    // Lines generated by outputTileCode, and the template around them.
    const lines = 60 + 2 * (rows.length + cols.length + cells.length) + TM + TM * TR * G + cells.length
      + T * TM * (1 + TR * G) + 2 * (TM + TR + TQ) + TM * TR * (2 + TQ);
    if (accs > MAX_ACCS || lines > MAX_LINES) continue;
    const inv = Math.ceil(M / TM) * N * Math.ceil(gridH / TR) * Math.ceil(gridW / TQ);
    const perK = LOAD * (TM * T + cells.length) + accs * T;
    const cost = EXPECTED_CALLS * parallelMs(inv, K * perK + STORE * accs + CELL * cells.length + START) + COMPILE_MS_PER_LINE * lines;
    if (cost < bestCost) { bestCost = cost; best = { TM, TR, TQ }; }
  }
  plans.set(key, best);
  return best;
}

const vec = (n: number) => (n === 1 ? 'f32' : `vec${n}f`);

/** The unrolled blocks of conv2d_direct.wgsl for one tile and tap list. */
function outputTileCode(tile: OutputTile, step: number, tapList: Tap[], acc: number): Record<string, string | number> {
  const { TM, TR, TQ } = tile;
  const { rows, cols, cells } = tapList.length ? usedPatch(TR, TQ, step, tapList) : { rows: [], cols: [], cells: [] };
  const groups: number[][] = [];
  for (let q = 0; q < TQ; q += 4) groups.push(Array.from({ length: Math.min(4, TQ - q) }, (_, j) => q + j));
  const patch: string[] = [];
  for (const u of rows) patch.push(`  let okr${u} = (row0 + ${u} >= 0) & (row0 + ${u} < H);`, `  let ro${u} = select(0, row0 + ${u}, okr${u}) * W;`);
  for (const v of cols) patch.push(`  let okc${v} = (col0 + ${v} >= 0) & (col0 + ${v} < W);`, `  let co${v} = select(0, col0 + ${v}, okc${v});`);
  for (const [u, v] of cells) patch.push(`  let ok${u}_${v} = okr${u} & okc${v};`, `  let of${u}_${v} = u32(ro${u} + co${v});`);

  const wrows: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) wrows.push(`  let wr${i} = min(m0 + ${i}u, p.M - 1u) * p.wOut;`);
  for (let i = 0; i < TM; i++) for (let r = 0; r < TR; r++) groups.forEach((g, gi) => accs.push(`  var a${i}_${r}_${gi} = ${vec(g.length)}();`));
  for (const [u, v] of cells) body.push(`    let x${u}_${v} = select(0.0, src[s + of${u}_${v}], ok${u}_${v});`);
  for (const tp of tapList) {
    for (let i = 0; i < TM; i++) {
      body.push(`    let w${i}_${tp.t} = w[wr${i} + wk + ${tp.t}u];`);
      for (let r = 0; r < TR; r++) {
        groups.forEach((g, gi) => {
          const xs = g.map((q) => `x${r * step + tp.du}_${q * step + tp.dv}`);
          body.push(`    a${i}_${r}_${gi} += w${i}_${tp.t} * ${g.length === 1 ? xs[0] : `${vec(g.length)}(${xs.join(', ')})`};`);
        });
      }
    }
  }
  // Branch-free stores (see put in the shader): a result outside the grid is redirected to the
  // tile's last valid one, and the stores run in descending tile order so the valid one lands last.
  for (let i = 0; i < TM; i++) store.push(`  let sm${i} = min(m0 + ${i}u, p.M - 1u);`, `  let sokm${i} = m0 + ${i}u < p.M;`);
  for (let r = 0; r < TR; r++) {
    store.push(`  let sgr${r} = min(g0 + ${r}u, p.gridH - 1u) * p.dstStride + p.phaseH;`, `  let sokg${r} = g0 + ${r}u < p.gridH;`);
  }
  for (let q = 0; q < TQ; q++) {
    store.push(`  let sgc${q} = min(h0 + ${q}u, p.gridW - 1u) * p.dstStride + p.phaseW;`, `  let sokh${q} = h0 + ${q}u < p.gridW;`);
  }
  for (let i = TM - 1; i >= 0; i--) for (let r = TR - 1; r >= 0; r--) {
    store.push(`  let sb${i}_${r} = ((n * p.M + sm${i}) * p.dstH + sgr${r}) * p.dstW;`, `  let sok${i}_${r} = sokm${i} & sokg${r};`);
    for (let q = TQ - 1; q >= 0; q--) {
      const gi = q >> 2, a = groups[gi].length === 1 ? `a${i}_${r}_${gi}` : `a${i}_${r}_${gi}[${q & 3}]`;
      store.push(`  put(sb${i}_${r} + sgc${q}, ${a}, sok${i}_${r} & sokh${q});`);
    }
  }
  return { TM, TR, TQ, ACC: acc ? 'true' : 'false', PATCH: patch.join('\n'), WROWS: wrows.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n') };
}

/** Params of conv2d_direct.wgsl. */
interface OutputPass {
  N: number; K: number; srcH: number; srcW: number; M: number; dstH: number; dstW: number; acc: number;
  gridH: number; gridW: number; dstStride: number; phaseH: number; phaseW: number;
  inStride: number; offH: number; offW: number; wOut: number; wRed: number;
}

function outputPass(e: Engine, pass: OutputPass, step: number, tapList: Tap[], bindings: Record<number, Tensor>): void {
  if (pass.gridH <= 0 || pass.gridW <= 0) return;
  const tile = chooseOutputTile(pass.M, pass.N, pass.gridH, pass.gridW, pass.K, step, tapList);
  const u32 = [pass.N, pass.K, pass.srcH, pass.srcW, pass.M, pass.dstH, pass.dstW, pass.gridH, pass.gridW,
    pass.dstStride, pass.phaseH, pass.phaseW, pass.inStride, pass.offH, pass.offW, pass.wOut, pass.wRed];
  const inv = Math.ceil(pass.M / tile.TM) * pass.N * Math.ceil(pass.gridH / tile.TR) * Math.ceil(pass.gridW / tile.TQ);
  // A pass with no taps only writes zeros, and its shader binds dst alone.
  const used = tapList.length ? bindings : { 3: bindings[3] };
  e.dispatch({ shader: DIRECT, entry: 'output_tile', consts: outputTileCode(tile, step, tapList, pass.acc), u32, bindings: used, invocations: inv, wg: DIRECT_WG });
}

/** The direct kernels' tiles for one convolution (backward_data: its phase with the most taps). */
export function conv2dDirectPlan(g: ConvGeometry): { forward: OutputTile; backwardData: OutputTile; backwardWeight: WeightTile } {
  const f = dataPhases(g).reduce((a, b) => (b.tapList.length > a.tapList.length ? b : a));
  return {
    forward: chooseOutputTile(g.O, g.N, g.OH, g.OW, g.C, g.stride, forwardTaps(g)),
    backwardData: chooseOutputTile(g.C, g.N, f.gridH, f.gridW, g.O, 1, f.tapList),
    backwardWeight: chooseWeightTile(g),
  };
}

function forwardTaps(g: ConvGeometry): Tap[] {
  const out: Tap[] = [];
  for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) out.push({ t: kh * g.KW + kw, du: kh, dv: kw });
  return out;
}

function directForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  outputPass(e, {
    N: g.N, K: g.C, srcH: g.H, srcW: g.W, M: g.O, dstH: g.OH, dstW: g.OW, acc: 0, gridH: g.OH, gridW: g.OW,
    dstStride: 1, phaseH: 0, phaseW: 0, inStride: g.stride, offH: -g.pad, offW: -g.pad, wOut: g.C * taps(g), wRed: taps(g),
  }, g.stride, forwardTaps(g), { 1: x, 2: w, 3: y });
}

/** Kernel indices k that reach input phase ph, with the dy offset d = (ph + pad − k)/s of each. */
function phaseTaps(K: number, s: number, pad: number, ph: number): { k: number; d: number }[] {
  const out: { k: number; d: number }[] = [];
  for (let k = 0; k < K; k++) if ((((ph + pad - k) % s) + s) % s === 0) out.push({ k, d: (ph + pad - k) / s });
  return out;
}

/** One phase (ih mod s, iw mod s) of dx: its grid, the taps that reach it and their dy offsets. */
interface DataPhase { ph: number; pw: number; gridH: number; gridW: number; offH: number; offW: number; tapList: Tap[] }

function dataPhases(g: ConvGeometry): DataPhase[] {
  const s = g.stride, out: DataPhase[] = [];
  for (let ph = 0; ph < s; ph++) for (let pw = 0; pw < s; pw++) {
    const th = phaseTaps(g.KH, s, g.pad, ph), tw = phaseTaps(g.KW, s, g.pad, pw);
    const offH = th.length ? Math.min(...th.map((t) => t.d)) : 0, offW = tw.length ? Math.min(...tw.map((t) => t.d)) : 0;
    const tapList: Tap[] = [];
    for (const a of th) for (const b of tw) tapList.push({ t: a.k * g.KW + b.k, du: a.d - offH, dv: b.d - offW });
    tapList.sort((a, b) => a.du - b.du || a.dv - b.dv);
    out.push({ ph, pw, gridH: Math.ceil((g.H - ph) / s), gridW: Math.ceil((g.W - pw) / s), offH, offW, tapList });
  }
  return out;
}

function directBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  for (const f of dataPhases(g)) {
    // With no tap reaching this phase the pass only writes zeros: nothing to do when adding.
    if (f.tapList.length === 0 && acc) continue;
    outputPass(e, {
      N: g.N, K: g.O, srcH: g.OH, srcW: g.OW, M: g.C, dstH: g.H, dstW: g.W, acc,
      gridH: f.gridH, gridW: f.gridW, dstStride: g.stride, phaseH: f.ph, phaseW: f.pw,
      inStride: 1, offH: f.offH, offW: f.offW, wOut: taps(g), wRed: g.C * taps(g),
    }, 1, f.tapList, { 1: dy, 2: w, 3: dx });
  }
}

export interface WeightTile { TM: number; TC: number; Q: number; splits: number }

/** Input columns (relative to the step's first) that Q output columns touch through KW taps. */
const weightCols = (Q: number, s: number, KW: number) => {
  const cols = new Set<number>();
  for (let q = 0; q < Q; q++) for (let kw = 0; kw < KW; kw++) cols.add(q * s + kw);
  return [...cols].sort((a, b) => a - b);
};

/** The dw tile (o × c × all taps), columns per step and split-K ranges with the lowest modelled time. */
function chooseWeightTile(g: ConvGeometry): WeightTile {
  if (directTiles.weight) return directTiles.weight;
  const key = `w|${Object.values(g).join('|')}`;
  const known = plans.get(key) as WeightTile | undefined;
  if (known) return known;
  const KK = taps(g);
  let best: WeightTile = { TM: 1, TC: 1, Q: 1, splits: 1 }, bestCost = Infinity;
  for (const TM of [1, 2, 4, 8, 16]) for (const TC of [1, 2, 4, 8, 16]) for (const Q of [1, 2, 4, 8]) {
    if (TM > g.O * 2 || TC > g.C * 2 || Q > g.OW * 2) continue;
    const cols = weightCols(Q, g.stride, g.KW).length;
    const accs = TM * TC * KK, xs = TC * g.KH * cols;
    // Lines generated by weightTileCode, and the template around them.
    const lines = 70 + TM + TC + accs + 2 * Q + TM * Q + 2 * g.KH + 2 * cols + 2 * g.KH * cols + xs + accs + TM * TC * (2 + KK);
    if (accs > MAX_ACCS || lines > MAX_LINES) continue;
    const tiles = Math.ceil(g.O / TM) * Math.ceil(g.C / TC);
    const steps = g.N * g.OH * Math.ceil(g.OW / Q);
    const perStep = LOAD * (TM * Q + xs) + accs * Q;
    for (let splits = 1; splits <= 64 && splits <= steps; splits *= 2) {
      const reduce = splits > 1 ? parallelMs(g.O * g.C * KK, splits * LOAD + START) : 0;
      const run = parallelMs(tiles * splits, Math.ceil(steps / splits) * perStep + STORE * accs + START) + reduce;
      const cost = EXPECTED_CALLS * run + COMPILE_MS_PER_LINE * lines;
      if (cost < bestCost) { bestCost = cost; best = { TM, TC, Q, splits }; }
    }
  }
  plans.set(key, best);
  return best;
}

/** The unrolled blocks of conv2d_direct_dw.wgsl. */
function weightTileCode(g: ConvGeometry, tile: WeightTile, acc: number): Record<string, string | number> {
  const { TM, TC, Q } = tile, s = g.stride, KK = taps(g);
  const cols = weightCols(Q, s, g.KW);
  const setup: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) setup.push(`  let dyo${i} = min(o0 + ${i}u, p.O - 1u) * oplane;`);
  for (let c = 0; c < TC; c++) setup.push(`  let xc${c} = min(c0 + ${c}u, p.C - 1u) * plane;`);
  for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (let t = 0; t < KK; t++) accs.push(`  var a${i}_${c}_${t} = 0.0;`);
  for (let q = 0; q < Q; q++) body.push(`    let okq${q} = ow0 + ${q}u < p.OW;`, `    let dq${q} = dyb + select(0u, ${q}u, okq${q});`);
  for (let i = 0; i < TM; i++) for (let q = 0; q < Q; q++) body.push(`    let d${i}_${q} = select(0.0, dy[dq${q} + dyo${i}], okq${q});`);
  for (let kh = 0; kh < g.KH; kh++) body.push(`    let okr${kh} = (ih0 + ${kh} >= 0) & (ih0 + ${kh} < H);`, `    let ro${kh} = select(0, ih0 + ${kh}, okr${kh}) * W;`);
  for (const v of cols) body.push(`    let okc${v} = (iw0 + ${v} >= 0) & (iw0 + ${v} < W);`, `    let co${v} = select(0, iw0 + ${v}, okc${v});`);
  for (let kh = 0; kh < g.KH; kh++) for (const v of cols) body.push(`    let ok${kh}_${v} = okr${kh} & okc${v};`, `    let of${kh}_${v} = xb + u32(ro${kh} + co${v});`);
  for (let c = 0; c < TC; c++) for (let kh = 0; kh < g.KH; kh++) for (const v of cols) {
    body.push(`    let x${c}_${kh}_${v} = select(0.0, x[of${kh}_${v} + xc${c}], ok${kh}_${v});`);
  }
  for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
    const a = `a${i}_${c}_${kh * g.KW + kw}`;
    const terms = Array.from({ length: Q }, (_, q) => `d${i}_${q} * x${c}_${kh}_${q * s + kw}`);
    body.push(`    ${a} = ${a} + ${terms.join(' + ')};`);
  }
  // Branch-free stores in descending tile order, as in outputTileCode.
  for (let i = TM - 1; i >= 0; i--) for (let c = TC - 1; c >= 0; c--) {
    store.push(`  let b${i}_${c} = base + (min(o0 + ${i}u, p.O - 1u) * p.C + min(c0 + ${c}u, p.C - 1u)) * KK;`,
      `  let ok${i}_${c} = (o0 + ${i}u < p.O) & (c0 + ${c}u < p.C);`);
    for (let t = KK - 1; t >= 0; t--) store.push(`  put(b${i}_${c} + ${t}u, a${i}_${c}_${t}, ok${i}_${c});`);
  }
  return { TM, TC, Q, KK, STRIDE: s, PAD: g.pad, ACC: acc ? 'true' : 'false', SETUP: setup.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n') };
}

function directBackwardWeight(e: Engine, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const tile = chooseWeightTile(g);
  const steps = g.N * g.OH * Math.ceil(g.OW / tile.Q);
  const per = Math.ceil(steps / tile.splits);
  const splits = Math.ceil(steps / per);
  const out = splits > 1 ? e.tape.own(e.empty([splits, g.O * g.C * taps(g)])) : dw;
  const inv = splits * Math.ceil(g.O / tile.TM) * Math.ceil(g.C / tile.TC);
  e.dispatch({ shader: DIRECT_DW, entry: 'backward_weight', consts: weightTileCode(g, tile, splits > 1 ? 0 : acc),
    u32: [g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, splits, per], bindings: { 1: x, 4: dy, 6: out },
    invocations: inv, wg: DIRECT_WG });
  if (splits > 1) {
    const n = g.O * g.C * taps(g);
    e.dispatch({ shader: REDUCE, entry: 'sum_rows', u32: [splits, n, acc], bindings: { 1: out, 2: dw }, invocations: n, wg: e.kernels.wg });
  }
}
