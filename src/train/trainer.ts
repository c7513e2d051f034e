/**
 * The training loop, in parts others compose: `step(g, batch)` is one training step (forward →
 * loss → backward → one optimizer dispatch with α(t), μ(t) taken from the schedule, which it
 * advances); `evaluate()` scores the model on the test set; `fit()` runs epochs of steps with
 * evaluation, a log record per epoch and per logged step, and a checkpoint per epoch. The Trainer
 * takes an existing model and optimizer (a loaded checkpoint can be fine-tuned); `Trainer.create`
 * builds both from a TrainConfig. Browser-safe: files, terminals and clocks reach it through
 * TrainerHooks (the CLI supplies Node's).
 *
 * No CPU–GPU round trip per step: each step's loss is copied into a GPU array, read back every
 * `logEvery` steps (which also bounds the queue). A NaN or Inf loss stops training with an error
 * naming the step; the last checkpoint, written only after a finite epoch, is never touched.
 * With the engine's autotuner on (enableTuning), fit() lets it time the kernel shapes met for the
 * first time at its sync points (the first step's, then wherever new shapes appear).
 * `fit({ signal })` stops at the next step boundary when the signal aborts and rejects with the
 * signal's reason (an AbortError, as fetch does); the trainer stays consistent, so a later fit()
 * continues from that step, and nothing partial is checkpointed.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import { channelStats, type Dataset, type DatasetSplit } from '../data/dataset';
import { GpuBatcher, type Batch } from '../data/batcher';
import { acquireResident, fitsResident, releaseResident } from '../data/resident';
import type { Model } from '../nn/model';
import { createModel, inputMismatch } from '../nn/registry';
import { Optimizer } from '../optim/optimizer';
import { crossEntropy } from '../ops';
import { Graph } from '../autograd/graph';
import { TrainingSchedule, type ScheduleConfig, type SchedulePoint } from '../schedule';
import { evaluate, type EvalResult } from './evaluate';
import type { TrainConfig, TrainerHooks, TrainerState } from './types';

export * from './types';

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

/** The loss grew past the run's divergence limit (TrainConfig.divergence). */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
}

/** Steps queued ahead of the GPU: enough to keep it busy, few enough that progress tracks finished work. */
const IN_FLIGHT = 2;

/** The divergence guard's default: a mean loss 10× the run's first logged loss (ln 10 ≈ 2.3 for 10 classes). */
export const DEFAULT_DIVERGENCE = 10;

/** What a Trainer works on: a model and its optimizer (the caller's), the data and the run's settings. */
export interface TrainerParts {
  model: Model;
  optimizer: Optimizer;
  data: DatasetSplit;
  config: TrainConfig;
  hooks?: TrainerHooks;
}

export interface FitOptions {
  /** Stop after this many epochs are complete (default: the config's epochs). */
  untilEpoch?: number;
  /** Aborting stops training at the next step boundary; fit() then rejects with signal.reason. */
  signal?: AbortSignal;
}

export class Trainer {
  readonly model: Model;
  readonly optimizer: Optimizer;
  readonly data: DatasetSplit;
  readonly config: TrainConfig;
  schedule: TrainingSchedule;
  readonly stepsPerEpoch: number;
  /** Per-channel normalisation of the inputs (evaluation uses the same). */
  readonly mean: number[];
  readonly std: number[];
  /** Epochs completed (the next epoch to run). */
  epoch = 0;
  lastEval: EvalResult | null = null;
  lastCheckpoint: string | null = null;
  private wallSeconds = 0;
  private readonly scheduleConfig: ScheduleConfig;
  private readonly hooks: TrainerHooks;
  /** Whether destroy() frees the model and optimizer (made by Trainer.create). */
  private owns = false;
  private batcher: GpuBatcher | null = null;
  /** Each step's loss of the current epoch, on the GPU; read every logEvery steps. */
  private losses: Tensor | null = null;
  private epochLoss = { sum: 0, read: 0, logged: 0 };
  /** The newest loss read back (shown by progress from the run's first step on). */
  private lastLoss: number | null = null;
  /** The mean loss of the run's first logged window: what the divergence guard compares with. */
  private lossReference: number | null = null;
  private destroyed = false;
  /** The datasets this trainer keeps resident on the GPU. */
  private readonly held: Dataset[];

  constructor(readonly engine: Engine, parts: TrainerParts) {
    const { model, optimizer, data, config } = parts;
    const { train } = data;
    if (optimizer.store !== model.store) throw new Error("train: the optimizer was made for another model's parameters");
    if (config.batchSize < 1 || config.batchSize > train.n) throw new RangeError(`train: batch size ${config.batchSize} must be between 1 and the ${train.n} training samples`);
    if (train.c !== model.config.inChannels) throw new RangeError(`train: the data has ${train.c} channels but the model expects ${model.config.inChannels}`);
    if (config.divergence != null && !(config.divergence > 1)) throw new RangeError(`train: divergence must be a number > 1 (a multiple of the first loss) or null for off, got ${config.divergence}`);
    if (train.classes.length > model.config.numClasses) throw new RangeError(`train: ${train.classes.length} classes but the model has ${model.config.numClasses} outputs`);
    const misfit = inputMismatch(model.config, train);
    if (misfit.length) throw new RangeError(`train: the data does not fit ${model.config.name}: ${misfit.join('; ')}`);
    this.model = model;
    this.optimizer = optimizer;
    this.data = data;
    // The saved config describes the model and optimizer actually trained.
    this.config = { ...config, model: model.config, optimizer: { ...config.optimizer, ...optimizer.options } };
    this.hooks = parts.hooks ?? {};
    const stats = config.mean && config.std ? { mean: config.mean, std: config.std } : channelStats(train);
    this.mean = stats.mean;
    this.std = stats.std;
    this.stepsPerEpoch = Math.floor(train.n / config.batchSize);
    this.scheduleConfig = { epochs: config.epochs, stepsPerEpoch: this.stepsPerEpoch, lr: config.lr, momentum: config.momentum };
    this.schedule = new TrainingSchedule(this.scheduleConfig);
    // Both splits stay on the GPU for the trainer's life (when they fit; larger ones are streamed
    // by the batchers): every epoch and evaluation shares them.
    this.held = [data.train, data.test].filter((ds) => fitsResident(engine, ds));
    for (const ds of this.held) acquireResident(engine, ds);
  }

  /**
   * A trainer with a new model (config.model, built by name from the registry and seeded from
   * config.seed: a config without a name is a ResNet-18) and optimizer, freed by destroy().
   */
  static create(engine: Engine, data: DatasetSplit, config: TrainConfig, hooks: TrainerHooks = {}): Trainer {
    const model = createModel(engine, config.model, config.seed);
    const optimizer = new Optimizer(model.store, config.optimizer);
    const t = new Trainer(engine, { model, optimizer, data, config, hooks });
    t.owns = true;
    return t;
  }

  /** Steps taken so far (the schedule's position). */
  get stepsTaken(): number {
    return this.schedule.position;
  }

  state(): TrainerState {
    const { train } = this.data;
    return { epoch: this.epoch, step: this.stepsTaken, schedule: this.schedule.state(), seed: this.config.seed, wallSeconds: this.wallSeconds,
      config: this.config, mean: this.mean, std: this.std, lossReference: this.lossReference,
      classes: [...train.classes], input: { channels: train.c, height: train.h, width: train.w } };
  }

  /** Continues from a state saved after an epoch (weights and optimizer are loaded by the caller). */
  restore(state: TrainerState): void {
    const schedule = TrainingSchedule.restore(this.scheduleConfig, state.schedule);
    if (schedule.position !== state.epoch * this.stepsPerEpoch) {
      throw new Error(`train: the saved schedule is at step ${schedule.position}, but ${state.epoch} epochs of ${this.stepsPerEpoch} steps were saved; ` +
        'the state is from another run or was edited');
    }
    this.schedule = schedule;
    this.epoch = state.epoch;
    this.wallSeconds = state.wallSeconds;
    this.epochLoss = { sum: 0, read: 0, logged: 0 };
    this.lossReference = typeof state.lossReference === 'number' ? state.lossReference : null;
  }

  /**
   * One training step on a batch, recorded on g (which the caller disposes): zero the gradients,
   * forward in training mode, cross-entropy, backward, one optimizer update with the schedule's
   * next learning rate and momentum. Returns the loss (a GPU scalar on g) and the point used.
   */
  step(g: Graph, batch: Batch): { loss: Tensor; point: SchedulePoint } {
    const point = this.schedule.next();
    this.model.store.zeroGrad();
    const logits = this.model.forward(g, batch.x, { training: true });
    const loss = g.scope('loss', () => crossEntropy(g, logits, batch.labels, { labelSmoothing: this.config.labelSmoothing }));
    g.backward(loss);
    this.optimizer.step({ lr: point.lr, momentum: point.momentum });
    return { loss, point };
  }

  /** Accuracy, loss, per-class accuracy, confusion and misclassified samples on the test set. */
  evaluate(): Promise<EvalResult> {
    return evaluate(this.engine, this.model, this.data.test, { batchSize: this.config.evalBatchSize, mean: this.mean, std: this.std });
  }

  private now(): number {
    return (this.hooks.now ?? (() => performance.now() / 1000))();
  }

  /**
   * Trains until `untilEpoch` epochs are complete (default: all), evaluating and checkpointing
   * after each; continues from wherever the trainer is, mid-epoch included. Returns the last
   * evaluation (null if no epoch completed).
   *
   * At most IN_FLIGHT steps are queued ahead of the GPU: each step is submitted on its own and
   * the progress hook fires as the GPU finishes it (not as it is recorded), so a progress bar
   * tracks work done. Losses are read back at the first step of the run and every `logEvery`
   * steps; a NaN or Inf loss, or (with `divergence`) a mean loss above that multiple of the
   * run's first logged loss, stops training before the epoch is evaluated or checkpointed.
   */
  async fit(opts: FitOptions | number = {}): Promise<EvalResult | null> {
    const { untilEpoch = this.config.epochs, signal } = typeof opts === 'number' ? { untilEpoch: opts } : opts;
    if (this.destroyed) throw new Error('train: this Trainer was destroyed');
    signal?.throwIfAborted();
    const e = this.engine, cfg = this.config, spe = this.stepsPerEpoch;
    this.batcher ??= new GpuBatcher(e, this.data.train, { batchSize: cfg.batchSize, shuffle: true, augment: cfg.augment, mean: this.mean, std: this.std, seed: cfg.seed, dropLast: true });
    this.losses ??= e.empty([spe]);
    const batcher = this.batcher, losses = this.losses;
    let firstOfFit = true;
    for (; this.epoch < Math.min(untilEpoch, cfg.epochs); ) {
      const epoch = this.epoch;
      let t0 = this.now();
      batcher.startEpoch(epoch);
      let tLog = t0;
      const inFlight: Promise<void>[] = [];
      for (let i = this.stepsTaken - epoch * spe; i < spe; i++) {
        if (signal?.aborted) {
          // Every queued step finishes (and reports progress) before fit() rejects.
          await Promise.all(inFlight);
          await e.sync();
          this.wallSeconds += this.now() - t0;
          throw signal.reason;
        }
        const g = new Graph(e);
        let pt: SchedulePoint;
        try {
          const { loss, point } = this.step(g, batcher.batch(i, g));
          pt = point;
          e.commandEncoder().copyBufferToBuffer(loss.buffer, loss.offset, losses.buffer, losses.offset + i * 4, 4);
        } finally {
          g.dispose();
        }
        e.flush();
        const done = { epoch: epoch + 1, epochs: cfg.epochs, batch: i + 1, batches: spe, lr: pt.lr, mu: pt.momentum };
        inFlight.push(e.device.queue.onSubmittedWorkDone().then(() => {
          this.hooks.progress?.({ ...done, loss: this.lastLoss, elapsed: this.wallSeconds + this.now() - t0 });
        }));
        if (inFlight.length > IN_FLIGHT) await inFlight.shift();
        const first = firstOfFit;
        firstOfFit = false;
        if (first || (i + 1) % cfg.logEvery === 0 || i === spe - 1) {
          // Reading the losses is the loop's only full sync point.
          const all = await losses.read();
          await Promise.all(inFlight.splice(0));
          const from = this.epochLoss.read;
          for (let j = from; j <= i; j++) {
            if (!Number.isFinite(all[j])) throw this.stopped(new NonFiniteLossError(`the loss is ${all[j]} at step ${epoch * spe + j + 1} (epoch ${epoch + 1}, batch ${j + 1})`));
            this.epochLoss.sum += all[j];
          }
          const windowMean = (this.epochLoss.sum - this.epochLoss.logged) / (i + 1 - from);
          this.lossReference ??= windowMean;
          const limit = cfg.divergence ?? null;
          if (limit !== null && windowMean > limit * this.lossReference) {
            throw this.stopped(new DivergenceError(`the mean loss of steps ${epoch * spe + from + 1}–${epoch * spe + i + 1} is ${windowMean.toPrecision(4)}, ` +
              `more than ${limit}× the run's first logged loss (${this.lossReference.toPrecision(4)}): training diverged (epoch ${epoch + 1})`));
          }
          this.epochLoss.logged = this.epochLoss.sum;
          const tNow = this.now();
          this.lastLoss = all[i];
          this.epochLoss.read = i + 1;
          await this.hooks.log?.({ type: 'step', epoch: epoch + 1, step: epoch * spe + i + 1, lr: pt.lr, mu: pt.momentum, muc: pt.muCritical, regime: pt.regime,
            loss: this.lastLoss, images_per_s: ((i + 1 - from) * cfg.batchSize) / Math.max(1e-9, tNow - tLog), wall_s: this.wallSeconds + tNow - t0 });
          this.hooks.progress?.({ ...done, loss: this.lastLoss, elapsed: this.wallSeconds + tNow - t0 });
          tLog = tNow;
          // Nothing is in flight here: time the kernel shapes met for the first time (autotuner).
          // Its time is not training time: wall_s and images/s leave it out (the hook reports it).
          if (e.tuner?.waiting) {
            this.hooks.tuning?.(e.tuner.waiting);
            const reports = await e.tuner.tunePending();
            const seconds = this.now() - tNow;
            this.hooks.tuned?.(reports, seconds);
            t0 += seconds;
            tLog = this.now();
          }
        }
      }
      await this.finishEpoch(epoch, t0);
    }
    return this.lastEval;
  }

  /** The error that stops a run, naming what is safe: the last checkpoint is never touched. */
  private stopped<T extends Error>(err: T): T {
    err.message += `; ${this.lastCheckpoint ? `the last good checkpoint, ${this.lastCheckpoint}, is untouched` : 'no checkpoint was written yet'}. ` +
      (err instanceof DivergenceError ? 'Lower the learning rate (or raise the limit, or turn the guard off).' : 'Lower the learning rate, or check the data.');
    return err;
  }

  /** Evaluates, reports the accuracy to the schedule, logs the epoch and checkpoints. */
  private async finishEpoch(epoch: number, t0: number): Promise<void> {
    const cfg = this.config, spe = this.stepsPerEpoch;
    const trainSeconds = this.now() - t0;
    const result = await this.evaluate();
    this.lastEval = result;
    this.schedule.reportAccuracy(epoch, result.accuracy);
    this.wallSeconds += this.now() - t0;
    this.epoch = epoch + 1;
    const trainLoss = this.epochLoss.sum / spe;
    this.epochLoss = { sum: 0, read: 0, logged: 0 };
    const pt = this.schedule.at(this.epoch * spe - 1);
    const regime = this.schedule.summary().perEpoch[epoch] ?? pt.regime;
    await this.hooks.log?.({ type: 'epoch', epoch: epoch + 1, step: this.epoch * spe, lr: pt.lr, mu: pt.momentum, muc: pt.muCritical, regime,
      train_loss: trainLoss, test_loss: result.loss, accuracy: result.accuracy, per_class_accuracy: result.perClassAccuracy,
      confusion: result.confusion, misclassified: result.misclassified, images_per_s: (spe * cfg.batchSize) / trainSeconds, wall_s: this.wallSeconds });
    if (this.hooks.checkpoint) this.lastCheckpoint = await this.hooks.checkpoint(this.state(), this);
  }

  /** Frees the trainer's GPU memory (and the model and optimizer when Trainer.create made them). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.batcher?.destroy();
    this.losses?.dispose();
    for (const ds of this.held) releaseResident(this.engine, ds);
    if (this.owns) {
      this.optimizer.destroy();
      this.model.destroy();
    }
  }
}
