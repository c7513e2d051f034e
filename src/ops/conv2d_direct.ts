/**
 * conv2d's 'direct' variant for CPU rasterizers (SwiftShader): register-blocked kernels with no
 * barriers, whose unrolled bodies are generated here per tile and substituted into
 * shaders/conv2d_direct*.wgsl (the generated text is part of the pipeline key). Tiles are chosen
 * per shape by a cost model fitted on SwiftShader (bench/conv2d.ts).
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import { DIRECT_LANES } from './conv2d_policy';
import type { Graph } from '../autograd/graph';
import type { EntryBindings, Kernel, ParamValues } from '../gpu/kernel';
import type { ConvGeometry } from './conv2d';
import { CONV2D_DIRECT, CONV2D_DIRECT_DW, REDUCE } from '../../shaders/kernels';
import { generated } from '../gpu/shader';

export const DIRECT_SHADERS: readonly Kernel[] = [CONV2D_DIRECT, CONV2D_DIRECT_DW, REDUCE];
const taps = (g: ConvGeometry) => g.KH * g.KW;

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
const MAX_ACCS = 512, MAX_LINES = 3200;
/**
 * dw kernels: accumulators and generated lines per kernel, at most (their block of weights pays
 * off more than an output tile's: measured on SwiftShader, 16 o × 4 c × 9 taps runs the 64-channel
 * 3×3 layers 1.3× faster than 8 × 2 × 9, for 1.5 s more compile); per step, values in use at once
 * and products (unrolled code). Past these two, measured times rise steeply (spills to the stack;
 * code that leaves the instruction cache).
 */
const MAX_DW_ACCS = 576, MAX_DW_LINES = 3200, MAX_LIVE = 200, MAX_PRODUCTS = 4608, ACCS_PER_PRODUCT = 4400;
/**
 * Kernels of at least this many rows loop over them at run time (OutputTile.loopRows). Measured on
 * SwiftShader at the same tiles: a 7×7/2 stem runs 1.3–2.5× faster looped (on 1 or 3 channels),
 * while 5×5 and 3×3 kernels run 1.5× slower (their unrolled patch is smaller, and loads it once).
 */
const LOOP_ROWS = 7;
/** The compile budget of the tuner's long-run candidate: many more calls, bigger kernels. */
const LONG_RUN = { calls: 2000, maxLines: 4000 };
/** One SIMD group per workgroup: SwiftShader spreads workgroups (in at most TASKS batches) over its threads. */
const DIRECT_WG = DIRECT_LANES;

interface Tap { t: number; du: number; dv: number }

/**
 * Modelled ms of `inv` invocations that each do `perInv` units: the workgroups are cut into at
 * most TASKS batches that run `cores` at a time. Few batches balance badly when a core is shared
 * (measured: 2 batches run ~1.5× slower than 16 on two cores), hence the (1 + 1/tasks).
 */
function parallelMs(cores: number, inv: number, perInv: number): number {
  const groups = Math.ceil(inv / DIRECT_WG), tasks = Math.min(TASKS, groups);
  return (Math.ceil(tasks / cores) * Math.ceil(groups / tasks) * perInv * (1 + 1 / tasks)) / UNITS_PER_MS;
}


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

/**
 * A result tile: TM channels × TN images × TR rows × TQ columns. With loopRows the kernel's rows
 * run as a loop at run time (only one row of taps is unrolled): a kernel with many taps and few
 * reduction channels (a 7×7 stem on one channel) then runs its code many times instead of once.
 * With share, the 4 lanes of a SIMD group share their weight loads (KernelConfig's shareWeights;
 * ignored where the device or the pass does not allow it). None changes the order of any sum.
 */
export interface OutputTile { TM: number; TN: number; TR: number; TQ: number; loopRows?: boolean; share?: boolean }

/**
 * A tap list as a grid the kernel-row loop can walk: rows of the same columns in the same order, one
 * patch row apart, whose tap indices move by tRow a row. null when the list is not such a grid.
 */
function tapRows(tapList: Tap[]): { first: Tap[]; rows: number; tRow: number } | null {
  if (tapList.length === 0) return null;
  const du0 = tapList[0].du, first = tapList.filter((t) => t.du === du0), rows = tapList.length / first.length;
  if (!Number.isInteger(rows) || rows < 2) return null;
  const tRow = tapList[first.length].t - tapList[0].t;
  const grid = tapList.every((tp, i) => {
    const k = Math.floor(i / first.length), f = first[i % first.length];
    return tp.du === du0 + k && tp.dv === f.dv && tp.t === f.t + k * tRow;
  });
  return grid ? { first, rows, tRow } : null;
}


const outputKey = (M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[]) =>
  `o|${M}|${N}|${gridH}|${gridW}|${K}|${step}|${tapList.map((t) => `${t.t},${t.du},${t.dv}`).join(';')}`;

/**
 * Result tiles (channels × images × rows × columns) by modelled run and compile time, best first.
 * The budget is what a run is assumed to pay compile time against: EXPECTED_CALLS dispatches and
 * at most MAX_LINES generated lines by default; the tuner also asks for a long run's best.
 */
function rankOutputTiles(e: Engine, M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[],
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
 * The result tile for a pass: forced (tests, benchmarks), tuned or cached (src/gpu/tune.ts), or the
 * one with the lowest modelled time.
 */
function chooseOutputTile(e: Engine, M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[],
  key = outputKey(M, N, gridH, gridW, K, step, tapList)): OutputTile {
  // A pass with no taps only stores zeros: one small shared kernel.
  if (tapList.length === 0) return { TM: 1, TN: 1, TR: 1, TQ: 4 };
  const forced = e.kernels.conv.forced?.output;
  if (forced) return forced;
  const known = e.plans.get(key) as OutputTile | undefined;
  if (known) return known;
  const best = rankOutputTiles(e, M, N, gridH, gridW, K, step, tapList)[0] ?? { TM: 1, TN: 1, TR: 1, TQ: 1 };
  e.plans.set(key, best);
  return best;
}

const vec = (n: number) => (n === 1 ? 'f32' : `vec${n}f`);

/** The unrolled blocks of conv2d_direct.wgsl for one tile and tap list (memoized). */
function outputTileCode(tile: OutputTile, step: number, tapList: Tap[], acc: number, share: boolean): Record<string, string | number> {
  const key = `${tile.TM},${tile.TN},${tile.TR},${tile.TQ},${tile.loopRows ? 'L' : ''}${share ? 'S' : ''}|${step}|${acc}|${tapList.map((t) => `${t.t}:${t.du}:${t.dv}`).join(',')}`;
  return generated(`conv-output|${key}`, () => makeOutputTileCode(tile, step, tapList, acc, share));
}

function makeOutputTileCode(tile: OutputTile, step: number, tapList: Tap[], acc: number, share: boolean): Record<string, string | number> {
  const { TM, TN, TR, TQ } = tile;
  // With shared weights, channels 4b … 4b + 3 come from one load per lane and 4 broadcasts (whole groups of 4 only).
  const shared = share ? Math.floor(TM / DIRECT_LANES) * DIRECT_LANES : 0;
  // Taps that are not rows of the same columns (one row, or some dropped as dead) stay unrolled.
  const grid = tile.loopRows ? tapRows(tapList) : null;
  const groups: number[][] = [];
  for (let q = 0; q < TQ; q += 4) groups.push(Array.from({ length: Math.min(4, TQ - q) }, (_, j) => q + j));
  const patch: string[] = [], images: string[] = [], wrows: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let j = 0; j < TN; j++) images.push(`  let sn${j} = min(n0 + ${j}u, p.N - 1u) * p.K * plane;`);
  for (let i = shared; i < TM; i++) wrows.push(`  let wr${i} = min(m0 + ${i}u, p.M - 1u) * p.wOut;`);
  for (let b = 0; b < shared; b += DIRECT_LANES) wrows.push(`  let wl${b} = min(m0 + ${b}u + lane, p.M - 1u) * p.wOut;`);
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) for (let r = 0; r < TR; r++) groups.forEach((g, gi) => accs.push(`  var a${i}_${j}_${r}_${gi} = ${vec(g.length)}();`));
  for (let j = 0; j < TN; j++) body.push(`    let s${j} = s + sn${j};`);
  // The patch: its rows and columns in range and their offsets (0 when out of range: reads stay in
  // bounds), then its values, loaded once per reduction channel (per kernel row when looped) and
  // reused by every tap that overlaps them.
  const rowChecks = (out: string[], at: (u: number) => string, rows: number[], pad: string) => {
    for (const u of rows) out.push(`${pad}let okr${u} = (${at(u)} >= 0) & (${at(u)} < H);`, `${pad}let ro${u} = select(0, ${at(u)}, okr${u}) * W;`);
  };
  const cellChecks = (out: string[], cells: [number, number][], pad: string) => {
    for (const [u, v] of cells) out.push(`${pad}let ok${u}_${v} = okr${u} & okc${v};`, `${pad}let of${u}_${v} = u32(ro${u} + co${v});`);
  };
  const loads = (out: string[], cells: [number, number][], pad: string) => {
    for (let j = 0; j < TN; j++) for (const [u, v] of cells) out.push(`${pad}let x${j}_${u}_${v} = select(0.0, src[s${j} + of${u}_${v}], ok${u}_${v});`);
  };
  const products = (out: string[], taps: Tap[], du: number, wAt: string, pad: string) => {
    for (const tp of taps) {
      for (let i = 0; i < TM; i++) {
        if (i >= shared) out.push(`${pad}let w${i}_${tp.t} = w[wr${i} + ${wAt} + ${tp.t}u];`);
        else if (i % DIRECT_LANES === 0) {
          out.push(`${pad}let wl${i}_${tp.t} = w[wl${i} + ${wAt} + ${tp.t}u];`);
          for (let j = 0; j < DIRECT_LANES; j++) out.push(`${pad}let w${i + j}_${tp.t} = subgroupBroadcast(wl${i}_${tp.t}, ${j}u);`);
        }
        for (let j = 0; j < TN; j++) for (let r = 0; r < TR; r++) {
          groups.forEach((g, gi) => {
            const xs = g.map((q) => `x${j}_${r * step + tp.du - du}_${q * step + tp.dv}`);
            out.push(`${pad}a${i}_${j}_${r}_${gi} += w${i}_${tp.t} * ${g.length === 1 ? xs[0] : `${vec(g.length)}(${xs.join(', ')})`};`);
          });
        }
      }
    }
  };
  if (grid) {
    // One kernel row a trip, rows in the tap list's order, so each sum keeps the unrolled order.
    const du0 = grid.first[0].du, t0 = Math.min(...grid.first.map((tp) => tp.t));
    const { rows, cols, cells } = usedPatch(TR, TQ, step, grid.first.map((tp) => ({ ...tp, du: 0 })));
    for (const v of cols) patch.push(`  let okc${v} = (col0 + ${v} >= 0) & (col0 + ${v} < W);`, `  let co${v} = select(0, col0 + ${v}, okc${v});`);
    body.push(`    for (var kr = 0; kr < ${grid.rows}; kr++) {`, `      let rk = row0 + ${du0} + kr;`, `      let wt = wk + u32(${t0} + kr * (${grid.tRow}));`);
    rowChecks(body, (u) => `rk + ${u}`, rows, '      ');
    cellChecks(body, cells, '      ');
    loads(body, cells, '      ');
    products(body, grid.first.map((tp) => ({ ...tp, t: tp.t - t0 })), du0, 'wt', '      ');
    body.push('    }');
  } else if (tapList.length) {
    const { rows, cols, cells } = usedPatch(TR, TQ, step, tapList);
    rowChecks(patch, (u) => `row0 + ${u}`, rows, '  ');
    for (const v of cols) patch.push(`  let okc${v} = (col0 + ${v} >= 0) & (col0 + ${v} < W);`, `  let co${v} = select(0, col0 + ${v}, okc${v});`);
    cellChecks(patch, cells, '  ');
    loads(body, cells, '    ');
    products(body, tapList, 0, 'wk', '    ');
  }
  // Branch-free stores (see put in the shader): a result outside the grid is redirected to the
  // tile's last valid one, and the stores run in descending tile order so the valid one lands last.
  for (let i = 0; i < TM; i++) store.push(`  let sm${i} = min(m0 + ${i}u, p.M - 1u);`, `  let sokm${i} = m0 + ${i}u < p.M;`);
  for (let j = 0; j < TN; j++) store.push(`  let sn${j}m = min(n0 + ${j}u, p.N - 1u) * p.M;`, `  let sokn${j} = n0 + ${j}u < p.N;`);
  for (let r = 0; r < TR; r++) {
    store.push(`  let sgr${r} = min(g0 + ${r}u, p.gridH - 1u) * p.dstStride + p.phaseH;`, `  let sokg${r} = g0 + ${r}u < p.gridH;`);
  }
  for (let q = 0; q < TQ; q++) {
    store.push(`  let sgc${q} = min(h0 + ${q}u, p.gridW - 1u) * p.dstStride + p.phaseW;`, `  let sokh${q} = h0 + ${q}u < p.gridW;`);
  }
  for (let i = TM - 1; i >= 0; i--) for (let j = TN - 1; j >= 0; j--) for (let r = TR - 1; r >= 0; r--) {
    const b = `${i}_${j}_${r}`;
    store.push(`  let sb${b} = ((sn${j}m + sm${i}) * p.dstH + sgr${r}) * p.dstW;`, `  let sok${b} = sokm${i} & sokn${j} & sokg${r};`);
    for (let q = TQ - 1; q >= 0; q--) {
      const gi = q >> 2, a = groups[gi].length === 1 ? `a${b}_${gi}` : `a${b}_${gi}[${q & 3}]`;
      store.push(`  put(sb${b} + sgc${q}, ${a}, sok${b} & sokh${q});`);
    }
  }
  return {
    TM, TN, TR, TQ, ACC: acc ? 'true' : 'false',
    ENABLE: share ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : '', LANE: share ? ', @builtin(subgroup_invocation_id) lane: u32' : '', PATCH: patch.join('\n'), IMAGES: images.join('\n'), WROWS: wrows.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n'),
  };
}

/** Params of conv2d_direct.wgsl, and whether to add into dst. */
type OutputPass = ParamValues<typeof CONV2D_DIRECT> & { acc: number };

/**
 * The taps that read inside the source for at least one result of the grid. The others only ever
 * read padding (a 3×3 conv with pad 1 on a 1×1 map, as in layer4 of a 28×28 imagenet-stem run,
 * has 8 of them): dropping them removes work, not terms, since each would add exactly 0.
 */
function liveTaps(pass: Pick<OutputPass, 'gridH' | 'gridW' | 'inStride' | 'offH' | 'offW' | 'srcH' | 'srcW'>, tapList: Tap[]): Tap[] {
  const s = pass.inStride;
  return tapList.filter((t) => reachesSource(pass.offH + t.du, s, pass.gridH, pass.srcH) && reachesSource(pass.offW + t.dv, s, pass.gridW, pass.srcW));
}

/** Whether any of the positions first, first + stride, … (count of them) lies in [0, size). */
function reachesSource(first: number, stride: number, count: number, size: number): boolean {
  for (let i = 0, at = first; i < count && at < size; i++, at += stride) if (at >= 0) return true;
  return false;
}

/** Result tiles of one channel block. */
const resultTiles = (N: number, gridH: number, gridW: number, t: OutputTile) => Math.ceil(N / t.TN) * Math.ceil(gridH / t.TR) * Math.ceil(gridW / t.TQ);

/**
 * Whether a pass's lanes can share weights: the device has subgroups of 4, the block has a group
 * of 4 channels, and its result tiles come in whole SIMD groups (so a group never spans two blocks).
 */
const canShare = (e: Engine, tiles: number, TM: number) => e.kernels.conv.shareWeights && TM >= DIRECT_LANES && tiles % DIRECT_LANES === 0;

function runOutputTile(e: Engine, pass: OutputPass, step: number, tapList: Tap[], tile: OutputTile, bindings: EntryBindings<typeof CONV2D_DIRECT, 'output_tile'>): void {
  const tiles = resultTiles(pass.N, pass.gridH, pass.gridW, tile);
  const share = tile.share === true && canShare(e, tiles, tile.TM);
  e.run(CONV2D_DIRECT, 'output_tile', { consts: outputTileCode(tile, step, tapList, pass.acc, share), params: pass, bindings,
    invocations: Math.ceil(pass.M / tile.TM) * tiles, wg: DIRECT_WG });
}

function outputPass(e: Engine, what: string, pass: OutputPass, step: number, allTaps: Tap[], bindings: EntryBindings<typeof CONV2D_DIRECT, 'output_tile'>): void {
  if (pass.gridH <= 0 || pass.gridW <= 0) return;
  const tapList = liveTaps(pass, allTaps);
  const { M, N, gridH, gridW, K } = pass;
  const key = outputKey(M, N, gridH, gridW, K, step, tapList);
  const tile = chooseOutputTile(e, M, N, gridH, gridW, K, step, tapList, key);
  runOutputTile(e, pass, step, tapList, tile, bindings);
  if (e.tuner && tapList.length && !e.kernels.conv.forced?.output) {
    e.tuner.want(key, () => ({
      label: `conv2d ${what}: ${K}→${M} channels, ${gridH}×${gridW} results, ${tapList.length} taps, batch ${N}`,
      // The model's choice first, then its best for a long run (a training run's thousands of
      // calls pay for a bigger kernel's compile), then the model's next best; all give identical sums.
      candidates: [tile, rankOutputTiles(e, M, N, gridH, gridW, K, step, tapList, LONG_RUN)[0], ...rankOutputTiles(e, M, N, gridH, gridW, K, step, tapList)]
        .filter((t, i, all) => t && all.findIndex((u) => u && sameTile(u, t)) === i),
      prepare: () => {
        const T = tapList.length;
        const src = e.empty([N * K * pass.srcH * pass.srcW]), w = e.empty([M * pass.wOut + K * pass.wRed + T]), dst = e.empty([N * M * pass.dstH * pass.dstW]);
        // Defined values (uninitialized memory may hold denormals, which are slow on CPUs).
        e.fill(src, 0.5);
        e.fill(w, 0.25);
        const p = { ...pass, acc: 0 };
        return {
          run: (t: OutputTile) => runOutputTile(e, p, step, tapList, t, { src, w, dst }),
          dispose: () => { for (const b of [src, w, dst]) b.dispose(); },
        };
      },
    }));
  }
}

const sameTile = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);

/** The direct kernels' tiles for one convolution (backward_data: its phase with the most taps). */
export function conv2dDirectPlan(e: Engine, g: ConvGeometry): { forward: OutputTile; backwardData: OutputTile; backwardWeight: WeightTile } {
  const phases = dataPhases(g).map((f) => ({ ...f, tapList: liveTaps({ ...f, inStride: 1, srcH: g.OH, srcW: g.OW }, f.tapList) }));
  const f = phases.reduce((a, b) => (b.tapList.length > a.tapList.length ? b : a));
  return {
    forward: chooseOutputTile(e, g.O, g.N, g.OH, g.OW, g.C, g.stride, liveTaps(forwardPass(g), forwardTaps(g))),
    backwardData: chooseOutputTile(e, g.C, g.N, f.gridH, f.gridW, g.O, 1, f.tapList),
    backwardWeight: chooseWeightTile(e, g),
  };
}

function forwardTaps(g: ConvGeometry): Tap[] {
  const out: Tap[] = [];
  for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) out.push({ t: kh * g.KW + kw, du: kh, dv: kw });
  return out;
}

function forwardPass(g: ConvGeometry): OutputPass {
  return {
    N: g.N, K: g.C, srcH: g.H, srcW: g.W, M: g.O, dstH: g.OH, dstW: g.OW, acc: 0, gridH: g.OH, gridW: g.OW,
    dstStride: 1, phaseH: 0, phaseW: 0, inStride: g.stride, offH: -g.pad, offW: -g.pad, wOut: g.C * taps(g), wRed: taps(g),
  };
}

export function directForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  outputPass(e, 'forward', forwardPass(g), g.stride, forwardTaps(g), { src: x, w, dst: y });
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

export function directBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  for (const f of dataPhases(g)) {
    // With no tap reaching this phase the pass only writes zeros: nothing to do when adding.
    if (f.tapList.length === 0 && acc) continue;
    outputPass(e, g.stride > 1 ? `backward_data (phase ${f.ph},${f.pw})` : 'backward_data', {
      N: g.N, K: g.O, srcH: g.OH, srcW: g.OW, M: g.C, dstH: g.H, dstW: g.W, acc,
      gridH: f.gridH, gridW: f.gridW, dstStride: g.stride, phaseH: f.ph, phaseW: f.pw,
      inStride: 1, offH: f.offH, offW: f.offW, wOut: taps(g), wRed: g.C * taps(g),
    }, 1, f.tapList, { src: dy, w, dst: dx });
  }
}

/** A dw tile: TM o × TC c weights (all taps), summed R output rows × Q columns a step, in `splits` ranges. */
export interface WeightTile { TM: number; TC: number; R: number; Q: number; splits: number }

/**
 * Kernel rows and columns that read inside x for some output position (as liveTaps): the others
 * only meet padding, their dw is 0, and nothing is loaded or summed for them.
 */
function liveKernel(g: ConvGeometry): { khs: number[]; kws: number[] } {
  const live = (K: number, out: number, size: number) => Array.from({ length: K }, (_, k) => k).filter((k) => reachesSource(k - g.pad, g.stride, out, size));
  return { khs: live(g.KH, g.OH, g.H), kws: live(g.KW, g.OW, g.W) };
}

/** Input rows or columns (relative to the step's first) that n output rows or columns touch through kernel indices ks. */
const span = (n: number, s: number, ks: number[]) =>
  [...new Set(Array.from({ length: n }, (_, q) => ks.map((k) => q * s + k)).flat())].sort((a, b) => a - b);

const weightKey = (g: ConvGeometry) => `w|${[g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.stride, g.pad].join('|')}`;

/** dw tiles (o × c × all taps, rows and columns per step, split-K ranges) by modelled run and compile time, best first. */
function rankWeightTiles(e: Engine, g: ConvGeometry): WeightTile[] {
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

/**
 * The dw tile: forced (tests, benchmarks), or the cost model's, whose o × c block a tuned plan
 * (key `wt|…`, src/gpu/tune.ts) may replace. Rows and columns per step and split-K ranges are never tuned:
 * they set the order in which each weight's terms are summed.
 */
function chooseWeightTile(e: Engine, g: ConvGeometry, key = weightKey(g)): WeightTile {
  const forced = e.kernels.conv.forced?.weight;
  if (forced) return forced;
  let model = e.plans.get(key) as WeightTile | undefined;
  if (!model) {
    model = rankWeightTiles(e, g)[0] ?? { TM: 1, TC: 1, R: 1, Q: 1, splits: 1 };
    e.plans.set(key, model);
  }
  const tuned = e.plans.get(`wt${key.slice(1)}`) as { TM: number; TC: number } | undefined;
  return tuned ? { ...model, TM: tuned.TM, TC: tuned.TC } : model;
}

/** The unrolled blocks of conv2d_direct_dw.wgsl (memoized). */
function weightTileCode(g: ConvGeometry, tile: WeightTile, acc: number): Record<string, string | number> {
  const key = `${tile.TM},${tile.TC},${tile.R},${tile.Q}|${acc}|${g.KH},${g.KW},${g.stride},${g.pad}|${g.H},${g.W},${g.OH},${g.OW}`;
  return generated(`conv-dw|${key}`, () => makeWeightTileCode(g, tile, acc));
}

function makeWeightTileCode(g: ConvGeometry, tile: WeightTile, acc: number): Record<string, string | number> {
  const { TM, TC, R, Q } = tile, s = g.stride, KK = taps(g);
  const { khs, kws } = liveKernel(g);
  const rows = span(R, s, khs), cols = span(Q, s, kws);
  const setup: string[] = [], accs: string[] = [], body: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) setup.push(`  let dyo${i} = min(o0 + ${i}u, p.O - 1u) * oplane;`);
  for (let c = 0; c < TC; c++) setup.push(`  let xc${c} = min(c0 + ${c}u, p.C - 1u) * plane;`);
  for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (let t = 0; t < KK; t++) accs.push(`  var a${i}_${c}_${t} = 0.0;`);
  // dy positions past the map (the last rows or columns of a step) read as 0, so their terms add 0.
  for (let r = 0; r < R; r++) body.push(`    let okh${r} = oh + ${r}u < p.OH;`);
  for (let q = 0; q < Q; q++) body.push(`    let okq${q} = ow0 + ${q}u < p.OW;`);
  for (let r = 0; r < R; r++) for (let q = 0; q < Q; q++) {
    body.push(`    let okd${r}_${q} = okh${r} & okq${q};`, `    let dq${r}_${q} = dyb + select(0u, ${r}u * p.OW + ${q}u, okd${r}_${q});`);
  }
  for (const u of rows) body.push(`    let okr${u} = (ih0 + ${u} >= 0) & (ih0 + ${u} < H);`, `    let ro${u} = select(0, ih0 + ${u}, okr${u}) * W;`);
  for (const v of cols) body.push(`    let okc${v} = (iw0 + ${v} >= 0) & (iw0 + ${v} < W);`, `    let co${v} = select(0, iw0 + ${v}, okc${v});`);
  const loaded = new Set<number>();
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < TM; i++) for (let q = 0; q < Q; q++) {
      body.push(`    let d${i}_${r}_${q} = select(0.0, dy[dq${r}_${q} + dyo${i}], okd${r}_${q});`);
    }
    for (const kh of khs) {
      const u = r * s + kh;
      if (loaded.has(u)) continue;
      loaded.add(u);
      for (const v of cols) body.push(`    let ok${u}_${v} = okr${u} & okc${v};`, `    let of${u}_${v} = xb + u32(ro${u} + co${v});`);
      for (let c = 0; c < TC; c++) for (const v of cols) body.push(`    let x${c}_${u}_${v} = select(0.0, x[of${u}_${v} + xc${c}], ok${u}_${v});`);
    }
    for (let i = 0; i < TM; i++) for (let c = 0; c < TC; c++) for (const kh of khs) for (const kw of kws) {
      const a = `a${i}_${c}_${kh * g.KW + kw}`;
      const terms: string[] = [];
      for (let q = 0; q < Q; q++) terms.push(`d${i}_${r}_${q} * x${c}_${r * s + kh}_${q * s + kw}`);
      body.push(`    ${a} = ${a} + ${terms.join(' + ')};`);
    }
  }
  // Branch-free stores in descending tile order, as in outputTileCode.
  for (let i = TM - 1; i >= 0; i--) for (let c = TC - 1; c >= 0; c--) {
    store.push(`  let b${i}_${c} = base + (min(o0 + ${i}u, p.O - 1u) * p.C + min(c0 + ${c}u, p.C - 1u)) * KK;`,
      `  let ok${i}_${c} = (o0 + ${i}u < p.O) & (c0 + ${c}u < p.C);`);
    for (let t = KK - 1; t >= 0; t--) store.push(`  put(b${i}_${c} + ${t}u, a${i}_${c}_${t}, ok${i}_${c});`);
  }
  return { TM, TC, R, Q, KK, STRIDE: s, PAD: g.pad, ACC: acc ? 'true' : 'false', SETUP: setup.join('\n'), ACCS: accs.join('\n'), BODY: body.join('\n'), STORE: store.join('\n') };
}

/** Split-K ranges of a dw tile: how many, and steps in each. */
function weightSplits(g: ConvGeometry, tile: WeightTile): { splits: number; per: number } {
  const steps = g.N * Math.ceil(g.OH / tile.R) * Math.ceil(g.OW / tile.Q);
  const per = Math.ceil(steps / tile.splits);
  return { splits: Math.ceil(steps / per), per };
}

/** The dw kernel's dispatch: into dst ([splits, O·C·taps] partial sums when split, else dw itself). */
function runWeightTile(e: Engine, g: ConvGeometry, tile: WeightTile, x: Tensor, dy: Tensor, dst: Tensor, acc: number): void {
  const { splits, per } = weightSplits(g, tile);
  const inv = splits * Math.ceil(g.O / tile.TM) * Math.ceil(g.C / tile.TC);
  e.run(CONV2D_DIRECT_DW, 'backward_weight', { consts: weightTileCode(g, tile, splits > 1 ? 0 : acc),
    params: { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, splits, stepsPerSplit: per },
    bindings: { x, dy, dst }, invocations: inv, wg: DIRECT_WG });
}

export function directBackwardWeight(gr: Graph, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const e = gr.engine;
  const key = weightKey(g);
  const tile = chooseWeightTile(e, g, key);
  const { splits } = weightSplits(g, tile);
  const n = g.O * g.C * taps(g);
  const out = splits > 1 ? gr.empty([splits, n]) : dw;
  runWeightTile(e, g, tile, x, dy, out, acc);
  if (splits > 1) e.run(REDUCE, 'sum_rows', { params: { R: splits, C: n, acc }, bindings: { a: out, out: dw }, invocations: n });
  if (e.tuner && !e.kernels.conv.forced?.weight) {
    // Candidates keep the model's columns per step and split-K ranges; only the o × c block varies.
    const model = e.plans.get(key) as WeightTile;
    e.tuner.want(`wt${key.slice(1)}`, () => ({
      label: `conv2d backward_weight: ${g.C}→${g.O} channels, ${g.KH}×${g.KW}/${g.stride}, ${g.OH}×${g.OW} results, batch ${g.N}`,
      candidates: [tile, ...rankWeightTiles(e, g).filter((t) => t.R === model.R && t.Q === model.Q && t.splits === model.splits && (t.TM !== tile.TM || t.TC !== tile.TC))]
        .map((t) => ({ TM: t.TM, TC: t.TC })),
      prepare: () => {
        const xs = e.empty([g.N * g.C * g.H * g.W]), dys = e.empty([g.N * g.O * g.OH * g.OW]), dst = e.empty([splits * n]);
        e.fill(xs, 0.5);
        e.fill(dys, 0.25);
        return {
          run: (b: { TM: number; TC: number }) => runWeightTile(e, g, { ...model, ...b }, xs, dys, dst, 0),
          dispose: () => { for (const t of [xs, dys, dst]) t.dispose(); },
        };
      },
    }));
  }
}

/**
 * Whether a cached tuning entry is a plan these kernels can use: an output tile (`o|…`, its kernel
 * rows looped or not) or a dw block (`wt|…`) of small positive integers within the accumulator limit.
 */
export function validDirectPlan(key: string, plan: unknown): boolean {
  const int = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
  if (typeof plan !== 'object' || plan === null) return false;
  const p = plan as Record<string, unknown>;
  if (key.startsWith('o|')) {
    return int(p.TM, 64) && int(p.TN, 64) && int(p.TR, 64) && int(p.TQ, 64) && (p.TM as number) * (p.TN as number) * (p.TR as number) * (p.TQ as number) <= MAX_ACCS
      && [p.loopRows, p.share].every((f) => f === undefined || typeof f === 'boolean');
  }
  if (key.startsWith('wt|')) {
    const [KH, KW] = key.split('|').slice(6, 8).map(Number);
    return int(p.TM, 16) && int(p.TC, 16) && (p.TM as number) * (p.TC as number) * KH * KW <= MAX_DW_ACCS;
  }
  return false;
}
