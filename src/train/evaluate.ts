/**
 * Evaluation: accuracy, mean loss, per-class accuracy, confusion matrix and the indices of the
 * misclassified samples (later passes, such as layer attribution and surgical correction, start
 * from them). Logits come back per batch; the softmax loss is computed in float64 on the CPU.
 */
import type { Engine } from '../gpu/engine';
import type { Dataset } from '../data/dataset';
import { GpuBatcher } from '../data/batcher';
import type { Model } from '../nn/model';
import { Graph } from '../autograd/graph';

export interface EvalResult {
  accuracy: number;
  loss: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted]. */
  confusion: number[][];
  misclassified: number[];
  /** The predicted class of every sample, by index. */
  predictions: Uint8Array;
  n: number;
}

export async function evaluate(engine: Engine, model: Model, data: Dataset, opts: { batchSize: number; mean: number[]; std: number[] }): Promise<EvalResult> {
  const K = model.config.numClasses;
  const batcher = new GpuBatcher(engine, data, { batchSize: Math.min(opts.batchSize, data.n), shuffle: false, augment: null, mean: opts.mean, std: opts.std, seed: 0 });
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const misclassified: number[] = [];
  const predictions = new Uint8Array(data.n);
  let lossSum = 0, correct = 0;
  try {
    batcher.startEpoch(0);
    for (let b = 0; b < batcher.batchesPerEpoch; b++) {
      let indices: number[];
      // A graph of its own that records nothing: evaluation never touches another run's tensors.
      const g = new Graph(engine, { grad: false });
      let z: Float32Array;
      try {
        const { x, indices: idx } = batcher.batch(b, g);
        indices = idx;
        z = await model.forward(g, x, { training: false }).read();
      } finally {
        g.dispose();
      }
      indices.forEach((idx, n) => {
        const row = z.subarray(n * K, (n + 1) * K);
        let best = 0, max = -Infinity;
        for (let k = 0; k < K; k++) if (row[k] > max) { max = row[k]; best = k; }
        let s = 0;
        for (let k = 0; k < K; k++) s += Math.exp(row[k] - max);
        const label = data.labels[idx];
        lossSum += max + Math.log(s) - row[label];
        confusion[label][best]++;
        predictions[idx] = best;
        if (best === label) correct++;
        else misclassified.push(idx);
      });
    }
  } finally {
    batcher.destroy();
  }
  const perClassAccuracy = confusion.map((row, k) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[k] / total : NaN;
  });
  return { accuracy: correct / data.n, loss: lossSum / data.n, perClassAccuracy, confusion, misclassified, predictions, n: data.n };
}
