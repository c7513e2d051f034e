// One forward + cross-entropy + backward of a model on given inputs, read back for comparison with a
// float64 reference: the logits, the loss, every parameter's gradient and the state after the step
// (batch norm's running statistics change in the forward pass).
import { Graph } from '../../src/autograd/graph';
import { crossEntropy } from '../../src/ops';
import type { Engine } from '../../src/gpu/engine';
import type { Model } from '../../src/nn/model';

export async function readStep(e: Engine, model: Model, x: Float32Array, shape: number[], labels: Uint32Array) {
  const tx = e.tensor(x, shape), tl = e.tensor(labels, [labels.length]);
  model.store.zeroGrad();
  const g = new Graph(e);
  const logits = model.forward(g, tx, { training: true });
  const loss = crossEntropy(g, logits, tl);
  g.backward(loss);
  const [gLogits, gLoss, grads, after] = await Promise.all([logits.read(), loss.read(), model.store.readGrads(), model.store.read()]);
  g.dispose();
  tx.dispose();
  tl.dispose();
  return { logits: gLogits, loss: gLoss, grads, after };
}
