/**
 * cross_entropy: softmax cross-entropy of logits [N,K] against u32 labels [N], mean over the batch,
 * optional label smoothing ε (target (1−ε)·onehot + ε/K, as PyTorch). Returns a scalar tensor [1]
 * that stays on the GPU; backward reads dloss there too, so a step needs no CPU round trip.
 *   dz = dloss·(softmax(z) − q)/N
 * Kernels: shaders/cross_entropy.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { CROSS_ENTROPY } from '../../shaders/kernels';

export interface CrossEntropyOptions { labelSmoothing?: number }

interface CeSaved { logits: Tensor; labels: Tensor; probs: Tensor; smoothing: number }

export const crossEntropyOp = defineOp({
  name: 'cross_entropy',
  forward(g: Graph, [logits, labels]: readonly [Tensor, Tensor], opts: CrossEntropyOptions): { y: Tensor; saved: CeSaved } {
    const smoothing = opts.labelSmoothing ?? 0;
    expectRank('cross_entropy', 'logits', logits, 2, '[batch, classes]');
    expectDtype('cross_entropy', 'logits', logits, 'f32');
    const [N, K] = logits.shape;
    expectShape('cross_entropy', 'labels', labels, [N], `one per row of logits [${logits.shape.join(', ')}]`);
    expectDtype('cross_entropy', 'labels', labels, 'u32');
    if (!(smoothing >= 0 && smoothing < 1)) throw new ShapeError(`cross_entropy: label smoothing must be in [0, 1), got ${smoothing}`);
    const e = g.engine, wg = e.kernels.wg;
    const probs = g.empty([N, K]);
    const rowLoss = g.empty([N]);
    const loss = g.empty([1]);
    const params = { N, K, acc: 0, smoothing, nan: NaN };
    e.run(CROSS_ENTROPY, 'forward_rows', { params, bindings: { logits, labels, probs, row_loss: rowLoss }, invocations: N, wg });
    e.run(CROSS_ENTROPY, 'forward_mean', { params, bindings: { row_loss: rowLoss, loss }, invocations: wg, wg });
    return { y: loss, saved: { logits, labels, probs, smoothing } };
  },
  backward(g, { logits, labels, probs, smoothing }, dloss) {
    const e = g.engine, [N, K] = logits.shape;
    const { grad, acc } = g.gradTarget(logits);
    e.run(CROSS_ENTROPY, 'backward', { params: { N, K, acc, smoothing, nan: NaN },
      bindings: { labels, probs, dloss, dlogits: grad }, invocations: N * K });
  },
});

/** Mean softmax cross-entropy, a scalar [1] on the GPU. */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return g.apply(crossEntropyOp, [logits, labels] as const, opts);
}
