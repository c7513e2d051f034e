/**
 * The direct kernels' cost model (src/ops/conv2d_direct.ts), fitted to SwiftShader: it ranks every
 * output tile and dw tile for a shape by modelled run and compile time; its first choice is the
 * deterministic default, its next ones the tuner's candidates.
 */
import type { Engine } from '../gpu/engine';
import type { ConvGeometry } from './conv2d';
import { DIRECT_LANES } from './conv2d_policy';
import { liveKernel, resultTiles, span, taps, tapRows, usedPatch, type Tap } from './conv2d_direct_passes';

// ---- direct kernels (CPU rasterizers) ----------------------------------------------------------
// Tiles are chosen by a cost model in units of one 4-lane multiply-add (~3.6 cycles on SwiftShader's
// Subzero JIT), fitted to measurements (bench/conv2d.ts): a storage load, a per-lane gather, costs
// ~10; per invocation, each accumulator costs ~80 to store (a read and a write of dst), each patch
// cell ~13 to set up, and starting the invocation ~2100. A core does ~720k units a ms. Compiling
// costs ~0.5 ms per generated line, once, so a bigger tile must pay for itself over EXPECTED_CALLS.
const LOAD = 10, STORE = 80, CELL = 13, START = 2100, UNITS_PER_MS = 720_000;
/**
 * A subgroupBroadcast: about a third of a load (bench/subgroups.ts: 0.8 against 2.6 ns a SIMD
 * group). Lanes share weights only in blocks of at most SHARE_MAX_ACCS results (see rankOutputTiles).
 */
const BROADCAST = 3, SHARE_MAX_ACCS = 128;
const TASKS = 16;
const EXPECTED_CALLS = 100, COMPILE_MS_PER_LINE = 0.5;
/**
 * Accumulators per invocation and generated lines per kernel, at most. Measured on SwiftShader at
 * ResNet-18's width-1 layers: blocks of 512 (e.g. 8 channels × 8 × 8 results) run 10–25% faster
 * than the best of 256, for about 1 s more compile per kernel, which the cost model weighs.
 */
export const MAX_ACCS = 512, MAX_LINES = 3200;
/**
 * dw kernels: accumulators and generated lines per kernel, at most (their block of weights pays
 * off more than an output tile's: measured on SwiftShader, 16 o × 4 c × 9 taps runs the 64-channel
 * 3×3 layers 1.3× faster than 8 × 2 × 9, for 1.5 s more compile); per step, values in use at once
 * and products (unrolled code). Past these two, measured times rise steeply (spills to the stack;
 * code that leaves the instruction cache).
 */
export const MAX_DW_ACCS = 576, MAX_DW_LINES = 3200, MAX_LIVE = 200, MAX_PRODUCTS = 4608, ACCS_PER_PRODUCT = 4400;
/**
 * Kernels of at least this many rows loop over them at run time (OutputTile.loopRows). Measured on
 * SwiftShader at the same tiles: a 7×7/2 stem runs 1.3–2.5× faster looped (on 1 or 3 channels),
 * while 5×5 and 3×3 kernels run 1.5× slower (their unrolled patch is smaller, and loads it once).
 */
const LOOP_ROWS = 7;
/** The compile budget of the tuner's long-run candidate: many more calls, bigger kernels. */
export const LONG_RUN = { calls: 2000, maxLines: 4000 };
/** One SIMD group per workgroup: SwiftShader spreads workgroups (in at most TASKS batches) over its threads. */
export const DIRECT_WG = DIRECT_LANES;

/**
 * Modelled ms of `inv` invocations that each do `perInv` units: the workgroups are cut into at
 * most TASKS batches that run `cores` at a time. Few batches balance badly when a core is shared
 * (measured: 2 batches run ~1.5× slower than 16 on two cores), hence the (1 + 1/tasks).
 */
export function parallelMs(cores: number, inv: number, perInv: number): number {
  const groups = Math.ceil(inv / DIRECT_WG), tasks = Math.min(TASKS, groups);
  return (Math.ceil(tasks / cores) * Math.ceil(groups / tasks) * perInv * (1 + 1 / tasks)) / UNITS_PER_MS;
}


/**
 * A result tile: TM channels × TN images × TR rows × TQ columns. With loopRows the kernel's rows
 * run as a loop at run time (only one row of taps is unrolled): a kernel with many taps and few
 * reduction channels (a 7×7 stem on one channel) then runs its code many times instead of once.
 * With share, the 4 lanes of a SIMD group share their weight loads (KernelConfig's shareWeights;
 * ignored where the device or the pass does not allow it). None changes the order of any sum.
 */
export interface OutputTile { TM: number; TN: number; TR: number; TQ: number; loopRows?: boolean; share?: boolean }

/**
 * Result tiles (channels × images × rows × columns) by modelled run and compile time, best first.
 * The budget is what a run is assumed to pay compile time against: EXPECTED_CALLS dispatches and
 * at most MAX_LINES generated lines by default; the tuner also asks for a long run's best.
 */
export function rankOutputTiles(e: Engine, M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[],
  budget = { calls: EXPECTED_CALLS, maxLines: MAX_LINES }): OutputTile[] {
  const T = tapList.length;
  const ms = [...new Set([1, 2, 4, 8, 16, ...(M < 16 ? [M] : [])])].filter((m) => m <= M * 2);
  const rs = [...new Set([1, 2, 4, 8, ...(gridH <= 8 ? [gridH] : [])])].filter((r) => r <= gridH * 2);
  const qs = [...new Set([1, 2, 4, 8, ...(gridW <= 8 ? [gridW] : [])])].filter((q) => q <= gridW * 2);
  // Several images per invocation only where a tile would otherwise cover little of a small map.
  const ns = [1, 2, 4, 8].filter((n) => n <= N && (n === 1 || gridH * gridW <= 16));
  const grid = tapRows(tapList), loop = grid !== null && grid.rows >= LOOP_ROWS;
  const ranked: { tile: OutputTile; cost: number }[] = [];
  for (const TM of ms) for (const TN of ns) for (const TR of rs) for (const TQ of qs) {
    const accs = TM * TN * TR * TQ, G = Math.ceil(TQ / 4);
    if (accs > MAX_ACCS) continue;
    const tiles = resultTiles(N, gridH, gridW, { TM, TN, TR, TQ }), inv = Math.ceil(M / TM) * tiles;
    // Shared weights only for small blocks: measured on SwiftShader, they make blocks of 28–64
    // results 10–35% faster and blocks of 256–512 results 25–45% slower.
    const shares = canShare(e, tiles, TM) && accs <= SHARE_MAX_ACCS ? [false, true] : [false];
    // Lines generated by outputTileCode (the patch's checks, its loads, the products of `tapsRun`
    // taps, the stores), and the template around them.
    const lines = (checks: number, cells: number, tapsRun: number) => 60 + checks + TM + 2 * TN + TM * TN * TR * G + TN * (1 + cells)
      + tapsRun * TM * (1 + TN * TR * G) + 2 * (TM + TN + TR + TQ) + TM * TN * TR * (2 + TQ);
    const cost = (perInv: number, n: number) => budget.calls * parallelMs(e.kernels.cores, inv, perInv) + COMPILE_MS_PER_LINE * n;
    const { rows, cols, cells } = usedPatch(TR, TQ, step, tapList);
    const unrolled = lines(2 * (rows.length + cols.length + cells.length), cells.length, T);
    // Kernel rows looped: a row's patch is loaded (and its cells set up) every trip, but the code
    // is a row of taps long.
    const row = loop ? usedPatch(TR, TQ, step, grid.first.map((tp) => ({ ...tp, du: 0 }))) : null;
    const looped = row ? lines(2 * (TR + row.cols.length + row.cells.length) + 4, row.cells.length, grid!.first.length) : 0;
    for (const share of shares) {
      // Per tap, the block's weights: a load each, or with shared weights a load per 4 lanes and a
      // broadcast each (one more line of code per 4 channels).
      const weights = share ? (LOAD * TM) / DIRECT_LANES + BROADCAST * TM : LOAD * TM;
      const extra = (tapsRun: number) => (share ? tapsRun * Math.floor(TM / DIRECT_LANES) : 0);
      const flags = { ...(loop ? { loopRows: true } : {}), ...(share ? { share: true } : {}) };
      if (!loop && unrolled + extra(T) <= budget.maxLines) {
        const perK = weights * T + LOAD * TN * cells.length + accs * T;
        ranked.push({ tile: { TM, TN, TR, TQ, ...flags }, cost: cost(K * perK + STORE * accs + CELL * cells.length + START, unrolled + extra(T)) });
      }
      if (row && looped + extra(grid!.first.length) <= budget.maxLines) {
        const perK = grid!.rows * (weights * grid!.first.length + LOAD * TN * row.cells.length + CELL * row.cells.length) + accs * T;
        ranked.push({ tile: { TM, TN, TR, TQ, ...flags }, cost: cost(K * perK + STORE * accs + START, looped + extra(grid!.first.length)) });
      }
    }
  }
  return ranked.sort((a, b) => a.cost - b.cost).map((r) => r.tile);
}

/**
 * Whether a pass's lanes can share weights: the device has subgroups of 4, the block has a group
 * of 4 channels, and its result tiles come in whole SIMD groups (so a group never spans two blocks).
 */
export const canShare = (e: Engine, tiles: number, TM: number) => e.kernels.conv.shareWeights && TM >= DIRECT_LANES && tiles % DIRECT_LANES === 0;

/** A dw tile: TM o × TC c weights (all taps), summed R output rows × Q columns a step, in `splits` ranges. */
export interface WeightTile { TM: number; TC: number; R: number; Q: number; splits: number }

/** dw tiles (o × c × all taps, rows and columns per step, split-K ranges) by modelled run and compile time, best first. */
export function rankWeightTiles(e: Engine, g: ConvGeometry): WeightTile[] {
  const KK = taps(g), { khs, kws } = liveKernel(g);
  const ranked: { tile: WeightTile; cost: number }[] = [];
  for (const TM of [1, 2, 4, 8, 16]) for (const TC of [1, 2, 4, 8, 16]) for (const R of [1, 2, 4]) for (const Q of [1, 2, 4, 8]) {
    if (TM > g.O * 2 || TC > g.C * 2 || R > g.OH || Q > g.OW * 2) continue;
    const rows = span(R, g.stride, khs).length, cols = span(Q, g.stride, kws).length;
    const accs = TM * TC * KK, xs = TC * rows * cols, ds = TM * R * Q;
    // Lines generated by weightTileCode, and the template around them.
    const lines = 70 + TM + TC + accs + 2 * Q + R * (1 + 2 * Q) + ds + 2 * rows + 2 * cols + 2 * rows * cols + xs + R * accs + TM * TC * (2 + KK);
    // Values one output row's products use (its dy, and the input rows it reads), and products a step.
    const live = TM * Q + TC * khs.length * cols, products = accs * R * Q;
    if (accs > MAX_DW_ACCS || lines > MAX_DW_LINES || live > MAX_LIVE || products > MAX_PRODUCTS) continue;
    const tiles = Math.ceil(g.O / TM) * Math.ceil(g.C / TC);
    const steps = g.N * Math.ceil(g.OH / R) * Math.ceil(g.OW / Q);
    // Loads and products; a product costs more the more accumulators there are (they live on the
    // stack). Fitted to the times of 25 forced tiles at a 64-channel 3×3 layer, 32×32, batch 8.
    const perStep = LOAD * (ds + xs) + products * (1 + accs / ACCS_PER_PRODUCT);
    for (let splits = 1; splits <= 64 && splits <= steps; splits *= 2) {
      const reduce = splits > 1 ? parallelMs(e.kernels.cores, g.O * g.C * KK, splits * LOAD + START) : 0;
      const run = parallelMs(e.kernels.cores, tiles * splits, Math.ceil(steps / splits) * perStep + STORE * accs + START) + reduce;
      ranked.push({ tile: { TM, TC, R, Q, splits }, cost: EXPECTED_CALLS * run + COMPILE_MS_PER_LINE * lines });
    }
  }
  return ranked.sort((a, b) => a.cost - b.cost).map((r) => r.tile);
}
