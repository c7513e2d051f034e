/**
 * conv2d's 'direct' variant for CPU rasterizers (SwiftShader): register-blocked kernels with no
 * barriers, whose unrolled bodies are generated per tile and substituted into
 * shaders/conv2d_direct*.wgsl (the generated text is part of the pipeline key). This file
 * dispatches them: each product's passes, the tile each pass gets (forced, tuned or cached, else
 * the cost model's first choice), and the tuning jobs of shapes met for the first time. The jobs'
 * parts: pass geometry (conv2d_direct_passes.ts), cost model (conv2d_direct_model.ts), code
 * generators (conv2d_direct_code.ts), tuning jobs, plan keys and cache checks (conv2d_direct_tune.ts).
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { EntryBindings, Kernel } from '../gpu/kernel';
import type { ConvGeometry } from './conv2d';
import { CONV2D_DIRECT, CONV2D_DIRECT_DW, REDUCE } from '../../shaders/kernels';
import { DIRECT_WG, canShare, rankOutputTiles, rankWeightTiles, type OutputTile, type WeightTile } from './conv2d_direct_model';
import { outputTileCode, weightTileCode } from './conv2d_direct_code';
import { dataPhases, forwardPass, forwardTaps, liveTaps, resultTiles, taps, weightSplits, type OutputPass, type Tap } from './conv2d_direct_passes';
import { outputPlanKey, outputTuneJob, planId, weightBlockKey, weightTuneJob } from './conv2d_direct_tune';

export type { OutputTile, WeightTile };
export { validDirectPlan } from './conv2d_direct_tune';

export const DIRECT_SHADERS: readonly Kernel[] = [CONV2D_DIRECT, CONV2D_DIRECT_DW, REDUCE];

/**
 * The result tile for a pass: forced (tests, benchmarks), tuned or cached (src/gpu/tune.ts), or the
 * one with the lowest modelled time.
 */
function chooseOutputTile(e: Engine, M: number, N: number, gridH: number, gridW: number, K: number, step: number, tapList: Tap[],
  id = planId(outputPlanKey(M, N, gridH, gridW, K, step, tapList))): OutputTile {
  // A pass with no taps only stores zeros: one small shared kernel.
  if (tapList.length === 0) return { TM: 1, TN: 1, TR: 1, TQ: 4 };
  const forced = e.kernels.conv.forced?.output;
  if (forced) return forced;
  const known = e.plans.get(id) as OutputTile | undefined;
  if (known) return known;
  const best = rankOutputTiles(e, M, N, gridH, gridW, K, step, tapList)[0] ?? { TM: 1, TN: 1, TR: 1, TQ: 1 };
  e.plans.set(id, best);
  return best;
}

function runOutputTile(e: Engine, pass: OutputPass, step: number, tapList: Tap[], tile: OutputTile, bindings: EntryBindings<typeof CONV2D_DIRECT, 'output_tile'>): void {
  const tiles = resultTiles(pass.N, pass.gridH, pass.gridW, tile);
  const share = tile.share === true && canShare(e, tiles, tile.TM);
  e.run(CONV2D_DIRECT, 'output_tile', { consts: outputTileCode(tile, step, tapList, pass.acc, share), params: pass, bindings,
    invocations: Math.ceil(pass.M / tile.TM) * tiles, wg: DIRECT_WG, flops: 2 * pass.M * pass.N * pass.gridH * pass.gridW * pass.K * tapList.length });
}

function outputPass(e: Engine, what: string, pass: OutputPass, step: number, allTaps: Tap[], bindings: EntryBindings<typeof CONV2D_DIRECT, 'output_tile'>): void {
  if (pass.gridH <= 0 || pass.gridW <= 0) return;
  const tapList = liveTaps(pass, allTaps);
  const { M, N, gridH, gridW, K } = pass;
  const id = planId(outputPlanKey(M, N, gridH, gridW, K, step, tapList));
  const tile = chooseOutputTile(e, M, N, gridH, gridW, K, step, tapList, id);
  runOutputTile(e, pass, step, tapList, tile, bindings);
  if (e.tuner && tapList.length && !e.kernels.conv.forced?.output) {
    e.tuner.want(id, () => outputTuneJob(e, what, pass, step, tapList, tile, (p, t, b) => runOutputTile(e, p, step, tapList, t, b)));
  }
}

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

export function directForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  outputPass(e, 'forward', forwardPass(g), g.stride, forwardTaps(g), { src: x, w, dst: y });
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

/** The cost model's memo of a weight gradient's tile (never cached: the tuner keeps only its o × c block). */
const weightModelId = (g: ConvGeometry) => `w|${[g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.stride, g.pad].join('|')}`;

/**
 * The dw tile: forced (tests, benchmarks), or the cost model's, whose o × c block a tuned plan
 * (key `wt|…`, src/gpu/tune.ts) may replace. Rows and columns per step and split-K ranges are never tuned:
 * they set the order in which each weight's terms are summed.
 */
function chooseWeightTile(e: Engine, g: ConvGeometry, key = weightModelId(g)): WeightTile {
  const forced = e.kernels.conv.forced?.weight;
  if (forced) return forced;
  let model = e.plans.get(key) as WeightTile | undefined;
  if (!model) {
    model = rankWeightTiles(e, g)[0] ?? { TM: 1, TC: 1, R: 1, Q: 1, splits: 1 };
    e.plans.set(key, model);
  }
  const tuned = e.plans.get(planId(weightBlockKey(g))) as { TM: number; TC: number } | undefined;
  return tuned ? { ...model, TM: tuned.TM, TC: tuned.TC } : model;
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
  const key = weightModelId(g);
  const tile = chooseWeightTile(e, g, key);
  const { splits } = weightSplits(g, tile);
  const n = g.O * g.C * taps(g);
  const out = splits > 1 ? gr.empty([splits, n]) : dw;
  runWeightTile(e, g, tile, x, dy, out, acc);
  if (splits > 1) e.run(REDUCE, 'sum_rows', { params: { R: splits, C: n, acc, inner: 1 }, bindings: { a: out, out: dw }, invocations: n });
  if (e.tuner && !e.kernels.conv.forced?.weight) {
    // Candidates keep the model's columns per step and split-K ranges; only the o × c block varies.
    const model = e.plans.get(key) as WeightTile;
    e.tuner.want(planId(weightBlockKey(g)), () => weightTuneJob(e, g, model, tile, splits, (t, xs, dys, dst) => runWeightTile(e, g, t, xs, dys, dst, 0)));
  }
}
