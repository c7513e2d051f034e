/**
 * batch_norm: BatchNorm2d over NCHW (shaders/batch_norm.wgsl). Training mode normalises with the
 * batch statistics (biased variance) and, unless the layer's running statistics are frozen,
 * updates the running estimates with momentum (unbiased variance) and counts the batch in the
 * layer's own num_batches_tracked, as PyTorch does. Eval mode uses the running estimates.
 * Backward (train mode) goes through the batch statistics:
 *   dx = γ·invstd/M·(M·dy − Σdy − x̂·Σdy·x̂),  dγ = Σdy·x̂,  dβ = Σdy.
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import batchNormWgsl from '../../shaders/batch_norm.wgsl';

export const BATCH_NORM_SHADER: ShaderSource = { name: 'batch_norm.wgsl', code: batchNormWgsl };

/**
 * A BN layer's state besides its weights: running statistics and batch count. Whether a training
 * step updates them is the layer's own choice, independent of whether its weights train:
 * 'update' (the default, PyTorch's train() behaviour) or 'freeze' (kept bit-identical).
 */
export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  /** Training batches this layer has normalised with updates on (torchvision's num_batches_tracked). */
  batchesTracked: number;
  running: 'update' | 'freeze';
}

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
}

interface BnAttrs extends BatchNormOptions { state: BatchNormState }
interface BnSaved { x: Tensor; gamma: Tensor; beta: Tensor; stats: Tensor; eps: number; momentum: number }

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
    const momentum = attrs.momentum ?? 0.1, eps = attrs.eps ?? 1e-5;
    const e = g.engine, wg = e.kernels.wg, HW = H * W;
    const y = g.empty(x.shape);
    const running = { 6: state.runningMean, 7: state.runningVar };

    if (!attrs.training) {
      if (g.wants([x, gamma, beta])) {
        throw new Error(`${op} (${g.layer || 'no layer'}): eval-mode batch norm has no backward yet; run it under graph.noGrad(), or in training mode`);
      }
      e.dispatch({ shader: BATCH_NORM_SHADER, entry: 'forward_eval', u32: [N, C, HW, 0, 0, 0, 0, 0], f32: [eps, momentum],
        bindings: { 1: x, 2: gamma, 3: beta, 4: y, ...running }, invocations: N * C * HW, wg });
      return { y, saved: { x, gamma, beta, stats: y, eps, momentum } };
    }
    if (N * HW < 2) throw new ShapeError(`${op}: training mode needs more than one value per channel, got input x [${x.shape.join(', ')}]`);
    const stats = g.empty([2 * C]);
    const update = state.running === 'update';
    e.dispatch({ shader: BATCH_NORM_SHADER, entry: 'forward_train', u32: [N, C, HW, update ? 1 : 0, 0, 0, 0, 0], f32: [eps, momentum],
      bindings: { 1: x, 2: gamma, 3: beta, 4: y, 5: stats, ...running }, invocations: C * wg, wg });
    if (update) state.batchesTracked++;
    return { y, saved: { x, gamma, beta, stats, eps, momentum } };
  },
  backward(g, { x, gamma, beta, stats, eps, momentum }, dy) {
    const e = g.engine, wg = e.kernels.wg;
    const [N, C, H, W] = x.shape;
    // Gradients nobody wants go to scratch buffers (the shader writes them unconditionally).
    const target = (t: Tensor) => (t.requiresGrad ? g.gradTarget(t) : { grad: g.empty(t.shape), acc: 0 });
    const dx = target(x), dg = target(gamma), db = target(beta);
    e.dispatch({ shader: BATCH_NORM_SHADER, entry: 'backward',
      u32: [N, C, H * W, 0, dx.acc, dg.acc, db.acc, x.requiresGrad ? 1 : 0], f32: [eps, momentum],
      bindings: { 1: x, 2: gamma, 5: stats, 8: dy, 9: dx.grad, 10: dg.grad, 11: db.grad },
      invocations: C * wg, wg });
  },
});

/** y = γ·(x − μ)/√(σ² + ε) + β per channel; updates `state` in training mode (see BatchNormState). */
export function batchNorm(g: Graph, x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, opts: BatchNormOptions): Tensor {
  return g.apply(batchNormOp, [x, gamma, beta] as const, { ...opts, state });
}
