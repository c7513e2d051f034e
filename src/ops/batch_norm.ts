/**
 * batch_norm: BatchNorm2d over NCHW. Training mode normalises with the batch statistics (biased
 * variance) and updates the running estimates with momentum (unbiased variance), as PyTorch does;
 * eval mode uses the running estimates. Backward (train mode) goes through the batch statistics:
 * dx = γ·invstd/M·(M·dy − Σdy − x̂·Σdy·x̂), dγ = Σdy·x̂, dβ = Σdy.
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, expectShape } from './check';
import batchNormWgsl from '../../shaders/batch_norm.wgsl';

const SHADER: ShaderSource = { name: 'batch_norm.wgsl', code: batchNormWgsl };

export interface BatchNormOptions {
  training: boolean;
  /** Update running_mean/var in training mode (false for frozen layers). Default true. */
  updateRunning?: boolean;
  momentum?: number;
  eps?: number;
}

export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, opts: BatchNormOptions): Tensor {
  const op = 'batch_norm';
  expectRank(op, 'input x', x, 4, 'NCHW');
  expectDtype(op, 'input x', x, 'f32');
  const [N, C, H, W] = x.shape;
  const why = `one per channel of input x [${x.shape.join(', ')}]`;
  expectShape(op, 'weight (gamma)', gamma, [C], why);
  expectShape(op, 'bias (beta)', beta, [C], why);
  expectShape(op, 'running_mean', runningMean, [C], why);
  expectShape(op, 'running_var', runningVar, [C], why);
  const momentum = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  const e = x.engine, tape = e.tape;
  const HW = H * W;
  const y = tape.own(e.empty(x.shape));
  const wg = e.kernels.wg;

  if (!opts.training) {
    e.dispatch({ shader: SHADER, entry: 'forward_eval', u32: [N, C, HW, 0, 0, 0, 0, 0], f32: [eps, momentum],
      bindings: { 1: x, 2: gamma, 3: beta, 4: y, 6: runningMean, 7: runningVar }, invocations: N * C * HW, wg });
    return y;
  }
  if (N * HW < 2) throw new Error(`${op}: training mode needs more than one value per channel, got input x [${x.shape.join(', ')}]`);

  const stats = tape.own(e.empty([2 * C]));
  const update = opts.updateRunning ?? true;
  e.dispatch({ shader: SHADER, entry: 'forward_train', u32: [N, C, HW, update ? 1 : 0, 0, 0, 0, 0], f32: [eps, momentum],
    bindings: { 1: x, 2: gamma, 3: beta, 4: y, 5: stats, 6: runningMean, 7: runningVar }, invocations: C * wg, wg });

  if (tape.wants([x, gamma, beta])) {
    tape.record(op, [x, gamma, beta], y, () => {
      // Gradients nobody wants go to scratch buffers (the shader writes them unconditionally).
      const target = (t: Tensor) => (t.requiresGrad ? tape.gradTarget(t) : { grad: tape.own(e.empty(t.shape)), acc: 0 });
      const dx = target(x), dg = target(gamma), db = target(beta);
      e.dispatch({ shader: SHADER, entry: 'backward',
        u32: [N, C, HW, 0, dx.acc, dg.acc, db.acc, x.requiresGrad ? 1 : 0], f32: [eps, momentum],
        bindings: { 1: x, 2: gamma, 5: stats, 8: y.grad!, 9: dx.grad, 10: dg.grad, 11: db.grad },
        invocations: C * wg, wg });
    });
  }
  return y;
}
