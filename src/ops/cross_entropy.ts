/**
 * cross_entropy: softmax cross-entropy of logits [N,K] against u32 labels [N], mean over the batch,
 * optional label smoothing ε (target (1−ε)·onehot + ε/K, as PyTorch). Returns a scalar tensor [1]
 * that stays on the GPU; backward reads dloss there too, so a step needs no CPU round trip.
 *   dz = dloss·(softmax(z) − q)/N
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import crossEntropyWgsl from '../../shaders/cross_entropy.wgsl';

const SHADER: ShaderSource = { name: 'cross_entropy.wgsl', code: crossEntropyWgsl };

export function crossEntropy(logits: Tensor, labels: Tensor, opts: { labelSmoothing?: number } = {}): Tensor {
  const smoothing = opts.labelSmoothing ?? 0;
  expectRank('cross_entropy', 'logits', logits, 2, '[batch, classes]');
  expectDtype('cross_entropy', 'logits', logits, 'f32');
  const [N, K] = logits.shape;
  expectShape('cross_entropy', 'labels', labels, [N], `one per row of logits [${logits.shape.join(', ')}]`);
  expectDtype('cross_entropy', 'labels', labels, 'u32');
  if (!(smoothing >= 0 && smoothing < 1)) throw new ShapeError(`cross_entropy: label smoothing must be in [0, 1), got ${smoothing}`);
  const e = logits.engine, tape = e.tape, wg = e.kernels.wg;
  const probs = tape.own(e.empty([N, K]));
  const rowLoss = tape.own(e.empty([N]));
  const loss = tape.own(e.empty([1]));
  const u32 = (acc: number) => [N, K, acc];
  e.dispatch({ shader: SHADER, entry: 'forward_rows', u32: u32(0), f32: [smoothing, NaN],
    bindings: { 1: logits, 2: labels, 3: probs, 4: rowLoss }, invocations: N, wg });
  e.dispatch({ shader: SHADER, entry: 'forward_mean', u32: u32(0), f32: [smoothing, NaN],
    bindings: { 4: rowLoss, 5: loss }, invocations: wg, wg });
  if (tape.wants([logits])) {
    tape.record('cross_entropy', [logits], loss, () => {
      const { grad, acc } = tape.gradTarget(logits);
      e.dispatch({ shader: SHADER, entry: 'backward', u32: u32(acc), f32: [smoothing, NaN],
        bindings: { 2: labels, 3: probs, 6: loss.grad!, 7: grad }, invocations: N * K, wg });
    });
  }
  return loss;
}

