/**
 * The direct kernels' tuning (the mechanics are src/gpu/tune.ts): plan keys as data, the jobs that
 * time a shape's candidate tiles, and the check that a cached plan fits its key. Every candidate
 * computes each output with the same operations in the same order: output tiles differ only in how
 * many results an invocation holds, dw blocks only in how many weights (rows and columns a step and
 * split-K ranges, which set the order of a sum, are never tuned).
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import type { TuneJob } from '../gpu/tune';
import type { ConvGeometry } from './conv2d';
import { LONG_RUN, MAX_ACCS, MAX_DW_ACCS, rankOutputTiles, rankWeightTiles, type OutputTile, type WeightTile } from './conv2d_direct_model';
import type { OutputPass, Tap } from './conv2d_direct_passes';

/**
 * What a direct plan depends on, as data. A tuned plan is saved with its key, so a cached plan is
 * checked against the key it was made for, never against fields cut out of a string.
 */
export type DirectPlanKey =
  | { kind: 'conv2d-output'; M: number; N: number; gridH: number; gridW: number; K: number; step: number; taps: [t: number, du: number, dv: number][] }
  | { kind: 'conv2d-weight-block'; geometry: ConvGeometry };

/** An output pass's key: its channels, images, grid, reduction channels, step and taps. */
export function outputPlanKey(M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[]): DirectPlanKey {
  return { kind: 'conv2d-output', M, N, gridH, gridW, K, step, taps: tapList.map((t) => [t.t, t.du, t.dv]) };
}

/** A weight gradient's key (its tuned o × c block): the convolution's geometry. */
export function weightBlockKey(g: ConvGeometry): DirectPlanKey {
  return { kind: 'conv2d-weight-block', geometry: { ...g } };
}

const GEOMETRY: (keyof ConvGeometry)[] = ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'OH', 'OW', 'stride', 'pad'];

/** A key's id, for maps and stores: its fields in a fixed order. */
export function planId(k: DirectPlanKey): string {
  if (k.kind === 'conv2d-output') return `o|${k.M}|${k.N}|${k.gridH}|${k.gridW}|${k.K}|${k.step}|${k.taps.map((t) => t.join(',')).join(';')}`;
  return `wt|${GEOMETRY.map((f) => k.geometry[f]).join('|')}`;
}

const sameTile = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The job that times an output pass's candidates: the model's choice first, then its best for a long
 * run (a training run's thousands of calls pay for a bigger kernel's compile), then the model's
 * next best; all give identical sums. `run` records one dispatch of a tile on the job's scratch buffers.
 */
export function outputTuneJob(e: Engine, what: string, pass: OutputPass, step: number, tapList: Tap[], tile: OutputTile,
  run: (pass: OutputPass, tile: OutputTile, bindings: { src: Tensor; w: Tensor; dst: Tensor }) => void): TuneJob<OutputTile> {
  const { M, N, gridH, gridW, K } = pass;
  return {
    label: `conv2d ${what}: ${K}→${M} channels, ${gridH}×${gridW} results, ${tapList.length} taps, batch ${N}`,
    key: outputPlanKey(M, N, gridH, gridW, K, step, tapList),
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
        run: (t: OutputTile) => run(p, t, { src, w, dst }),
        dispose: () => { for (const b of [src, w, dst]) b.dispose(); },
      };
    },
  };
}

/** The job that times a weight gradient's o × c blocks at the model's rows, columns and split-K ranges. */
export function weightTuneJob(e: Engine, g: ConvGeometry, model: WeightTile, tile: WeightTile, splits: number,
  run: (tile: WeightTile, x: Tensor, dy: Tensor, dst: Tensor) => void): TuneJob<{ TM: number; TC: number }> {
  const n = g.O * g.C * g.KH * g.KW;
  return {
    label: `conv2d backward_weight: ${g.C}→${g.O} channels, ${g.KH}×${g.KW}/${g.stride}, ${g.OH}×${g.OW} results, batch ${g.N}`,
    key: weightBlockKey(g),
    candidates: [tile, ...rankWeightTiles(e, g).filter((t) => t.R === model.R && t.Q === model.Q && t.splits === model.splits && (t.TM !== tile.TM || t.TC !== tile.TC))]
      .map((t) => ({ TM: t.TM, TC: t.TC })),
    prepare: () => {
      const xs = e.empty([g.N * g.C * g.H * g.W]), dys = e.empty([g.N * g.O * g.OH * g.OW]), dst = e.empty([splits * n]);
      e.fill(xs, 0.5);
      e.fill(dys, 0.25);
      return {
        run: (b: { TM: number; TC: number }) => run({ ...model, ...b }, xs, dys, dst),
        dispose: () => { for (const t of [xs, dys, dst]) t.dispose(); },
      };
    },
  };
}

const int = (v: unknown, max: number) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Whether a cached tuning entry is a plan these kernels can use for its key: an output tile (its
 * kernel rows looped or not) or a dw block of small positive integers within the accumulator
 * limit; the key well formed and naming the entry.
 */
export function validDirectPlan(id: string, key: unknown, plan: unknown): boolean {
  if (!isRecord(key) || !isRecord(plan)) return false;
  if (key.kind === 'conv2d-output') {
    const k = key as Extract<DirectPlanKey, { kind: 'conv2d-output' }>;
    const taps = Array.isArray(k.taps) && k.taps.every((t) => Array.isArray(t) && t.length === 3 && t.every((v) => Number.isInteger(v) && v >= 0));
    if (!taps || ![k.M, k.N, k.gridH, k.gridW, k.K, k.step].every((v) => int(v, 1 << 24)) || planId(k) !== id) return false;
    return int(plan.TM, 64) && int(plan.TN, 64) && int(plan.TR, 64) && int(plan.TQ, 64)
      && (plan.TM as number) * (plan.TN as number) * (plan.TR as number) * (plan.TQ as number) <= MAX_ACCS
      && [plan.loopRows, plan.share].every((f) => f === undefined || typeof f === 'boolean');
  }
  if (key.kind === 'conv2d-weight-block') {
    const g = key.geometry;
    if (!isRecord(g) || !GEOMETRY.every((f) => f === 'pad' ? Number.isInteger(g[f]) && (g[f] as number) >= 0 : int(g[f], 1 << 24))) return false;
    if (planId(key as DirectPlanKey) !== id) return false;
    return int(plan.TM, 16) && int(plan.TC, 16) && (plan.TM as number) * (plan.TC as number) * (g.KH as number) * (g.KW as number) <= MAX_DW_ACCS;
  }
  return false;
}
