/**
 * Surgical correction: retrain only the named layers of a trained network, on the training data
 * (never on the evaluation samples), and report what changed on the evaluation set: errors before
 * and after, fixed (wrong → right), broken (right → wrong), net, the share of parameters
 * retrained and the compute spent. Everything else is frozen: its weights and its BN running
 * statistics stay bit-identical, which the run checks at the end (not only the tests). Frozen BN
 * layers normalise with their running statistics during the retraining ('eval' mode): in batch
 * mode they would hide a retrained layer's scale, which eval mode then sees.
 *
 * Compute is reported two ways: wall time, and parameter updates relative to full fine-tuning
 * (the optimizer touches only the retrained share). The backward pass still runs through every
 * layer above the earliest retrained one, so the saving in FLOPs is smaller than the share.
 */
import type { Engine } from '../gpu/engine';
import type { Model } from '../nn/model';
import { Optimizer, type OptimizerKind } from '../optim/optimizer';
import { Trainer, type TrainConfig } from '../train/trainer';
import { trainConfig } from '../train/config';
import { evaluate } from '../train/evaluate';
import type { DatasetSplit } from '../data/dataset';
import type { LrConfig, MomentumConfig } from '../schedule';
import { resolveUnits, type Granularity } from './layers';

export interface CorrectOptions {
  /** The units to retrain (names at `granularity`). */
  layers: readonly string[];
  granularity: Granularity;
  /** train: what the layers are retrained on; test: what the report is measured on. */
  data: DatasetSplit;
  /** The normalisation the model was trained with. */
  mean: number[];
  std: number[];
  epochs?: number;
  /** Default: cosine from 0.01 (a fine-tuning rate) with physics momentum. */
  lr?: LrConfig;
  momentum?: MomentumConfig;
  optimizer?: OptimizerKind;
  weightDecay?: number;
  batchSize?: number;
  seed?: number;
  augment?: TrainConfig['augment'];
}

export interface CorrectionReport {
  layers: string[];
  granularity: Granularity;
  epochs: number;
  retrainedParams: number;
  /** retrainedParams / all parameters: also the optimizer's share of a full fine-tune's updates. */
  share: number;
  before: { accuracy: number; errors: number };
  after: { accuracy: number; errors: number };
  /** Evaluation samples wrong before and right after, and the reverse. */
  fixed: number;
  broken: number;
  net: number;
  wallSeconds: number;
  /** Checked after training: every frozen weight and frozen BN statistic is bit-identical. */
  frozenUnchanged: true;
}

export async function correct(engine: Engine, model: Model, o: CorrectOptions): Promise<CorrectionReport> {
  const store = model.store;
  const all = model.units(o.granularity);
  const chosen = resolveUnits(all, o.layers);
  const retrained = new Set(chosen.flatMap((u) => u.params));
  // A BN layer is retrained with its unit: its weight is among the retrained parameters.
  const inChosen = (module: string) => retrained.has(`${module}.weight`);
  const started = performance.now();
  const evalOpts = { batchSize: 256, mean: o.mean, std: o.std };
  const before = await evaluate(engine, model, o.data.test, evalOpts);

  // Freeze everything else, BN statistics included; remember what the caller had.
  const params = [...store.params.values()];
  const trainable = params.map((t) => t.requiresGrad);
  const running = new Map([...store.batchNorm].map(([layer, bn]) => [layer, bn.running]));
  const snapshot = await store.read();
  store.setFrozen((name) => !retrained.has(name), true);
  store.setFrozen((name) => retrained.has(name), false);
  // A frozen BN layer acts as it does at inference (running statistics, untouched), so the
  // retrained layers learn against the normalisation the network is evaluated with.
  store.setBatchNormRunning((layer) => !inChosen(layer), 'eval');
  store.setBatchNormRunning((layer) => inChosen(layer), 'update');

  const epochs = o.epochs ?? 2;
  const config = trainConfig({
    epochs, batchSize: o.batchSize ?? 64, seed: o.seed ?? 0, model: model.config,
    optimizer: { kind: o.optimizer ?? 'sgd', weightDecay: o.weightDecay ?? 5e-4 },
    lr: o.lr ?? { kind: 'cosine', lr: 0.01 }, momentum: o.momentum ?? { kind: 'physics' },
    augment: o.augment ?? null, divergence: null, mean: o.mean, std: o.std,
  });
  const optimizer = new Optimizer(store, config.optimizer);
  const trainer = new Trainer(engine, { model, optimizer, data: o.data, config });
  try {
    await trainer.fit();
  } finally {
    trainer.destroy();
    optimizer.destroy();
    params.forEach((t, i) => (t.requiresGrad = trainable[i]));
    for (const [layer, mode] of running) store.bn(layer).running = mode;
  }
  const after = await evaluate(engine, model, o.data.test, evalOpts);

  const now = await store.read();
  for (const [name, v] of snapshot) {
    const module = name.replace(/\.(weight|bias|running_mean|running_var)$/, '');
    if (retrained.has(name) || (store.batchNorm.has(module) && inChosen(module) && !store.params.has(name))) continue;
    const got = now.get(name)!.data;
    if (got.some((x, i) => !Object.is(x, v.data[i]))) throw new Error(`correct: ${name} changed although it was frozen (a bug: please report it)`);
  }
  const wasWrong = new Set(before.misclassified), isWrong = new Set(after.misclassified);
  const fixed = before.misclassified.filter((i) => !isWrong.has(i)).length;
  const broken = after.misclassified.filter((i) => !wasWrong.has(i)).length;
  const count = chosen.reduce((s, u) => s + u.count, 0);
  return {
    layers: chosen.map((u) => u.name), granularity: o.granularity, epochs, retrainedParams: count, share: count / all.reduce((s, u) => s + u.count, 0),
    before: { accuracy: before.accuracy, errors: before.misclassified.length }, after: { accuracy: after.accuracy, errors: after.misclassified.length },
    fixed, broken, net: fixed - broken, wallSeconds: (performance.now() - started) / 1000, frozenUnchanged: true,
  };
}
