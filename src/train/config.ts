/**
 * The one builder of training configs: `critdamp train`, `correct` (and compare, experiment, the
 * page) describe a run by what they choose, and trainConfig fills in the rest with the defaults
 * every command shares, so two commands never disagree on, say, the evaluation batch or the
 * divergence guard. The model is a registry name with its options (src/nn/registry.ts).
 */
import type { ModelSpec } from '../nn/model';
import type { OptimizerOptions } from '../optim/optimizer';
import type { LrConfig, MomentumConfig } from '../schedule';
import { DEFAULT_DIVERGENCE } from './trainer';
import type { TrainConfig } from './types';

export interface TrainSettings {
  model: ModelSpec;
  epochs: number;
  batchSize: number;
  lr: LrConfig;
  /** Default 0. */
  seed?: number;
  /** Default SGD with weight decay 5e-4 (BN and biases exempt). */
  optimizer?: OptimizerOptions;
  /** Default physics momentum, μ(t) = clamp(1 − 2√α(t), 0.5, 0.99). */
  momentum?: MomentumConfig;
  /** Default none. */
  augment?: TrainConfig['augment'];
  labelSmoothing?: number;
  /** Default 50. */
  logEvery?: number;
  /** Default 256. */
  evalBatchSize?: number;
  /** Default DEFAULT_DIVERGENCE (10× the first logged loss); null turns the guard off. */
  divergence?: number | null;
  mean?: number[];
  std?: number[];
}

export const TRAIN_DEFAULTS = { seed: 0, optimizer: { kind: 'sgd', weightDecay: 5e-4 } as OptimizerOptions, momentum: { kind: 'physics' } as MomentumConfig,
  augment: null, labelSmoothing: 0, logEvery: 50, evalBatchSize: 256, divergence: DEFAULT_DIVERGENCE } as const;

export function trainConfig(s: TrainSettings): TrainConfig {
  const d = TRAIN_DEFAULTS;
  return {
    epochs: s.epochs, batchSize: s.batchSize, seed: s.seed ?? d.seed, model: s.model,
    optimizer: s.optimizer ?? { ...d.optimizer }, lr: s.lr, momentum: s.momentum ?? { ...d.momentum },
    augment: s.augment === undefined ? d.augment : s.augment, labelSmoothing: s.labelSmoothing ?? d.labelSmoothing,
    logEvery: s.logEvery ?? d.logEvery, evalBatchSize: s.evalBatchSize ?? d.evalBatchSize,
    divergence: s.divergence === undefined ? d.divergence : s.divergence,
    ...(s.mean ? { mean: s.mean } : {}), ...(s.std ? { std: s.std } : {}),
  };
}
