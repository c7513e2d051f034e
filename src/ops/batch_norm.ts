/**
 * batch_norm: BatchNorm2d over NCHW (shaders/batch_norm.wgsl). Training mode normalises with the
 * batch statistics (biased variance) and, unless the layer's running statistics are frozen,
 * updates the running estimates with momentum (unbiased variance) and counts the batch in the
 * layer's own num_batches_tracked, as PyTorch does. Eval mode uses the running estimates.
 * Backward in training mode goes through the batch statistics:
 *   dx = γ·invstd/M·(M·dy − Σdy − x̂·Σdy·x̂),  dγ = Σdy·x̂,  dβ = Σdy;
 * in eval mode the running statistics are constants (what gradient attribution of a trained
 * network differentiates): dx = γ·invstd·dy, dγ = Σdy·x̂, dβ = Σdy.
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { BATCH_NORM, BATCH_NORM_CHUNKED, BATCH_NORM_SPLIT } from '../../shaders/kernels';
import { generated } from '../gpu/shader';
import { registerKernelPolicy } from '../gpu/engine';

declare module '../gpu/engine' {
  interface KernelConfig {
    /**
     * Batch norm's training-mode kernels: 'chunked' (each channel cut into chunks, a workgroup a
     * chunk, combined per channel; vec4 loads; GPUs) or 'split' (per-plane then per-channel
     * partial sums, unrolled per shape, no barriers; CPU rasterizers).
     */
    batchNorm: 'chunked' | 'split';
    /**
     * Per-channel reductions of the evaluation backward: about this many values an invocation, in
     * a workgroup of 4 to `wg` invocations (CPU rasterizers, where each barrier of the sum costs a
     * switch per 4 invocations); null: always `wg` (GPUs).
     */
    valuesPerInvocation: number | null;
  }
}

registerKernelPolicy('batch_norm', (a) => ({ batchNorm: a.software ? 'split' : 'chunked', valuesPerInvocation: a.software ? 16 : null }));

/**
 * A BN layer's state besides its weights: running statistics and batch count. What a training
 * step does with them is the layer's own choice, independent of whether its weights train:
 * - 'update' (the default, PyTorch's train() behaviour): normalise with the batch statistics and
 *   move the running ones;
 * - 'freeze': normalise with the batch statistics, keep the running ones bit-identical;
 * - 'eval': normalise with the running statistics even in training mode, so the layer is a fixed
 *   affine map, as it is at inference (how surgical correction treats the layers it leaves alone:
 *   a retrained layer upstream then learns against the statistics the network is evaluated with).
 */
export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  /** Training batches this layer has normalised with updates on (torchvision's num_batches_tracked). */
  batchesTracked: number;
  running: 'update' | 'freeze' | 'eval';
}

export interface BatchNormOptions {
  training: boolean;
  /**
   * Fuse a ReLU after the normalisation: y = max(BN(x), 0), and the backward masks dy by [y > 0]
   * in the same passes (no separate relu dispatches, no pre-activation tensor).
   */
  relu?: boolean;
  momentum?: number;
  eps?: number;
}

interface BnAttrs extends BatchNormOptions { state: BatchNormState }
/** stats: the batch's (mean, invstd) per channel in training mode; null in eval mode. */
interface BnSaved { x: Tensor; y: Tensor; gamma: Tensor; beta: Tensor; stats: Tensor | null; state: BatchNormState; eps: number; momentum: number; relu: number }

/**
 * Invocations per channel's workgroup. Each workgroup sums its channel's M values with a tree in
 * workgroup memory, log2(WG) barriers a sum; on CPU rasterizers a barrier switches every group of
 * 4 invocations, so a channel with few values (layer4: M = N·4·4) wants a small workgroup: about
 * KernelConfig.valuesPerInvocation values an invocation, between 4 and the engine's WG. GPUs keep
 * the engine's WG.
 */
function channelWorkgroup(e: Engine, M: number): number {
  const per = e.kernels.valuesPerInvocation;
  if (per === null) return e.kernels.wg;
  let wg = 4;
  while (wg < e.kernels.wg && wg * per < M) wg *= 2;
  return wg;
}

/**
 * The chunked kernels (GPUs, shaders/batch_norm_chunked.wgsl) for one shape: each channel's values
 * cut into chunks so that a layer launches at least about CHUNK_FILL workgroups (a GPU's SMs, a few
 * times over), but no chunk smaller than MIN_CHUNK loads; vec4 loads where a plane's size allows.
 */
const CHUNK_FILL = 512, MIN_CHUNK = 1024;

interface ChunkedPlan { consts: Record<string, string | number>; overrides: { C: number; HW: number; CHUNKS: number }; wg: number; values: number }

export function batchNormChunkedPlan(N: number, C: number, HW: number): ChunkedPlan {
  const lanes = HW % 4 === 0 ? 4 : 1, hw = HW / lanes, m = N * hw;
  const chunks = Math.max(1, Math.min(Math.ceil(CHUNK_FILL / C), Math.floor(m / MIN_CHUNK)));
  // About 4 loads a lane at least: a small chunk gets a smaller workgroup.
  const wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(m / chunks / 4)))));
  const consts = generated(`batch_norm_chunked|${lanes}`, () => ({
    V: lanes === 4 ? 'vec4f' : 'f32', LANES: lanes, HSUM: lanes === 4 ? 'v.x + v.y + v.z + v.w' : 'v',
  }));
  return { consts, overrides: { C, HW: hw, CHUNKS: chunks }, wg, values: N * C * hw };
}

/** Planes of at most this many values are held in registers by the split kernels' plane passes. */
const SMALL_PLANE = 32;
/** Values one elementwise invocation of the split kernels handles, at most. */
const MAX_RUN = 16;

const largestDivisor = (n: number, atMost: number) => {
  let d = Math.max(1, Math.min(atMost, n));
  while (n % d !== 0) d--;
  return d;
};

/**
 * The unrolled blocks of shaders/batch_norm_split.wgsl for one shape (memoized). Each value goes
 * through the same operations in the same order as a loop would take it, so the unrolling changes
 * no bit of any result.
 */
export function batchNormSplitCode(N: number, C: number, HW: number, relu: boolean): Record<string, string | number> {
  return generated(`batch_norm_split|${N},${C},${HW},${relu}`, () => makeSplitCode(N, C, HW, relu));
}

function makeSplitCode(N: number, C: number, HW: number, relu: boolean): Record<string, string | number> {
  const RUN = largestDivisor(HW, MAX_RUN), IMGS = largestDivisor(N, Math.floor(MAX_RUN / RUN));
  // The fused ReLU is written into the code rather than taken from batch_norm_io.wgsl's grad_out
  // and activate, whose uniform branch per value made backward_apply and plane_grads about 30%
  // slower on SwiftShader (main-job profile). Same formulas: dy·[y > 0] and max(v, 0).
  const I = '  ', grad = (i: string) => (relu ? `select(0.0, dy[${i}], y[${i}] > 0.0)` : `dy[${i}]`);
  const js = Array.from({ length: RUN }, (_, j) => j);
  // A plane pass: the whole plane unrolled when small, else a loop over runs of RUN values.
  const overPlane = (body: (at: string) => string[]) => HW <= SMALL_PLANE
    ? Array.from({ length: HW }, (_, j) => body(`base + ${j}u`)).flat().map((l) => I + l)
    : [`${I}for (var j = 0u; j < HW; j += RUN) {`, ...js.flatMap((j) => body(`base + j + ${j}u`)).map((l) => `${I}  ${l}`), `${I}}`];
  let planeStats: string[];
  if (HW <= SMALL_PLANE) {
    const v = Array.from({ length: HW }, (_, j) => j);
    planeStats = [
      ...v.map((j) => `${I}let v${j} = x[base + ${j}u];`),
      ...v.map((j) => `${I}s += v${j};`),
      `${I}let m = s / f32(p.HW);`,
      ...v.map((j) => `${I}{ let d = v${j} - m; s2 += d * d; }`),
    ];
  } else {
    planeStats = [
      ...overPlane((at) => [`s += x[${at}];`]),
      `${I}let m = s / f32(p.HW);`,
      ...overPlane((at) => [`{ let d = x[${at}] - m; s2 += d * d; }`]),
    ];
  }
  const planeGrads = overPlane((at) => [`{ let g = ${grad(at)}; sdy += g; sdyx += g * (x[${at}] - mean); }`]);
  const values = Array.from({ length: IMGS }, (_, k) => js.map((j) => k * C * HW + j)).flat();
  const apply = values.map((o) => `${I}{ let i = i0 + ${o}u; y[i] = ${relu ? 'max(x[i] * g + b, 0.0)' : 'x[i] * g + b'}; }`);
  const dxOf = (i: string) => `k * (M * ${grad(i)} - sdy - (x[${i}] - mean) * invstd * sdyx)`;
  const backward = values.map((o) => `${I}  { let i = i0 + ${o}u; dx[i] = ${dxOf('i')}; }`);
  const backwardAcc = values.map((o) => `${I}  { let i = i0 + ${o}u; dx[i] = ${dxOf('i')} + dx[i]; }`);
  return {
    HW, CH: C, NB: N, RUN, IMGS,
    PLANE_STATS: planeStats.join('\n'), PLANE_GRADS: planeGrads.join('\n'), APPLY: apply.join('\n'),
    BACKWARD_APPLY: backward.join('\n'), BACKWARD_APPLY_ACC: backwardAcc.join('\n'),
  };
}

/** Invocations of the split kernels' elementwise passes (apply, backward_apply). */
function elementwiseInvocations(code: Record<string, string | number>): number {
  return ((code.NB as number) * (code.CH as number) * (code.HW as number)) / ((code.RUN as number) * (code.IMGS as number));
}

export const batchNormOp = defineOp({
  name: 'batch_norm',
  forward(g: Graph, [x, gamma, beta]: readonly [Tensor, Tensor, Tensor], attrs: BnAttrs): { y: Tensor; saved: BnSaved } {
    const op = 'batch_norm';
    const { state } = attrs;
    expectRank(op, 'input x', x, 4, 'NCHW');
    expectDtype(op, 'input x', x, 'f32');
    const [N, C, H, W] = x.shape;
    const why = `one per channel of input x [${x.shape.join(', ')}]`;
    expectShape(op, 'weight (gamma)', gamma, [C], why);
    expectShape(op, 'bias (beta)', beta, [C], why);
    expectShape(op, 'running_mean', state.runningMean, [C], why);
    expectShape(op, 'running_var', state.runningVar, [C], why);
    const momentum = attrs.momentum ?? 0.1, eps = attrs.eps ?? 1e-5, relu = attrs.relu ? 1 : 0;
    const e = g.engine, HW = H * W, wg = channelWorkgroup(e, N * HW);
    const y = g.empty(x.shape);
    const running = { running_mean: state.runningMean, running_var: state.runningVar };
    const params = (update: boolean) => ({
      N, C, HW, update_running: update ? 1 : 0, acc_dx: 0, acc_dgamma: 0, acc_dbeta: 0, need_dx: 0, eps, momentum, relu,
    });

    if (!attrs.training || state.running === 'eval') {
      e.run(BATCH_NORM, 'forward_eval', { params: params(false), bindings: { x, gamma, beta, y, ...running }, invocations: N * C * HW, wg });
      return { y, saved: { x, y, gamma, beta, stats: null, state, eps, momentum, relu } };
    }
    if (N * HW < 2) throw new ShapeError(`${op}: training mode needs more than one value per channel, got input x [${x.shape.join(', ')}]`);
    const stats = g.empty([2 * C]);
    const update = state.running === 'update';
    if (e.kernels.batchNorm === 'split') {
      const part = g.empty([2 * N * C]), p = params(update), consts = batchNormSplitCode(N, C, HW, relu === 1);
      e.run(BATCH_NORM_SPLIT, 'plane_stats', { params: p, consts, bindings: { x, part }, invocations: N * C });
      e.run(BATCH_NORM_SPLIT, 'channel_stats', { params: p, consts, bindings: { stats, part, ...running }, invocations: C });
      e.run(BATCH_NORM_SPLIT, 'apply', { params: p, consts, bindings: { x, gamma, beta, y, stats }, invocations: elementwiseInvocations(consts) });
    } else {
      const plan = batchNormChunkedPlan(N, C, HW), { consts, overrides } = plan, M = N * HW;
      const p = { N, update_running: update ? 1 : 0, acc_dx: 0, acc_dgamma: 0, acc_dbeta: 0, eps, momentum, relu };
      const part = g.empty([2 * C * overrides.CHUNKS]);
      e.run(BATCH_NORM_CHUNKED, 'chunk_stats', { params: p, consts, overrides, bindings: { x, part },
        invocations: C * overrides.CHUNKS * plan.wg, wg: plan.wg, flops: 4 * C * M });
      e.run(BATCH_NORM_CHUNKED, 'channel_stats', { params: p, consts, overrides, bindings: { stats, part, ...running },
        invocations: C, flops: 10 * C * overrides.CHUNKS });
      e.run(BATCH_NORM_CHUNKED, 'apply', { params: p, consts, overrides, bindings: { x, gamma, beta, y, stats },
        invocations: plan.values, flops: 3 * C * M });
    }
    if (update) state.batchesTracked++;
    return { y, saved: { x, y, gamma, beta, stats, state, eps, momentum, relu } };
  },
  backward(g, { x, y, gamma, beta, stats, state, eps, momentum, relu }, dy) {
    const [N, C, H, W] = x.shape;
    const e = g.engine, wg = channelWorkgroup(e, N * H * W);
    // Gradients nobody wants go to scratch buffers (the shaders write them unconditionally), except
    // dx in the training-mode kernels, whose dx pass simply does not run.
    const split = stats !== null && e.kernels.batchNorm === 'split';
    const target = (t: Tensor) => (t.requiresGrad ? g.gradTarget(t) : { grad: g.empty(t.shape), acc: 0 });
    if (stats !== null && e.kernels.batchNorm === 'chunked') {
      const dx = x.requiresGrad ? g.gradTarget(x) : null, dg = target(gamma), db = target(beta);
      const HW = H * W, M = N * HW, plan = batchNormChunkedPlan(N, C, HW), { consts, overrides } = plan;
      const p = { N, update_running: 0, acc_dx: dx?.acc ?? 0, acc_dgamma: dg.acc, acc_dbeta: db.acc, eps, momentum, relu };
      const part = g.empty([2 * C * overrides.CHUNKS]), csum = g.empty([2 * C]);
      e.run(BATCH_NORM_CHUNKED, 'chunk_grads', { params: p, consts, overrides, bindings: { x, y, stats, dy, part },
        invocations: C * overrides.CHUNKS * plan.wg, wg: plan.wg, flops: 5 * C * M });
      e.run(BATCH_NORM_CHUNKED, 'channel_grads', { params: p, consts, overrides, bindings: { stats, dgamma: dg.grad, dbeta: db.grad, part, csum },
        invocations: C, flops: 2 * C * overrides.CHUNKS });
      if (dx) {
        e.run(BATCH_NORM_CHUNKED, 'backward_apply', { params: p, consts, overrides, bindings: { x, gamma, y, stats, dy, dx: dx.grad, csum },
          invocations: plan.values, flops: 7 * C * M });
      }
      return;
    }
    const dx = x.requiresGrad || !split ? target(x) : null, dg = target(gamma), db = target(beta);
    const params = { N, C, HW: H * W, update_running: 0, acc_dx: dx?.acc ?? 0, acc_dgamma: dg.acc, acc_dbeta: db.acc, need_dx: x.requiresGrad ? 1 : 0, eps, momentum, relu };
    if (split) {
      const part = g.empty([2 * N * C]), csum = g.empty([2 * C]), consts = batchNormSplitCode(N, C, H * W, relu === 1);
      e.run(BATCH_NORM_SPLIT, 'plane_grads', { params, consts, bindings: { x, y, stats, dy, part }, invocations: N * C });
      e.run(BATCH_NORM_SPLIT, 'channel_grads', { params, consts, bindings: { dgamma: dg.grad, dbeta: db.grad, part, csum }, invocations: C });
      if (dx) e.run(BATCH_NORM_SPLIT, 'backward_apply', { params, consts, bindings: { x, gamma, y, stats, dy, dx: dx.grad, csum }, invocations: elementwiseInvocations(consts) });
      return;
    }
    // Evaluation mode: the running statistics as (mean, invstd) first, so backward_eval binds 8
    // storage buffers.
    const grads = { y, dy, dx: dx!.grad, dgamma: dg.grad, dbeta: db.grad };
    const evalStats = g.empty([2 * C]);
    e.run(BATCH_NORM, 'eval_stats', { params, bindings: { stats: evalStats, running_mean: state.runningMean, running_var: state.runningVar }, invocations: C });
    e.run(BATCH_NORM, 'backward_eval', { params, bindings: { x, gamma, stats: evalStats, ...grads }, invocations: C * wg, wg });
  },
});

/** y = γ·(x − μ)/√(σ² + ε) + β per channel (then max(y, 0) with `relu`); updates `state` in training mode (see BatchNormState). */
export function batchNorm(g: Graph, x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, opts: BatchNormOptions): Tensor {
  return g.apply(batchNormOp, [x, gamma, beta] as const, { ...opts, state });
}
