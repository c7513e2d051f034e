/**
 * The training loop: epochs of steps (batch on the GPU → forward → loss → backward → one optimizer
 * dispatch with α(t), μ(t) from the schedule), evaluation after each epoch, a log record per epoch
 * and per logged step, and a checkpoint per epoch. Browser-safe: files, terminals and clocks reach
 * it through TrainerHooks (the CLI supplies Node's).
 *
 * No CPU–GPU round trip per step: each step's loss is copied into a GPU array, read back every
 * `logEvery` steps (which also bounds the queue). A NaN or Inf loss stops training with an error
 * naming the step; the last checkpoint, written only after a finite epoch, is never touched.
 */
import type { Engine } from '../gpu/engine';
import { channelStats, type DatasetSplit } from '../data/dataset';
import { GpuBatcher } from '../data/batcher';
import { ResNet18, type ResNetConfig } from '../nn/resnet';
import { Optimizer, type OptimizerOptions } from '../optim/optimizer';
import { crossEntropy } from '../ops';
import { TrainingSchedule, type LrConfig, type MomentumConfig, type ScheduleState, type ScheduleConfig, type Regime } from '../schedule';
import { evaluate, type EvalResult } from './evaluate';
import { Graph } from '../autograd/graph';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  model: ResNetConfig;
  optimizer: OptimizerOptions;
  lr: LrConfig;
  momentum: MomentumConfig;
  /** Random crop padding (0 = none) and horizontal flips, for training batches. */
  augment: { crop: number; flip: boolean } | null;
  labelSmoothing: number;
  /** Read losses back (and log a step record) every this many steps. */
  logEvery: number;
  evalBatchSize: number;
  /** Per-channel normalisation; computed from the training set when absent. */
  mean?: number[];
  std?: number[];
}

export interface StepRecord {
  type: 'step';
  epoch: number;
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
  [key: string]: unknown;
}

export interface TrainerHooks {
  log?(record: StepRecord | EpochRecord): void | Promise<void>;
  /** Progress within an epoch (for a progress bar). */
  progress?(p: { epoch: number; epochs: number; batch: number; batches: number; loss: number | null; lr: number; mu: number; elapsed: number }): void;
  /** Persist a checkpoint after an epoch; returns where it went. */
  checkpoint?(state: TrainerState, trainer: Trainer): Promise<string>;
  now?(): number;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

export class Trainer {
  readonly model: ResNet18;
  readonly optimizer: Optimizer;
  schedule: TrainingSchedule;
  private scheduleConfig: ScheduleConfig;
  readonly stepsPerEpoch: number;
  readonly mean: number[];
  readonly std: number[];
  /** Epochs completed (the next epoch to run). */
  epoch = 0;
  lastEval: EvalResult | null = null;
  lastCheckpoint: string | null = null;
  private wallSeconds = 0;

  constructor(readonly engine: Engine, readonly data: DatasetSplit, readonly config: TrainConfig, private hooks: TrainerHooks = {}) {
    const { train } = data;
    if (config.batchSize < 1 || config.batchSize > train.n) throw new RangeError(`train: batch size ${config.batchSize} must be between 1 and the ${train.n} training samples`);
    if (train.c !== config.model.inChannels) throw new RangeError(`train: the data has ${train.c} channels but the model expects ${config.model.inChannels}`);
    if (train.classes.length > config.model.numClasses) throw new RangeError(`train: ${train.classes.length} classes but the model has ${config.model.numClasses} outputs`);
    const stats = config.mean && config.std ? { mean: config.mean, std: config.std } : channelStats(train);
    this.mean = stats.mean;
    this.std = stats.std;
    this.stepsPerEpoch = Math.floor(train.n / config.batchSize);
    this.scheduleConfig = { epochs: config.epochs, stepsPerEpoch: this.stepsPerEpoch, lr: config.lr, momentum: config.momentum };
    this.schedule = new TrainingSchedule(this.scheduleConfig);
    this.model = new ResNet18(engine, config.model, config.seed);
    this.optimizer = new Optimizer(this.model.store, config.optimizer);
  }

  get step(): number {
    return this.epoch * this.stepsPerEpoch;
  }

  state(): TrainerState {
    return { epoch: this.epoch, step: this.step, schedule: this.schedule.state(), seed: this.config.seed, wallSeconds: this.wallSeconds, config: this.config, mean: this.mean, std: this.std };
  }

  /** Continues from a saved state (weights and optimizer are loaded by the caller). */
  restore(state: TrainerState): void {
    this.schedule = TrainingSchedule.restore(this.scheduleConfig, state.schedule);
    this.epoch = state.epoch;
    this.wallSeconds = state.wallSeconds;
  }

  private now(): number {
    return (this.hooks.now ?? (() => performance.now() / 1000))();
  }

  /** Trains until `epochs` epochs are complete (or `untilEpoch`), evaluating after each. */
  async fit(untilEpoch = this.config.epochs): Promise<EvalResult | null> {
    const e = this.engine, cfg = this.config, spe = this.stepsPerEpoch;
    const batcher = new GpuBatcher(e, this.data.train, { batchSize: cfg.batchSize, shuffle: true, augment: cfg.augment, mean: this.mean, std: this.std, seed: cfg.seed, dropLast: true });
    const losses = e.empty([spe]);
    try {
      for (; this.epoch < Math.min(untilEpoch, cfg.epochs); ) {
        const epoch = this.epoch;
        const t0 = this.now();
        batcher.startEpoch(epoch);
        let read = 0, lossSum = 0, lastLoss: number | null = null, tLog = t0;
        for (let i = 0; i < spe; i++) {
          const step = epoch * spe + i;
          const pt = this.schedule.at(step);
          const g = new Graph(e);
          try {
            const { x, labels } = batcher.batch(i, g);
            this.model.store.zeroGrad();
            const loss = crossEntropy(g, this.model.forward(g, x, { training: true }), labels, { labelSmoothing: cfg.labelSmoothing });
            g.backward(loss);
            this.optimizer.step({ lr: pt.lr, momentum: pt.momentum });
            e.commandEncoder().copyBufferToBuffer(loss.buffer, loss.offset, losses.buffer, losses.offset + i * 4, 4);
          } finally {
            g.dispose();
          }
          if ((i + 1) % cfg.logEvery === 0 || i === spe - 1) {
            // Reading the losses is the step's only sync point.
            const all = await losses.read();
            for (let j = read; j <= i; j++) {
              if (!Number.isFinite(all[j])) {
                const where = this.lastCheckpoint ? `the last good checkpoint, ${this.lastCheckpoint}, is untouched` : 'no checkpoint was written yet';
                throw new NonFiniteLossError(`train: the loss is ${all[j]} at step ${epoch * spe + j} (epoch ${epoch}, batch ${j}); ${where}. ` +
                  'Lower the learning rate, or check the data.');
              }
              lossSum += all[j];
            }
            const tNow = this.now();
            lastLoss = all[i];
            const imagesPerS = ((i + 1 - read) * cfg.batchSize) / Math.max(1e-9, tNow - tLog);
            read = i + 1;
            tLog = tNow;
            await this.hooks.log?.({ type: 'step', epoch, step: step + 1, lr: pt.lr, mu: pt.momentum, muc: pt.muCritical, regime: pt.regime,
              loss: lastLoss, images_per_s: imagesPerS, wall_s: this.wallSeconds + tNow - t0 });
          }
          this.hooks.progress?.({ epoch, epochs: cfg.epochs, batch: i + 1, batches: spe, loss: lastLoss, lr: pt.lr, mu: pt.momentum, elapsed: this.wallSeconds + this.now() - t0 });
        }
        const trainSeconds = this.now() - t0;
        const result = await evaluate(e, this.model, this.data.test, { batchSize: cfg.evalBatchSize, mean: this.mean, std: this.std });
        this.lastEval = result;
        this.schedule.reportAccuracy(epoch, result.accuracy);
        this.wallSeconds += this.now() - t0;
        this.epoch = epoch + 1;
        const pt = this.schedule.at(this.epoch * spe - 1);
        const regime = this.schedule.summary().perEpoch[epoch] ?? pt.regime;
        await this.hooks.log?.({ type: 'epoch', epoch, step: this.epoch * spe, lr: pt.lr, mu: pt.momentum, muc: pt.muCritical, regime,
          train_loss: lossSum / spe, test_loss: result.loss, accuracy: result.accuracy, per_class_accuracy: result.perClassAccuracy,
          confusion: result.confusion, misclassified: result.misclassified, images_per_s: (spe * cfg.batchSize) / trainSeconds, wall_s: this.wallSeconds });
        if (this.hooks.checkpoint) this.lastCheckpoint = await this.hooks.checkpoint(this.state(), this);
      }
    } finally {
      losses.dispose();
      batcher.destroy();
    }
    return this.lastEval;
  }

  destroy(): void {
    this.optimizer.destroy();
    this.model.store.destroy();
  }
}
