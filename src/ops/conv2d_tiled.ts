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
 * On adapters with timestamp queries (and the policy's tuneTiled, a GPU's default), the tuner
 * (src/gpu/tune.ts) times the chooser's pick against other tiles and split-K factors the first time
 * a shape runs and keeps the fastest per adapter; without timestamps the chooser's pick stands.
 * Other tiles and splits sum in other orders: a tuned run agrees with an untuned one to float32
 * rounding, not bit for bit.
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { ConvGeometry } from './conv2d';
import type { TiledTile } from './conv2d_policy';
import { CONV2D_TILED, REDUCE } from '../../shaders/kernels';
import type { TuneJob } from '../gpu/tune';

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

/** Split-K parts that bring a tile's workgroups to `fill`, each part at least MIN_SPLIT_DEPTH terms. */
const splitFor = (t: TiledTile, rows: number, cols: number, depth: number, fill: number) =>
  Math.max(1, Math.min(ceilPow2(fill / workgroups(t, rows, cols)), floorPow2(depth / MIN_SPLIT_DEPTH)));

/** The chooser's tile (and split-K parts) for a rows × cols × depth product, as the header says. */
export function modelTiledPlan(e: Engine, pass: TiledPass, rows: number, cols: number, depth: number): TiledPlan {
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
  const split = (t: TiledTile) => splitFor(t, rows, cols, depth, fill);
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

/** What a tiled plan depends on, as data (saved with a tuned plan): the product, the convolution, and backward-data's phase. */
export interface TiledPlanKey { kind: 'conv2d-tiled'; pass: TiledPass; geometry: ConvGeometry; phase: [ph: number, pw: number] | null }

const GEOMETRY: (keyof ConvGeometry)[] = ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'OH', 'OW', 'stride', 'pad'];

/** A tiled key's id, for maps and stores. */
export function tiledPlanId(k: TiledPlanKey): string {
  return `t|${k.pass}|${GEOMETRY.map((f) => k.geometry[f]).join('|')}|${k.phase ? k.phase.join(',') : '-'}`;
}

/** The operands of one product: A, B and the result (a weight gradient's parts go to scratch from `scratch`). */
interface Operands { a: Tensor; b: Tensor; dst: Tensor; acc: number; scratch: (shape: number[]) => Tensor }

/** One product of a convolution (one phase of backward_data) as a GEMM of these rows, columns and depth, with its overrides. */
function product(pass: TiledPass, g: ConvGeometry, f: TiledPhase | null): { gemm: { rows: number; cols: number; depth: number }; geometry: Geometry; vecA: (t: TiledTile) => boolean } {
  const conv = convOverrides(g);
  if (pass === 'forward') {
    const depth = g.C * g.KH * g.KW;
    return { gemm: { rows: g.O, cols: g.N * g.OH * g.OW, depth }, geometry: conv, vecA: (t) => depth % 4 === 0 && t.BK % 4 === 0 };
  }
  if (pass === 'backward_data') {
    // A phase without taps writes zeros through a GEMM of depth 0 (TAPS); its TH and TW stay
    // divisors the shader may divide by.
    const p = f!;
    const phase = { ...p, TH: Math.max(1, p.TH), TW: Math.max(1, p.TW), TAPS: p.TH * p.TW };
    return { gemm: { rows: g.C, cols: g.N * p.GH * p.GW, depth: g.O * p.TH * p.TW }, geometry: { ...conv, ...phase }, vecA: () => false };
  }
  return { gemm: { rows: g.O, cols: g.C * g.KH * g.KW, depth: g.N * g.OH * g.OW }, geometry: conv, vecA: (t) => (g.OH * g.OW) % 4 === 0 && t.BK % 4 === 0 };
}

/** Records one product at a plan: a weight gradient in split-K parts is summed into scratch, then added in order into dst. */
function runProduct(e: Engine, pass: TiledPass, g: ConvGeometry, f: TiledPhase | null, plan: TiledPlan, o: Operands): void {
  const { gemm, geometry, vecA } = product(pass, g, f);
  if (pass !== 'backward_weight') return runTiled(e, pass, { ...plan, splits: 1 }, gemm, geometry, vecA(plan.tile), g.N, o.acc, o.a, o.b, o.dst);
  const kSplit = Math.ceil(Math.ceil(gemm.depth / plan.splits) / plan.tile.BK) * plan.tile.BK;
  const parts = plan.splits > 1 ? Math.ceil(gemm.depth / kSplit) : 1;
  if (parts === 1) return runTiled(e, pass, { ...plan, splits: 1 }, gemm, geometry, vecA(plan.tile), g.N, o.acc, o.a, o.b, o.dst);
  const n = gemm.rows * gemm.cols, partial = o.scratch([parts, n]);
  runTiled(e, pass, plan, gemm, geometry, vecA(plan.tile), g.N, 0, o.a, o.b, partial);
  e.run(REDUCE, 'sum_rows', { params: { R: parts, C: n, acc: o.acc, inner: 1 }, bindings: { a: partial, out: o.dst }, invocations: n, flops: parts * n });
}

/**
 * The plan for a product: forced (tests), tuned or cached, else the chooser's, which the tuner then
 * times against other tiles and splits where the policy and the adapter allow (see the header).
 */
function planFor(e: Engine, pass: TiledPass, g: ConvGeometry, f: TiledPhase | null): TiledPlan {
  const cfg = e.kernels.conv;
  if (cfg.forced?.tiled) return { tile: cfg.forced.tiled.tile, splits: pass === 'backward_weight' ? cfg.forced.tiled.splits ?? 1 : 1 };
  const key: TiledPlanKey = { kind: 'conv2d-tiled', pass, geometry: { ...g }, phase: f ? [f.PH, f.PW] : null };
  const id = tiledPlanId(key);
  const { gemm } = product(pass, g, f);
  let plan = e.plans.get(id) as TiledPlan | undefined;
  if (!plan) e.plans.set(id, (plan = modelTiledPlan(e, pass, gemm.rows, gemm.cols, gemm.depth)));
  // The tuner queues each id once, and never one it loaded from its store.
  if (e.tuner && cfg.tuneTiled && e.device.features.has('timestamp-query') && gemm.depth > 0) {
    e.tuner.want(id, () => tiledTuneJob(e, key, f, modelTiledPlan(e, pass, gemm.rows, gemm.cols, gemm.depth)));
  }
  return plan;
}

/**
 * The tuner's job for one product: the chooser's plan first, then (for a weight gradient) twice and
 * half its split-K parts, then the other tiles at their own splits; timed on scratch operands.
 */
function tiledTuneJob(e: Engine, key: TiledPlanKey, f: TiledPhase | null, model: TiledPlan): TuneJob<TiledPlan> {
  const { pass, geometry: g } = key;
  const { gemm } = product(pass, g, f);
  const { tiles, fill } = e.kernels.conv.tiled;
  const dw = pass === 'backward_weight', maxSplits = Math.max(1, Math.ceil(gemm.depth / model.tile.BK));
  const candidates: TiledPlan[] = [model];
  if (dw) {
    if (model.splits * 2 <= maxSplits) candidates.push({ tile: model.tile, splits: model.splits * 2 });
    if (model.splits > 1) candidates.push({ tile: model.tile, splits: model.splits / 2 });
  }
  for (const t of tiles) if (t !== model.tile) candidates.push({ tile: t, splits: dw ? splitFor(t, gemm.rows, gemm.cols, gemm.depth, fill) : 1 });
  const unique = candidates.filter((c, i) => candidates.findIndex((d) => JSON.stringify(d) === JSON.stringify(c)) === i);
  const size = { x: g.N * g.C * g.H * g.W, w: g.O * g.C * g.KH * g.KW, y: g.N * g.O * g.OH * g.OW };
  return {
    label: `conv2d tiled ${pass}${f ? ` (phase ${f.PH},${f.PW})` : ''}: ${g.C}→${g.O} channels, ${g.KH}×${g.KW}/${g.stride}, ${g.OH}×${g.OW} results, batch ${g.N}`,
    key,
    candidates: unique,
    prepare: () => {
      const [a, b, dst] = pass === 'forward' ? [size.w, size.x, size.y] : pass === 'backward_data' ? [size.w, size.y, size.x] : [size.y, size.x, size.w];
      const ts = [e.empty([a]), e.empty([b]), e.empty([dst])];
      const scratch: Tensor[] = [];
      for (const [i, t] of ts.entries()) e.fill(t, i === 0 ? 0.25 : 0.5);
      const o: Operands = { a: ts[0], b: ts[1], dst: ts[2], acc: 0, scratch: (shape) => {
        const t = e.empty(shape);
        scratch.push(t);
        return t;
      } };
      return {
        run: (plan: TiledPlan) => runProduct(e, pass, g, f, plan, o),
        dispose: () => { for (const t of [...ts, ...scratch]) t.dispose(); },
      };
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const int = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;

/**
 * Whether a cached entry is a tiled plan for its key: a tile of at most 256 invocations whose staged
 * tiles fit WebGPU's guaranteed 16 KB of workgroup memory, and split-K parts only for weight gradients.
 */
export function validTiledPlan(id: string, key: unknown, plan: unknown): boolean {
  if (!isRecord(key) || key.kind !== 'conv2d-tiled' || !isRecord(plan) || !isRecord(plan.tile)) return false;
  const g = key.geometry, phase = key.phase;
  if (!['forward', 'backward_data', 'backward_weight'].includes(key.pass as string) || !isRecord(g)) return false;
  if (!GEOMETRY.every((f) => (f === 'pad' ? Number.isInteger(g[f]) && (g[f] as number) >= 0 : int(g[f], 1 << 24)))) return false;
  if (!(phase === null || (Array.isArray(phase) && phase.length === 2 && phase.every((v) => Number.isInteger(v) && v >= 0)))) return false;
  if (tiledPlanId(key as unknown as TiledPlanKey) !== id) return false;
  const t = plan.tile as Record<string, unknown>;
  if (![t.WX, t.WY].every((v) => int(v, 256)) || ![t.TM, t.TN].every((v) => int(v, 16)) || !int(t.BK, 64)) return false;
  const tile = t as unknown as TiledTile;
  if (tile.WX * tile.WY > 256) return false;
  const bytes = 4 * tile.BK * (blockRows(tile) + bankPad(blockRows(tile), tile.BK, true) + blockCols(tile) + bankPad(blockCols(tile), tile.BK, true));
  return bytes <= 16384 && int(plan.splits, 4096) && (key.pass === 'backward_weight' || plan.splits === 1);
}

/** y = conv(x, w): rows O, columns N·OH·OW, depth C·KH·KW. */
export function tiledForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  runProduct(e, 'forward', g, null, planFor(e, 'forward', g, null), { a: w, b: x, dst: y, acc: 0, scratch: (s) => e.empty(s) });
}

/** dx (+)= convᵀ(dy, w), a GEMM per stride phase: rows C, columns N·GH·GW, depth O·TH·TW. */
export function tiledBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  for (const f of tiledPhases(g)) {
    // No tap reaches this phase: its dx is 0, so there is nothing to add.
    if (f.TH * f.TW === 0 && acc) continue;
    runProduct(e, 'backward_data', g, f, planFor(e, 'backward_data', g, f), { a: w, b: dy, dst: dx, acc, scratch: (s) => e.empty(s) });
  }
}

/** dw (+)= dy ⋆ x: rows O, columns C·KH·KW, depth N·OH·OW, in split-K parts added in order. */
export function tiledBackwardWeight(gr: Graph, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const e = gr.engine;
  runProduct(e, 'backward_weight', g, null, planFor(e, 'backward_weight', g, null), { a: dy, b: x, dst: dw, acc, scratch: (s) => gr.empty(s) });
}
