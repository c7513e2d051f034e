/**
 * The shapes a training run is described and reported in: its config (also saved in every
 * checkpoint's state.json), the JSONL log records, the resumable state, and the hooks through
 * which a host (the CLI, a web page) persists and shows a run.
 */
import type { TuneReport } from '../gpu/tune';
import type { ModelSpec } from '../nn/model';
import type { OptimizerOptions } from '../optim/optimizer';
import type { LrConfig, MomentumConfig, Regime, ScheduleState } from '../schedule';
import type { Trainer } from './trainer';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  /**
   * The model, by name and options (src/nn/registry.ts): `{ name: 'vgg11_bn', numClasses: 10,
   * inChannels: 1, width: 0.5 }`. Without a name it is a ResNet-18 (`{ numClasses, inChannels,
   * stem, width }`), as configs were before there were other models.
   */
  model: ModelSpec;
  optimizer: OptimizerOptions;
  lr: LrConfig;
  momentum: MomentumConfig;
  /** Random crop padding (0 = none) and horizontal flips, for training batches. */
  augment: { crop: number; flip: boolean } | null;
  labelSmoothing: number;
  /** Read losses back (and log a step record) every this many steps. */
  logEvery: number;
  evalBatchSize: number;
  /**
   * The divergence guard: stop when a logged window's mean training loss exceeds this multiple of
   * the run's first logged loss (null or absent: off). The CLI's default is DEFAULT_DIVERGENCE.
   */
  divergence?: number | null;
  /** Per-channel normalisation; computed from the training set when absent. */
  mean?: number[];
  std?: number[];
}

/** Log records count epochs and steps from 1: epoch 1 is the first pass, step N the N-th optimizer step. */
export interface StepRecord {
  type: 'step';
  epoch: number;
  /** Steps completed, this one included. */
  step: number;
  lr: number;
  mu: number;
  muc: number;
  regime: Regime;
  loss: number;
  images_per_s: number;
  wall_s: number;
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  lr: number;
  mu: number;
  muc: number;
  regime: Regime;
  train_loss: number;
  test_loss: number;
  accuracy: number;
  per_class_accuracy: number[];
  confusion: number[][];
  misclassified: number[];
  images_per_s: number;
  wall_s: number;
}

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  step: number;
  schedule: ScheduleState;
  seed: number;
  wallSeconds: number;
  config: TrainConfig;
  /** The normalisation the run used (evaluation must use the same). */
  mean: number[];
  std: number[];
  /** The divergence guard's reference loss (the run's first logged window), once known. */
  lossReference?: number | null;
  /** The training data's class names and image shape: with config.model and mean/std, what the model needs to be used. */
  classes?: string[];
  input?: { channels: number; height: number; width: number };
  [key: string]: unknown;
}

export interface TrainerHooks {
  log?(record: StepRecord | EpochRecord): void | Promise<void>;
  /** Progress as the GPU finishes steps (epoch and batch count from 1), for a progress bar. */
  progress?(p: { epoch: number; epochs: number; batch: number; batches: number; loss: number | null; lr: number; mu: number; elapsed: number }): void;
  /** Persist a checkpoint after an epoch; returns where it went. */
  checkpoint?(state: TrainerState, trainer: Trainer): Promise<string>;
  /**
   * The engine's autotuner (enableTuning) is about to time `jobs` kernel shapes met for the first
   * time, and then has: what it measured, and how long tuning took.
   */
  tuning?(jobs: number): void;
  tuned?(reports: TuneReport[], seconds: number): void;
  now?(): number;
}
