/**
 * conv2d's 'tiled' variant for GPUs (shaders/conv2d_tiled.wgsl): each product is an implicit GEMM
 * through workgroup-memory tiles. What is decided here, per shape:
 * - the tile: the one with the least padded work among those that launch enough workgroups to
 *   fill a GPU (`fill`), else the one that launches the most;
 * - split-K for the weight gradient, whose GEMM is small (O × C·KH·KW) and deep (N·OH·OW: 131,072
 *   terms for a 32×32 map at batch 128): its k range is cut into parts, each summed by its own
 *   workgroups into a partial buffer, and the parts are added in order by reduce.wgsl. The order
 *   of every sum is fixed by the plan, never by scheduling (no atomics);
 * - backward-data by stride phases: each phase (ih mod s, iw mod s) of dx is a GEMM over only the
 *   kernel taps that reach it, so a stride-2 layer does a quarter of the products a single GEMM
 *   over the zero-interleaved dy would;
 * - vec4 loads of A where its k runs are aligned (forward: C·KH·KW a multiple of 4; backward_weight:
 *   OH·OW a multiple of 4).
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { ConvGeometry } from './conv2d';
import type { TiledTile } from './conv2d_policy';
import { CONV2D_TILED, REDUCE } from '../../shaders/kernels';

/** A product's tile, and how many parts its k range is cut into (split-K; 1 for forward and backward_data). */
export interface TiledPlan { tile: TiledTile; splits: number }

/** A split-K part sums at least this many terms (a smaller part costs more in partial sums than it saves). */
const MIN_SPLIT_DEPTH = 256;

const blockRows = (t: TiledTile) => t.TM * t.WY;
const blockCols = (t: TiledTile) => t.TN * t.WX;
const workgroups = (t: TiledTile, rows: number, cols: number) => Math.ceil(rows / blockRows(t)) * Math.ceil(cols / blockCols(t));
const floorPow2 = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));
const ceilPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export type TiledPass = 'forward' | 'backward_data' | 'backward_weight';

/** The tile (and split-K parts) for a rows × cols × depth product: forced (tests), else as the header says. */
export function tiledPlan(e: Engine, pass: TiledPass, rows: number, cols: number, depth: number): TiledPlan {
  const forced = e.kernels.conv.forced?.tiled;
  if (forced) return { tile: forced.tile, splits: pass === 'backward_weight' ? forced.splits ?? 1 : 1 };
  const { tiles, fill } = e.kernels.conv.tiled;
  const padded = (t: TiledTile) => workgroups(t, rows, cols) * blockRows(t) * blockCols(t);
  // Least padded work first; on a tie the larger tile (fewer shared loads a product) comes first.
  const byWaste = [...tiles].sort((a, b) => padded(a) - padded(b) || blockRows(b) * blockCols(b) - blockRows(a) * blockCols(a));
  const filling = byWaste.filter((t) => workgroups(t, rows, cols) >= fill);
  if (filling.length > 0) return { tile: filling[0], splits: 1 };
  if (pass !== 'backward_weight') {
    return { tile: tiles.reduce((a, b) => (workgroups(b, rows, cols) > workgroups(a, rows, cols) ? b : a)), splits: 1 };
  }
  // Split-K: each tile cut into as many parts as reach `fill` (parts of at least MIN_SPLIT_DEPTH
  // terms); the least padded tile that then fills, else the one that comes closest.
  const split = (t: TiledTile) => Math.max(1, Math.min(ceilPow2(fill / workgroups(t, rows, cols)), floorPow2(depth / MIN_SPLIT_DEPTH)));
  const launched = (t: TiledTile) => workgroups(t, rows, cols) * split(t);
  const tile = byWaste.find((t) => launched(t) >= fill) ?? byWaste.reduce((a, b) => (launched(b) > launched(a) ? b : a));
  return { tile, splits: split(tile) };
}

/** Row padding of a k-major tile whose stores run k fastest: a stride ≡ 32/BK (mod 32) puts a SIMD group's 32 stores in 32 banks. */
export function bankPad(width: number, BK: number, kFastest: boolean): number {
  if (!kFastest) return 0;
  if (BK >= 32 || 32 % BK !== 0) return width % 2 === 0 ? 1 : 0;
  return (((32 / BK - width) % 32) + 32) % 32;
}

/** A's tensor as the shader reads it, array<vec4f>: its range rounded up to 16 bytes (pool buffers and parameter views have the room). */
function vec4View(t: Tensor): GPUBufferBinding {
  const size = Math.ceil(Math.max(16, t.bytes) / 16) * 16;
  if (t.offset + size > t.buffer.size) throw new Error(`conv2d tiled: tensor ${t.name || `[${t.shape.join(', ')}]`} has no room to be read as vec4s`);
  return { buffer: t.buffer, offset: t.offset, size };
}

type Geometry = Record<string, number>;

const convOverrides = (g: ConvGeometry): Geometry => ({
  C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW, STRIDE: g.stride, PAD: g.pad,
});

/** One dispatch of a tiled product; `kSplit` terms of k a part. */
function runTiled(e: Engine, entry: TiledPass, plan: TiledPlan, gemm: { rows: number; cols: number; depth: number }, geometry: Geometry,
  vecA: boolean, N: number, acc: number, a: Tensor, b: Tensor, dst: Tensor): void {
  const { tile, splits } = plan;
  const kSplit = splits > 1 ? Math.ceil(Math.ceil(gemm.depth / splits) / tile.BK) * tile.BK : Math.max(1, gemm.depth);
  const parts = Math.max(1, Math.ceil(gemm.depth / kSplit));
  const wg = tile.WX * tile.WY;
  const overrides = {
    WX: tile.WX, WY: tile.WY, BK: tile.BK, VEC_A: vecA ? 1 : 0,
    APAD: bankPad(blockRows(tile), tile.BK, true), BPAD: bankPad(blockCols(tile), tile.BK, entry === 'backward_weight'),
    ...geometry,
  };
  e.run(CONV2D_TILED, entry, {
    consts: { TM: tile.TM, TN: tile.TN }, overrides, params: { N, acc, k_split: kSplit },
    bindings: { a: vec4View(a), b, dst }, invocations: parts * workgroups(tile, gemm.rows, gemm.cols) * wg, wg,
    flops: 2 * gemm.rows * gemm.cols * gemm.depth,
  });
}

/** y = conv(x, w): rows O, columns N·OH·OW, depth C·KH·KW. */
export function tiledForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  const gemm = { rows: g.O, cols: g.N * g.OH * g.OW, depth: g.C * g.KH * g.KW };
  const plan = tiledPlan(e, 'forward', gemm.rows, gemm.cols, gemm.depth);
  runTiled(e, 'forward', plan, gemm, convOverrides(g), gemm.depth % 4 === 0 && plan.tile.BK % 4 === 0, g.N, 0, w, x, y);
}

/** One stride phase of dx: its inputs (ih = ph + s·gh), the taps that reach them (kh = kh0 + s·i) and their dy offset. */
export interface TiledPhase { PH: number; PW: number; GH: number; GW: number; TH: number; TW: number; KH0: number; KW0: number; DH0: number; DW0: number }

export function tiledPhases(g: ConvGeometry): TiledPhase[] {
  const s = g.stride, out: TiledPhase[] = [];
  // Along one axis: kernel indices k ≡ (ph + pad) mod s reach input phase ph, at dy offset (ph + pad − k)/s.
  const axis = (ph: number, K: number, size: number) => {
    const k0 = (ph + g.pad) % s;
    return { grid: Math.ceil((size - ph) / s), taps: k0 < K ? Math.ceil((K - k0) / s) : 0, k0, d0: (ph + g.pad - k0) / s };
  };
  for (let ph = 0; ph < s; ph++) for (let pw = 0; pw < s; pw++) {
    const h = axis(ph, g.KH, g.H), w = axis(pw, g.KW, g.W);
    if (h.grid <= 0 || w.grid <= 0) continue;
    out.push({ PH: ph, PW: pw, GH: h.grid, GW: w.grid, TH: h.taps, TW: w.taps, KH0: h.k0, KW0: w.k0, DH0: h.d0, DW0: w.d0 });
  }
  return out;
}

/** dx (+)= convᵀ(dy, w), a GEMM per stride phase: rows C, columns N·GH·GW, depth O·TH·TW. */
export function tiledBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  for (const f of tiledPhases(g)) {
    const gemm = { rows: g.C, cols: g.N * f.GH * f.GW, depth: g.O * f.TH * f.TW };
    // No tap reaches this phase: its dx is 0, so there is nothing to add.
    if (gemm.depth === 0 && acc) continue;
    const plan = tiledPlan(e, 'backward_data', gemm.rows, gemm.cols, gemm.depth);
    // A phase without taps writes zeros through a GEMM of depth 0 (TAPS); its TH and TW stay
    // divisors the shader may divide by.
    const phase = { ...f, TH: Math.max(1, f.TH), TW: Math.max(1, f.TW), TAPS: f.TH * f.TW };
    runTiled(e, 'backward_data', plan, gemm, { ...convOverrides(g), ...phase }, false, g.N, acc, w, dy, dx);
  }
}

/** dw (+)= dy ⋆ x: rows O, columns C·KH·KW, depth N·OH·OW, in split-K parts added in order. */
export function tiledBackwardWeight(gr: Graph, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const e = gr.engine;
  const gemm = { rows: g.O, cols: g.C * g.KH * g.KW, depth: g.N * g.OH * g.OW };
  const plan = tiledPlan(e, 'backward_weight', gemm.rows, gemm.cols, gemm.depth);
  const vecA = (g.OH * g.OW) % 4 === 0 && plan.tile.BK % 4 === 0;
  const kSplit = Math.ceil(Math.ceil(gemm.depth / plan.splits) / plan.tile.BK) * plan.tile.BK;
  const parts = plan.splits > 1 ? Math.ceil(gemm.depth / kSplit) : 1;
  if (parts === 1) return runTiled(e, 'backward_weight', { ...plan, splits: 1 }, gemm, convOverrides(g), vecA, g.N, acc, dy, x, dw);
  const n = gemm.rows * gemm.cols, partial = gr.empty([parts, n]);
  runTiled(e, 'backward_weight', plan, gemm, convOverrides(g), vecA, g.N, 0, dy, x, partial);
  e.run(REDUCE, 'sum_rows', { params: { R: parts, C: n, acc }, bindings: { a: partial, out: dw }, invocations: n, flops: parts * n });
}
