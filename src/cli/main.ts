/**
 * `critdamp train` and `critdamp eval`: the command line. Node only (files, terminal, Dawn).
 */
import '../gpu/node';
import { appendFile, mkdir, readdir, rename, rmdir, truncate, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Engine } from '../gpu/engine';
import { loadDataset, type DatasetName } from '../data/index.node';
import { channelStats } from '../data/dataset';
import { loadRunData, runDataOf, subsets, type RunData, type RunSplit } from '../data/rundata.node';
import { applyHeldOut, makeHeldOut } from '../data/split';
import { parseLrSpec, parseMomentumSpec, type LrConfig } from '../schedule';
import { Trainer, DEFAULT_DIVERGENCE, type TrainConfig, type TrainerState, type EpochRecord, type StepRecord } from '../train/trainer';
import { evaluate } from '../train/evaluate';
import { findCheckpoint, listCheckpoints, loadCheckpointModel, loadWeightsFile, readRunState, restoreNewest, saveCheckpoint } from '../io/checkpoint.node';
import { cardMismatch } from '../io/weights';
import type { Model } from '../nn/model';
import type { Dataset } from '../data/dataset';
import { configFor, describeModel, inputMismatch, modelEntry, modelNames } from '../nn/registry';
import { trainConfig } from '../train/config';
import { Progress } from './progress';
import { parseAugment, parseFlags, parseWidth } from './flags';
import { acquireLock, inUseMessage, lockHolder } from '../io/lock.node';
import { HELP, getPreset, type Preset } from './presets';
import { benchCommand } from './bench';
import { correctCommand, diagnoseCommand } from './diagnose';
import { experimentCommand } from './experiment';
import { compareCommand } from './compare';
import { serveCommand } from './serve';
import { cliTuning, tunedLine } from './tune';

const OPTIONS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  download: { type: 'boolean' },
  width: { type: 'string' },
  stem: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  'lr-schedule': { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  nesterov: { type: 'boolean' },
  'label-smoothing': { type: 'string' },
  augment: { type: 'string' },
  'train-subset': { type: 'string' },
  'test-subset': { type: 'string' },
  val: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  'log-every': { type: 'string' },
  divergence: { type: 'string' },
  'no-tune': { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `critdamp eval`: only what evaluating a checkpoint needs. */
export const EVAL_OPTIONS = {
  checkpoint: { type: 'string' },
  data: { type: 'string' },
  'data-dir': { type: 'string' },
  download: { type: 'boolean' },
  'test-subset': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TRAIN_OPTIONS = OPTIONS;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string } & { checkpoint?: string };

/** A numeric flag; `want` says what is valid (the error repeats it). */
function num(v: Values, key: keyof Values, fallback: number, check: (x: number) => boolean, want: string): number {
  const raw = v[key];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !check(x)) throw new Error(`--${key}: '${raw}' is not ${want}`);
  return x;
}

const INT1 = (x: number) => Number.isInteger(x) && x >= 1, INT0 = (x: number) => Number.isInteger(x) && x >= 0;

/** A schedule spec from a flag, its error naming the flag. */
function spec<T>(flag: string, text: string, parse: (s: string) => T): T {
  try {
    return parse(text);
  } catch (e) {
    throw new Error(`--${flag}: ${(e as Error).message.replace(/^(learning-rate|momentum) spec:? ?/, '')}`);
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface RunOptions {
  config: TrainConfig;
  data: DatasetName;
  dataDir?: string;
  download: boolean;
  trainSubset: number;
  testSubset: number;
  /** Share of each class of the training data held out as the validation split (0: none). */
  val: number;
  out: string;
  /** Defaults the run took that the user may not expect (printed at the start). */
  notes: string[];
}

/** Preset first, then every flag given on the command line overrides it. */
export function buildRun(v: Values): RunOptions {
  const p = getPreset<Preset>('train', v.preset ?? 'fashion-cpu');
  const optimizer = (v.optimizer ?? p.optimizer) as 'sgd' | 'adam' | 'adamw';
  if (!['sgd', 'adam', 'adamw'].includes(optimizer)) throw new Error(`--optimizer: '${optimizer}' is not sgd, adam or adamw`);
  // Adam on a preset made for SGD takes Adam's own defaults (lr 0.001, β1 = 0.9), not SGD's lr 0.1
  // and the physics curve as β1 (0.5 at that rate); the run says so, and --lr / --momentum override.
  const adamDefaults = optimizer !== 'sgd' && p.optimizer === 'sgd';
  const notes: string[] = [];
  let lr: LrConfig = spec('lr-schedule', v['lr-schedule'] ?? p.lrSchedule, parseLrSpec);
  if (adamDefaults && v.lr === undefined && !(v['lr-schedule'] !== undefined && /:\d/.test(v['lr-schedule']))) {
    lr = lr.kind === 'onecycle' ? { ...lr, maxLr: ADAM_LR } : { ...lr, lr: ADAM_LR };
    notes.push(`learning rate ${ADAM_LR} (Adam's default; the preset's ${p.lrSchedule} is for SGD; --lr sets another)`);
  }
  if (v.lr !== undefined) {
    const base = num(v, 'lr', 0, (x) => Number.isFinite(x) && x > 0, 'a learning rate > 0');
    lr = lr.kind === 'onecycle' ? { ...lr, maxLr: base } : { ...lr, lr: base };
  }
  const stem = v.stem ?? p.stem;
  if (stem !== 'cifar' && stem !== 'imagenet') throw new Error(`--stem: '${stem}' is not cifar or imagenet`);
  const modelName = v.model ?? p.model ?? 'resnet18';
  if (!modelNames().includes(modelName)) throw new Error(`--model: unknown model '${modelName}' (${modelNames().join(', ')})`);
  const augment = parseAugment(v.augment ?? p.augment);
  const data = (v.data ?? p.data) as DatasetName;
  if (!DATASETS.includes(data)) throw new Error(`--data: '${data}' is not ${DATASETS.join(', ')}`);
  const classes = data === 'cifar100' ? 100 : 10;
  const gray = data === 'fashion-mnist' || data === 'mnist';
  // The model's options: a flag for one it does not take is an error; a preset's value for one is left out.
  const takes = modelEntry(modelName).options;
  const given: Record<string, unknown> = { width: v.width ? parseWidth(v.width) : p.width, stem };
  const options: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(given)) {
    if (k in takes) options[k] = value;
    else if (v[k as keyof Values] !== undefined) throw new Error(`--${k}: ${modelName} takes no ${k} (its options: ${Object.keys(takes).join(', ') || 'none'})`);
  }
  // The image size is known for the named datasets; an image folder's (or any) is filled in from the data before training.
  const size: [number, number] = data === 'cifar10' || data === 'cifar100' ? [32, 32] : gray ? [28, 28] : [0, 0];
  const config = trainConfig({
    epochs: num(v, 'epochs', p.epochs, INT1, 'a whole number of epochs ≥ 1'),
    batchSize: num(v, 'batch-size', p.batchSize, INT1, 'an integer ≥ 1'),
    seed: num(v, 'seed', 0, INT0, 'an integer ≥ 0'),
    model: configFor(modelName, { numClasses: classes, inChannels: gray ? 1 : 3, inputSize: size }, options),
    optimizer: { kind: optimizer, weightDecay: num(v, 'weight-decay', p.weightDecay, (x) => Number.isFinite(x) && x >= 0, 'a number ≥ 0'), nesterov: v.nesterov ?? false },
    lr,
    momentum: spec('momentum', v.momentum ?? (adamDefaults ? 'constant:0.9' : p.momentum), parseMomentumSpec),
    augment,
    labelSmoothing: num(v, 'label-smoothing', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    logEvery: num(v, 'log-every', p.logEvery, INT1, 'an integer ≥ 1'),
    evalBatchSize: 256,
    divergence: v.divergence === 'off' ? null : num(v, 'divergence', DEFAULT_DIVERGENCE, (x) => Number.isFinite(x) && x > 1, "a multiple > 1 of the first loss, or 'off'"),
  });
  return {
    config, data, dataDir: v['data-dir'], download: v.download ?? false,
    trainSubset: num(v, 'train-subset', p.trainSubset ?? 0, INT0, 'an integer ≥ 0 (0 = all)'),
    testSubset: num(v, 'test-subset', p.testSubset ?? 0, INT0, 'an integer ≥ 0 (0 = all)'),
    val: num(v, 'val', 0, (x) => x === 0 || (x > 0 && x < 1), 'a fraction in (0, 1) such as 0.1, or 0 for none'),
    out: resolve(v.out ?? join('runs', `${data}-${modelName === 'resnet18' ? '' : `${modelName}-`}${optimizer === 'sgd' ? '' : `${optimizer}-`}${config.momentum.kind}-seed${config.seed}`)),
    notes: adamDefaults && v.momentum === undefined ? [...notes, `β1 = 0.9 (Adam's default; the preset's '${p.momentum}' momentum schedule is for SGD; --momentum sets β1's schedule)`] : notes,
  };
}

/** Adam's usual learning rate (Kingma & Ba), used when a preset made for SGD is run with Adam. */
const ADAM_LR = 0.001;

const DATASETS: readonly DatasetName[] = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder'];

/** A new run's data: the seeded subsets (drawn with the run's seed), then the held-out split. */
async function newRunData(r: RunOptions, seed: number): Promise<{ record: RunData; split: RunSplit }> {
  const { train, test } = subsets(await loadDataset(r.data, { dir: r.dataDir, download: r.download }), { ...r, subsetSeed: seed });
  const record: RunData = { data: r.data, ...(r.dataDir !== undefined ? { dataDir: r.dataDir } : {}), trainSubset: r.trainSubset, testSubset: r.testSubset, subsetSeed: seed };
  if (r.val === 0) return { record, split: { train, val: null, test, fullTrain: train } };
  record.heldOut = makeHeldOut(train, r.val, seed);
  return { record, split: { ...applyHeldOut(train, record.heldOut), test, fullTrain: train } };
}

/**
 * What can fail at the start of a run, checked before its folder exists: each error names the
 * flag(s) to change.
 */
function checkRunData(config: TrainConfig, split: RunSplit, r: Pick<RunOptions, 'trainSubset' | 'testSubset' | 'val'>): void {
  const { train, test } = split;
  const subsetHint = r.trainSubset ? ` (--train-subset ${r.trainSubset}${r.val ? `, less --val ${r.val}` : ''})` : r.val ? ` (less --val ${r.val})` : '';
  if (train.n === 0) throw new Error(`there are no training images${subsetHint}: raise --train-subset or check --data-dir`);
  if (config.batchSize > train.n) {
    throw new Error(`--batch-size ${config.batchSize} is larger than the ${train.n} training images${subsetHint}: lower --batch-size or use more images`);
  }
  if (test.n === 0) throw new Error(`the test split is empty${r.testSubset ? ` (--test-subset ${r.testSubset})` : ''}: an image folder needs test images (a test/ subfolder, or enough images per class to hold some out)`);
  const present = new Set(train.labels).size;
  if (train.classes.length < 2 || present < 2) throw new Error(`the training images hold ${present} class${present === 1 ? '' : 'es'} of ${train.classes.length}: a classifier needs at least two (check --data-dir or --train-subset)`);
}

const NO_CHECKPOINT = 'the same command starts the run again in this folder, and keeps this log beside it';

/**
 * The folder a new run writes to, locked. A folder holding a run (a checkpoint) is never reused:
 * with --out that is an error; without, the next free name is taken (runs/x-2, -3, …), also when
 * another process claims the same name at the same moment. A folder whose run stopped before its
 * first checkpoint is free: its old log is kept beside it.
 */
async function claimFolder(run: RunOptions, explicit: boolean): Promise<{ release: () => void; keptLog: string | null }> {
  const base = run.out;
  const held = (dir: string) => new Error(`--out ${dir} already holds a run (checkpoints/): continue it with --resume, or choose another --out`);
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (explicit) {
      if (await holdsRun(dir)) throw held(dir);
      const holder = lockHolder(dir);
      if (holder !== null) throw new Error(inUseMessage(dir, holder));
    } else if ((await holdsRun(dir)) || lockHolder(dir) !== null) {
      continue;
    }
    await mkdir(dir, { recursive: true });
    let release: () => void;
    try {
      release = acquireLock(dir);
    } catch (e) {
      // Another process took this name a moment ago: take the next.
      if (explicit) throw e;
      continue;
    }
    // Checked again under the lock: another process may have finished an epoch here in between.
    if (await holdsRun(dir)) {
      release();
      if (explicit) throw held(dir);
      continue;
    }
    if (dir !== base) console.log(`critdamp train: ${base} holds an earlier run; this one goes to ${dir} (--resume continues the earlier one)`);
    run.out = dir;
    return { release, keptLog: await keepStoppedLog(dir) };
  }
}

/** Removes a folder that holds nothing (what a failed start made). */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    if ((await readdir(dir)).length === 0) await rmdir(dir);
  } catch { /* gone already */ }
}

/** Whether a folder holds a run that can be resumed: any checkpoint, intact or not. */
async function holdsRun(dir: string): Promise<boolean> {
  return existsSync(join(dir, 'checkpoints')) && (await listCheckpoints(dir)).length > 0;
}

/**
 * A folder where a run stopped before its first checkpoint (Ctrl-C, the divergence guard, a crash)
 * holds only a log: it is free for a new run, and the old log is kept beside it, renamed.
 */
async function keepStoppedLog(dir: string): Promise<string | null> {
  const log = join(dir, 'log.jsonl');
  if (!existsSync(log)) return null;
  const kept = join(dir, `log.stopped-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  await rename(log, kept);
  return kept;
}

/** The data flags given on --resume that differ from the run's record, as "--flag: saved → given". */
function dataDifferences(saved: RunData, given: RunOptions, v: Values): string[] {
  const flags: [string, unknown, unknown][] = [
    ['data', saved.data, given.data], ['data-dir', saved.dataDir ?? null, given.dataDir ?? null], ['train-subset', saved.trainSubset, given.trainSubset],
    ['test-subset', saved.testSubset, given.testSubset], ['val', saved.heldOut?.fraction ?? 0, given.val],
  ];
  return flags.filter(([flag, a, b]) => v[flag as keyof Values] !== undefined && JSON.stringify(a) !== JSON.stringify(b))
    .map(([flag, a, b]) => `--${flag}: ${JSON.stringify(a)} in the run, ${JSON.stringify(b)} given`);
}

/** The settings of a saved run that differ from the flags given now, as "name: saved → given". */
function configDifferences(saved: TrainConfig, given: TrainConfig, v: Values): string[] {
  const flags: [string, (c: TrainConfig) => unknown][] = [
    ['epochs', (c) => c.epochs], ['batch-size', (c) => c.batchSize], ['seed', (c) => c.seed], ['model', (c) => c.model.name ?? 'resnet18'],
    ['width', (c) => c.model.width], ['stem', (c) => c.model.stem],
    ['optimizer', (c) => c.optimizer.kind], ['weight-decay', (c) => c.optimizer.weightDecay], ['lr-schedule', (c) => c.lr], ['lr', (c) => c.lr],
    ['momentum', (c) => c.momentum], ['augment', (c) => c.augment], ['label-smoothing', (c) => c.labelSmoothing],
  ];
  return flags.filter(([flag, get]) => v[flag as keyof Values] !== undefined && JSON.stringify(get(saved)) !== JSON.stringify(get(given)))
    .map(([flag, get]) => `--${flag}: ${JSON.stringify(get(saved))} in the run, ${JSON.stringify(get(given))} given`);
}

/** Returns the exit code: 0 when training finished, 130 when Ctrl-C or SIGTERM stopped it. */
async function train(v: Values): Promise<number> {
  const run = buildRun(v);
  if (!v.resume) for (const n of run.notes) console.log(`critdamp train: --optimizer ${run.config.optimizer.kind}: ${n}`);
  // --resume: the run's config and data from the newest state.json that reads back (the model and
  // data depend on it); restoreNewest below loads the newest checkpoint that loads whole.
  let config = run.config;
  let saved: TrainerState | null = null;
  let record: RunData;
  let split: RunSplit;
  if (v.resume) {
    const holder = lockHolder(run.out);
    if (holder !== null) throw new Error(inUseMessage(run.out, holder));
    const candidates = await listCheckpoints(run.out);
    if (candidates.length === 0) {
      throw new Error(`--resume: no checkpoint under ${run.out}/checkpoints${existsSync(join(run.out, 'log.jsonl')) ? ' (the run stopped before its first epoch ended)' : ''}; ` +
        'start the run again without --resume');
    }
    const unreadable: string[] = [];
    for (const dir of candidates) {
      try {
        saved = await readRunState<TrainerState>(dir);
        if (!saved.config) throw new Error(`${join(dir, 'state.json')}: no run config`);
        record = runDataOf(saved, join(dir, 'state.json'));
        break;
      } catch (e) {
        saved = null;
        unreadable.push(`${dir} (${(e as Error).message})`);
      }
    }
    if (!saved) throw new Error(`--resume: no intact checkpoint under ${run.out}: ${unreadable.join('; ')}`);
    // The run continues exactly as it was configured, on its own data: the schedule (a cosine over
    // all epochs, say) depends on the epoch count, the resumed steps on the images.
    const diff = [...configDifferences(saved.config, run.config, v), ...dataDifferences(record!, run, v)];
    if (diff.length) {
      throw new Error(`--resume: the run in ${run.out} was set up differently (${diff.join('; ')}); resume without those flags, ` +
        'or start a new run with another --out');
    }
    if (saved.epoch >= saved.config.epochs) {
      console.log(`critdamp train: the run in ${run.out} is already finished (${plural(saved.config.epochs, 'epoch')}); nothing to resume. ` +
        `Evaluate it with: critdamp eval --checkpoint ${run.out}`);
      return 0;
    }
    config = saved.config;
    split = await loadRunData(record!, { download: run.download });
  } else {
    ({ record, split } = await newRunData(run, config.seed));
    // Channels, classes and (for a model that takes one size) the image size come from the data (image folders have any of each).
    const size = 'inputSize' in config.model ? { inputSize: [split.train.h, split.train.w] } : {};
    config = { ...config, model: { ...config.model, inChannels: split.train.c, numClasses: split.train.classes.length, ...size } };
  }
  checkRunData(config, split, v.resume ? { trainSubset: record!.trainSubset, testSubset: record!.testSubset, val: record!.heldOut?.fraction ?? 0 } : run);
  const data = { train: split.train, test: split.test };
  const engine = await Engine.create();
  // Only now that flags, data and device are checked does the run get a folder: a failed start leaves nothing behind.
  let release: () => void, keptLog: string | null = null;
  try {
    if (!v.resume) ({ release, keptLog } = await claimFolder(run, v.out !== undefined));
    else {
      await mkdir(run.out, { recursive: true });
      release = acquireLock(run.out);
    }
  } catch (e) {
    engine.destroy();
    throw e;
  }
  const logPath = join(run.out, 'log.jsonl');
  if (keptLog) console.log(`critdamp train: ${run.out} held a run stopped before its first checkpoint; its log is kept as ${keptLog}`);
  console.log(`critdamp train: adapter ${engine.adapterName}`);
  const progress = new Progress();
  let trainer: Trainer;
  try {
    await cliTuning(engine, v['no-tune'], 'critdamp train');
    console.log(`critdamp train: ${record!.data} ${data.train.n} train${split.val ? ` (${split.val.n} more held out for validation)` : ''} / ${data.test.n} test, ` +
      `${data.train.c}×${data.train.h}×${data.train.w}; ${describeModel(config.model)}; ${config.optimizer.kind}, lr ${JSON.stringify(config.lr)}, ` +
      `momentum ${JSON.stringify(config.momentum)}; ${plural(config.epochs, 'epoch')} of batch ${config.batchSize}; output ${run.out}`);
    trainer = Trainer.create(engine, data, config, {
      progress: (p) => progress.update(p),
      tuning: (jobs) => {
        progress.break();
        console.log(`critdamp train: timing kernel variants for ${jobs} new shape${jobs === 1 ? '' : 's'} (once per adapter and shape)`);
      },
      tuned: (reports, seconds) => console.log(`critdamp train: ${tunedLine(reports, seconds)}`),
      log: async (rec: StepRecord | EpochRecord) => {
        await appendFile(logPath, JSON.stringify(rec) + '\n');
        if (rec.type === 'epoch') {
          progress.break();
          console.log(`epoch ${rec.epoch}: train loss ${rec.train_loss.toFixed(4)}  test loss ${rec.test_loss.toFixed(4)}  ` +
            `accuracy ${(100 * rec.accuracy).toFixed(2)}%  lr ${rec.lr.toPrecision(3)}  μ ${rec.mu.toFixed(3)} (μc ${rec.muc.toFixed(3)}, ${rec.regime})  ` +
            `${rec.images_per_s.toFixed(0)} images/s`);
        }
      },
      checkpoint: async (state, t) => {
        let logBytes = 0;
        try { logBytes = (await stat(logPath)).size; } catch { /* no log yet */ }
        return saveCheckpoint(run.out, t.model.store, t.optimizer, { ...state, logBytes, ...record });
      },
    });
  } catch (e) {
    // A start that fails here (a device limit, tuning) leaves no lock, and no folder it made empty.
    release();
    engine.destroy();
    if (!v.resume) await removeIfEmpty(run.out);
    throw e;
  }
  try {
    if (saved) {
      // Newest first; a checkpoint whose files do not load is skipped, and the user told which and why.
      const r = await restoreNewest<TrainerState>(run.out, trainer.model.store, trainer.optimizer, (st) => trainer.restore(st));
      for (const x of r.skipped) console.log(`critdamp train: skipped the damaged checkpoint ${x}`);
      if (!r.dir || !r.state) throw new Error(`--resume: no checkpoint under ${run.out} loads; see the reasons above`);
      const resumed = r.dir;
      saved = r.state;
      trainer.lastCheckpoint = resumed;
      // The log continues from where the checkpoint was taken.
      const logBytes = Number(saved.logBytes ?? 0);
      try { await truncate(logPath, logBytes); } catch { await writeFile(logPath, ''); }
      console.log(`critdamp train: resumed from ${resumed} after epoch ${saved.epoch}`);
    } else {
      await writeFile(logPath, '');
    }
    // Ctrl-C or SIGTERM stops at the next step boundary: the last epoch checkpoint stays the resume point.
    const stop = new AbortController();
    const onSignal = (name: string) => () => {
      progress.break();
      console.log(`critdamp train: ${name}: stopping after the current step${name === 'Ctrl-C' ? ' (Ctrl-C again to quit at once)' : ''}`);
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      stop.abort(new DOMException(`training stopped by ${name}`, 'AbortError'));
    };
    const onInt = onSignal('Ctrl-C'), onTerm = onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    let result;
    try {
      result = await trainer.fit({ signal: stop.signal });
    } catch (err) {
      progress.break();
      if (!stop.signal.aborted || err !== stop.signal.reason) {
        if (!trainer.lastCheckpoint && err instanceof Error) err.message += ` (${NO_CHECKPOINT})`;
        throw err;
      }
      console.log(`critdamp train: stopped at step ${trainer.stepsTaken} (epoch ${trainer.epoch + 1}); the last checkpoint is ` +
        (trainer.lastCheckpoint ? `${trainer.lastCheckpoint}; continue with: critdamp train --resume --out ${run.out}` : `none yet, so there is nothing to resume: ${NO_CHECKPOINT}`));
      return 130;
    } finally {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    }
    progress.break();
    const summary = trainer.schedule.summary();
    if (result) {
      console.log(`\ntest accuracy ${(100 * result.accuracy).toFixed(2)}% (${result.n - result.misclassified.length}/${result.n}) after ${plural(trainer.epoch, 'epoch')}`);
      console.log(`damping regime over training: ${Object.entries(summary.steps).map(([k, f]) => `${k} ${(100 * f).toFixed(1)}%`).join(', ')} of steps`);
    }
    console.log(`log: ${logPath}`);
    console.log(`checkpoint: ${trainer.lastCheckpoint ?? 'none'}`);
    return 0;
  } finally {
    trainer.destroy();
    engine.destroy();
    release();
  }
}

export const EVAL_HELP = `critdamp eval — evaluate a checkpoint on its run's test set

Usage: critdamp eval --checkpoint DIR|FILE [options]
  --checkpoint DIR     a run directory (its latest checkpoint) or one checkpoint directory; or a
                       weights file (.safetensors from critdamp: it says which model it holds, its
                       normalisation and classes; --data then names the test data)
  --data NAME          evaluate on another dataset than the run's (same channels and classes)
  --data-dir DIR       where the data is (default: the run's)
  --download           CIFAR: download the official archive when absent
  --test-subset N      evaluate on a seeded subset of N test images (0 = all; default: the run's)
  --verbose            show Dawn's and the Vulkan loader's own warnings

The model is rebuilt from the checkpoint alone (model.safetensors describes it); data that does
not fit it (other channels, another number of classes) is refused, naming what differs.`;

async function evalCommand(v: Values): Promise<void> {
  if (!v.checkpoint) throw new Error('--checkpoint DIR is required (a run directory, one of its checkpoints, or a .safetensors file)');
  const testSubset = v['test-subset'] === undefined ? undefined : num(v, 'test-subset', 0, INT0, 'an integer ≥ 0 (0 = all)');
  const path = resolve(v.checkpoint);
  const weightsFile = path.endsWith('.safetensors') && existsSync(path);
  let test: Dataset, where: string, state: TrainerState | null = null, record: RunData | null = null;
  if (weightsFile) {
    if (!v.data) throw new Error(`--data NAME is required with a weights file: ${v.checkpoint} holds the model, not which images it was trained on`);
    ({ test } = subsets(await loadDataset(v.data as DatasetName, { dir: v['data-dir'], download: v.download ?? false }), { trainSubset: 0, testSubset: testSubset ?? 0, subsetSeed: 0 }));
    where = path;
  } else {
    const dir = await findCheckpoint(path);
    if (!dir) throw new Error(`no checkpoint found at ${v.checkpoint} (a run directory with checkpoints/latest or epoch-N folders, a checkpoint directory with state.json, or a .safetensors file)`);
    state = await readRunState<TrainerState>(dir);
    if (!state.config || !state.data) throw new Error(`${join(dir, 'state.json')}: no run config (model, data); it was not written by critdamp train`);
    // The run's own data (subsets and seeds as recorded), unless a flag names other test data.
    record = runDataOf(state, join(dir, 'state.json'));
    const asked: RunData = { ...record, ...(v.data ? { data: v.data as DatasetName } : {}), ...(v['data-dir'] ? { dataDir: v['data-dir'] } : {}), ...(testSubset !== undefined ? { testSubset } : {}) };
    ({ test } = await loadRunData(v.data || v['data-dir'] ? { ...asked, heldOut: undefined, trainSubset: 0 } : asked, { download: v.download ?? false }));
    where = dir;
  }
  const engine = await Engine.create();
  let model: Model | null = null;
  try {
    // The model as the file describes it (state.json's config for files written before that).
    const loaded = weightsFile ? await loadWeightsFile(engine, path) : await loadCheckpointModel(engine, where, state!);
    model = loaded.model;
    const card = loaded.card;
    if (card) {
      const fit = cardMismatch(card, test);
      if (fit.errors.length) throw new Error(`the data does not fit the model in ${where} (${describeModel(card.model)}): ${fit.errors.join('; ')}`);
      for (const n of fit.notes) console.warn(`critdamp eval: note: ${n}`);
    } else {
      const misfit = inputMismatch(model.config, test);
      if (misfit.length) throw new Error(`the data does not fit the model in ${where}: ${misfit.join('; ')}`);
    }
    const weights = await model.store.read();
    const bad = [...weights].filter(([, t]) => t.data.some((x) => !Number.isFinite(x))).map(([name]) => name);
    if (bad.length) console.warn(`critdamp eval: warning: ${bad.length} tensor(s) of ${where} hold NaN or infinite values (${bad.slice(0, 4).join(', ')}${bad.length > 4 ? ', …' : ''}): the run diverged; its accuracy below means little`);
    const mean = card?.mean ?? state?.mean ?? state?.config.mean, std = card?.std ?? state?.std ?? state?.config.std;
    if (!mean || !std) {
      if (!record) throw new Error(`${where}: the file records no normalisation (mean, std)`);
    }
    const stats = mean && std ? { mean, std } : channelStats((await loadRunData(record!)).train);
    const r = await evaluate(engine, model, test, { batchSize: 256, ...stats });
    console.log(`checkpoint ${where}: test accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)} on ${r.n} images`);
    console.log(`per class: ${r.perClassAccuracy.map((a, k) => `${test.classes[k]} ${(100 * a).toFixed(1)}%`).join(', ')}`);
  } finally {
    model?.destroy();
    engine.destroy();
  }
}

/** An error as the user sees it: one `critdamp <command>:` prefix, library prefixes dropped. */
export function userMessage(command: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `critdamp ${command}: ${msg.replace(/^(critdamp( \w+)?|train): /, '')}`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Dawn's and the Vulkan loader's own warnings only with --verbose (src/gpu/node.ts reads this).
  if (rest.includes('--verbose')) process.env.CRITDAMP_VERBOSE = '1';
  const sub = { bench: benchCommand, diagnose: diagnoseCommand, correct: correctCommand, experiment: experimentCommand, compare: compareCommand, serve: serveCommand }[command];
  if (sub) {
    try {
      return await sub(rest);
    } catch (e) {
      console.error(userMessage(command, e));
      return 1;
    }
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 1;
  }
  if (command !== 'train' && command !== 'eval') {
    console.error(`critdamp: unknown command '${command}' (train, eval, bench, diagnose, correct, experiment, compare, serve; critdamp --help)`);
    return 2;
  }
  let values: Values;
  try {
    values = parseFlags(rest, command === 'eval' ? EVAL_OPTIONS : OPTIONS).values as Values;
  } catch (e) {
    console.error(`${userMessage(command, e)}\n(critdamp ${command} --help lists the options)`);
    return 2;
  }
  if (values.help) {
    console.log(command === 'eval' ? EVAL_HELP : HELP);
    return 0;
  }
  try {
    if (command === 'train') return await train(values);
    await evalCommand(values);
    return 0;
  } catch (e) {
    console.error(`\n${userMessage(command, e)}`);
    return 1;
  }
}
