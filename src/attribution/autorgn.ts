/**
 * Auto-RGN (Lee et al., "Surgical Fine-Tuning Improves Adaptation to Distribution Shifts", ICLR
 * 2023), the control that chooses layers by itself: every parameter trains, but each layer's
 * learning rate is scaled, at every step, by its relative gradient norm ‖g‖/‖θ‖ divided by the
 * largest among the layers. Here the norms come from one segment-sums dispatch after each
 * backward, read back before the update (one small sync per step).
 *
 * Same budget as surgical correction (src/attribution/correct.ts): the same data, epochs and
 * schedule, BN in training mode with its statistics updating (nothing is frozen), and the same
 * report.
 */
import type { Engine } from '../gpu/engine';
import type { Model } from '../nn/model';
import { Graph } from '../autograd/graph';
import { Optimizer } from '../optim/optimizer';
import { GpuBatcher } from '../data/batcher';
import { crossEntropy } from '../ops';
import { evaluate } from '../train/evaluate';
import { TrainingSchedule } from '../schedule';
import { SegmentSumsReader } from './segment_sums';
import { unitScore } from './scores';
import type { CorrectOptions, CorrectionReport } from './correct';

export async function autoRgnFineTune(engine: Engine, model: Model, o: Omit<CorrectOptions, 'layers' | 'granularity'>): Promise<CorrectionReport> {
  const started = performance.now();
  const store = model.store, segs = store.segments;
  const layers = model.units('layer');
  const evalOpts = { batchSize: 256, mean: o.mean, std: o.std };
  const before = await evaluate(engine, model, o.data.test, evalOpts);
  const trainable = [...store.params.values()].map((t) => t.requiresGrad);
  const running = new Map([...store.batchNorm].map(([layer, bn]) => [layer, bn.running]));
  store.setFrozen(() => true, false);
  store.setBatchNormRunning(() => true, 'update');
  const wd = o.weightDecay ?? 5e-4;
  // One param group per segment, so each layer's rate can move alone; BN and biases undecayed.
  const optimizer = new Optimizer(store, { kind: o.optimizer ?? 'sgd', weightDecay: wd, groups: segs.map((s) => ({
    name: s.name, match: (x) => x.name === s.name, weightDecay: s.kind === 'conv' || s.kind === 'linear_weight' ? wd : 0 })) });
  const batchSize = o.batchSize ?? 64, epochs = o.epochs ?? 2;
  const batcher = new GpuBatcher(engine, o.data.train, { batchSize, shuffle: true, augment: o.augment ?? null, mean: o.mean, std: o.std, seed: o.seed ?? 0, dropLast: true });
  const schedule = new TrainingSchedule({ epochs, stepsPerEpoch: batcher.batchesPerEpoch, lr: o.lr ?? { kind: 'cosine', lr: 0.01 }, momentum: o.momentum ?? { kind: 'physics' } });
  const sums = new SegmentSumsReader(engine, store, 1, 'autorgn:segment_sums');
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      batcher.startEpoch(epoch);
      for (let i = 0; i < batcher.batchesPerEpoch; i++) {
        const point = schedule.next();
        const g = new Graph(engine);
        try {
          const { x, labels } = batcher.batch(i, g);
          store.zeroGrad();
          g.backward(crossEntropy(g, model.forward(g, x, { training: true }), labels));
          store.finishGrads();
          sums.run(0);
          const [now] = await sums.read();
          // RGN of a layer = its relative score √Σg² / √Σθ²; each layer's scale = RGN / max RGN.
          const rgn = layers.map((u) => unitScore(u, now, 'relative'));
          const top = Math.max(...rgn);
          const scales: Record<string, number> = {};
          layers.forEach((u, j) => { for (const p of u.params) scales[p] = top > 0 && Number.isFinite(rgn[j] / top) ? rgn[j] / top : 0; });
          optimizer.setLrScales(scales);
          optimizer.step({ lr: point.lr, momentum: point.momentum });
        } finally {
          g.dispose();
        }
      }
    }
  } finally {
    batcher.destroy();
    sums.dispose();
    optimizer.destroy();
    const params = [...store.params.values()];
    params.forEach((t, i) => (t.requiresGrad = trainable[i]));
    for (const [layer, mode] of running) store.bn(layer).running = mode;
  }
  const after = await evaluate(engine, model, o.data.test, evalOpts);
  const isWrong = new Set(after.misclassified), wasWrong = new Set(before.misclassified);
  const fixed = before.misclassified.filter((i) => !isWrong.has(i)).length;
  const broken = after.misclassified.filter((i) => !wasWrong.has(i)).length;
  const count = layers.reduce((s, u) => s + u.count, 0);
  return {
    layers: ['all (per-layer rates by relative gradient norm)'], granularity: 'layer', epochs, retrainedParams: count, share: 1,
    before: { accuracy: before.accuracy, errors: before.misclassified.length }, after: { accuracy: after.accuracy, errors: after.misclassified.length },
    fixed, broken, net: fixed - broken, wallSeconds: (performance.now() - started) / 1000, frozenUnchanged: true,
  };
}
