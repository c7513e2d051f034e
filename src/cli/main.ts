/**
 * `critdamp train` and `critdamp eval`: the command line. Node only (files, terminal, Dawn).
 */
import '../gpu/node';
import { parseArgs } from 'node:util';
import { appendFile, mkdir, readFile, truncate, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Engine } from '../gpu/engine';
import { loadDataset, type DatasetName } from '../data/index.node';
import { channelStats, subset, type DatasetSplit } from '../data/dataset';
import { parseLrSpec, parseMomentumSpec, type LrConfig } from '../schedule';
import { Trainer, DEFAULT_DIVERGENCE, type TrainConfig, type TrainerState, type EpochRecord, type StepRecord } from '../train/trainer';
import { evaluate } from '../train/evaluate';
import { findCheckpoint, listCheckpoints, loadCheckpoint, readRunState, restoreNewest, saveCheckpoint } from '../io/checkpoint.node';
import { ResNet18 } from '../nn/resnet';
import { Progress } from './progress';
import { parseAugment, parseWidth } from './flags';
import { acquireLock, inUseMessage, lockHolder } from '../io/lock.node';
import { PRESETS, HELP } from './presets';
import { benchCommand } from './bench';
import { correctCommand, diagnoseCommand } from './diagnose';
import { experimentCommand } from './experiment';
import { compareCommand } from './compare';
import { serveCommand } from './serve';
import { cliTuning, tunedLine } from './tune';

const OPTIONS = {
  preset: { type: 'string' },
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
  out: string;
}

/** Preset first, then every flag given on the command line overrides it. */
export function buildRun(v: Values): RunOptions {
  const presetName = v.preset ?? 'fashion-cpu';
  const p = PRESETS[presetName];
  if (!p) throw new Error(`--preset: unknown preset '${presetName}' (${Object.keys(PRESETS).join(', ')})`);
  const optimizer = (v.optimizer ?? p.optimizer) as 'sgd' | 'adam' | 'adamw';
  if (!['sgd', 'adam', 'adamw'].includes(optimizer)) throw new Error(`--optimizer: '${optimizer}' is not sgd, adam or adamw`);
  let lr: LrConfig = spec('lr-schedule', v['lr-schedule'] ?? p.lrSchedule, parseLrSpec);
  if (v.lr !== undefined) {
    const base = num(v, 'lr', 0, (x) => Number.isFinite(x) && x > 0, 'a learning rate > 0');
    lr = lr.kind === 'onecycle' ? { ...lr, maxLr: base } : { ...lr, lr: base };
  }
  const stem = v.stem ?? p.stem;
  if (stem !== 'cifar' && stem !== 'imagenet') throw new Error(`--stem: '${stem}' is not cifar or imagenet`);
  const augment = parseAugment(v.augment ?? p.augment);
  const data = (v.data ?? p.data) as DatasetName;
  const classes = data === 'cifar100' ? 100 : 10;
  const config: TrainConfig = {
    epochs: num(v, 'epochs', p.epochs, INT1, 'a whole number of epochs ≥ 1'),
    batchSize: num(v, 'batch-size', p.batchSize, INT1, 'an integer ≥ 1'),
    seed: num(v, 'seed', 0, INT0, 'an integer ≥ 0'),
    model: { numClasses: classes, inChannels: data === 'fashion-mnist' || data === 'mnist' ? 1 : 3, stem, width: v.width ? parseWidth(v.width) : p.width },
    optimizer: { kind: optimizer, weightDecay: num(v, 'weight-decay', p.weightDecay, (x) => Number.isFinite(x) && x >= 0, 'a number ≥ 0'), nesterov: v.nesterov ?? false },
    lr,
    momentum: spec('momentum', v.momentum ?? p.momentum, parseMomentumSpec),
    augment,
    labelSmoothing: num(v, 'label-smoothing', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    logEvery: num(v, 'log-every', p.logEvery, INT1, 'an integer ≥ 1'),
    evalBatchSize: 256,
    divergence: v.divergence === 'off' ? null : num(v, 'divergence', DEFAULT_DIVERGENCE, (x) => Number.isFinite(x) && x > 1, "a multiple > 1 of the first loss, or 'off'"),
  };
  return {
    config, data, dataDir: v['data-dir'], download: v.download ?? false,
    trainSubset: num(v, 'train-subset', p.trainSubset ?? 0, INT0, 'an integer ≥ 0 (0 = all)'),
    testSubset: num(v, 'test-subset', p.testSubset ?? 0, INT0, 'an integer ≥ 0 (0 = all)'),
    out: resolve(v.out ?? join('runs', `${data}-${config.momentum.kind}-seed${config.seed}`)),
  };
}

async function loadData(r: Pick<RunOptions, 'data' | 'dataDir' | 'download' | 'trainSubset' | 'testSubset'>, seed: number): Promise<DatasetSplit> {
  const split = await loadDataset(r.data, { dir: r.dataDir, download: r.download });
  return {
    train: r.trainSubset > 0 && r.trainSubset < split.train.n ? subset(split.train, r.trainSubset, seed) : split.train,
    test: r.testSubset > 0 && r.testSubset < split.test.n ? subset(split.test, r.testSubset, seed + 1) : split.test,
  };
}

/** Whether a folder already holds a run (its log or checkpoints). */
function holdsRun(dir: string): boolean {
  return existsSync(join(dir, 'log.jsonl')) || existsSync(join(dir, 'checkpoints'));
}

/** The settings of a saved run that differ from the flags given now, as "name: saved → given". */
function configDifferences(saved: TrainConfig, given: TrainConfig, v: Values): string[] {
  const flags: [string, (c: TrainConfig) => unknown][] = [
    ['epochs', (c) => c.epochs], ['batch-size', (c) => c.batchSize], ['seed', (c) => c.seed], ['width', (c) => c.model.width], ['stem', (c) => c.model.stem],
    ['optimizer', (c) => c.optimizer.kind], ['weight-decay', (c) => c.optimizer.weightDecay], ['lr-schedule', (c) => c.lr], ['lr', (c) => c.lr],
    ['momentum', (c) => c.momentum], ['augment', (c) => c.augment], ['label-smoothing', (c) => c.labelSmoothing],
  ];
  return flags.filter(([flag, get]) => v[flag as keyof Values] !== undefined && JSON.stringify(get(saved)) !== JSON.stringify(get(given)))
    .map(([flag, get]) => `--${flag}: ${JSON.stringify(get(saved))} in the run, ${JSON.stringify(get(given))} given`);
}

/** Returns the exit code: 0 when training finished, 130 when Ctrl-C or SIGTERM stopped it. */
async function train(v: Values): Promise<number> {
  const run = buildRun(v);
  // A run folder belongs to one run: a new run never writes over another's log or checkpoints.
  if (!v.resume && holdsRun(run.out)) {
    if (v.out !== undefined) {
      throw new Error(`--out ${run.out} already holds a run (log.jsonl or checkpoints/): continue it with --resume, or choose another --out`);
    }
    let n = 2;
    while (holdsRun(`${run.out}-${n}`)) n++;
    console.log(`critdamp train: ${run.out} holds an earlier run; this one goes to ${run.out}-${n} (--resume continues the earlier one)`);
    run.out = `${run.out}-${n}`;
  }
  const logPath = join(run.out, 'log.jsonl');
  const holder = lockHolder(run.out);
  if (holder !== null) throw new Error(inUseMessage(run.out, holder));
  // --resume: the run's config from the newest state.json that reads back (the model and data depend
  // on it); restoreNewest below loads the newest checkpoint that loads whole, skipping damaged ones.
  const candidates = v.resume ? await listCheckpoints(run.out) : [];
  if (v.resume && candidates.length === 0) throw new Error(`--resume: no checkpoint under ${run.out}/checkpoints; start the run without --resume`);
  const unreadable: string[] = [];
  let config = run.config;
  let saved: TrainerState | null = null;
  for (const dir of candidates) {
    try {
      saved = await readRunState<TrainerState>(dir);
      if (!saved.config) throw new Error(`${join(dir, 'state.json')}: no run config`);
      break;
    } catch (e) {
      saved = null;
      unreadable.push(`${dir} (${(e as Error).message})`);
    }
  }
  if (v.resume && !saved) throw new Error(`--resume: no intact checkpoint under ${run.out}: ${unreadable.join('; ')}`);
  if (saved) {
    // The run continues exactly as it was configured: the schedule (a cosine over all epochs, say)
    // depends on the epoch count, so other settings cannot continue it.
    const diff = configDifferences(saved.config, run.config, v);
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
  }
  const data = await loadData(run, config.seed);
  // Channels and classes come from the data (image folders have any number of either).
  if (!saved) config = { ...config, model: { ...config.model, inChannels: data.train.c, numClasses: data.train.classes.length } };
  const engine = await Engine.create();
  // Only now that data and device are ready does the run get a folder: a failed start leaves nothing behind.
  await mkdir(run.out, { recursive: true });
  let release: () => void;
  try {
    release = acquireLock(run.out);
  } catch (e) {
    engine.destroy();
    throw e;
  }
  console.log(`critdamp train: adapter ${engine.adapterName}`);
  await cliTuning(engine, v['no-tune'], 'critdamp train');
  console.log(`critdamp train: ${run.data} ${data.train.n} train / ${data.test.n} test, ${data.train.c}×${data.train.h}×${data.train.w}; ` +
    `resnet18 width ${config.model.width} (${config.model.stem} stem); ${config.optimizer.kind}, lr ${JSON.stringify(config.lr)}, momentum ${JSON.stringify(config.momentum)}; ` +
    `${plural(config.epochs, 'epoch')} of batch ${config.batchSize}; output ${run.out}`);
  const progress = new Progress();
  const trainer = Trainer.create(engine, data, config, {
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
      return saveCheckpoint(run.out, t.model.store, t.optimizer, { ...state, logBytes, data: run.data, dataDir: run.dataDir, trainSubset: run.trainSubset, testSubset: run.testSubset });
    },
  });
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
      if (!stop.signal.aborted || err !== stop.signal.reason) throw err;
      console.log(`critdamp train: stopped at step ${trainer.stepsTaken} (epoch ${trainer.epoch + 1}); the last checkpoint is ` +
        `${trainer.lastCheckpoint ?? 'none yet'}${trainer.lastCheckpoint ? `; continue with: critdamp train --resume --out ${run.out}` : ''}`);
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

Usage: critdamp eval --checkpoint DIR [options]
  --checkpoint DIR     a run directory (its latest checkpoint) or one checkpoint directory
  --data NAME          evaluate on another dataset than the run's (same image shape and classes)
  --data-dir DIR       where the data is (default: the run's)
  --download           CIFAR: download the official archive when absent
  --test-subset N      evaluate on a seeded subset of N test images (0 = all; default: the run's)
  --verbose            show Dawn's and the Vulkan loader's own warnings`;

async function evalCommand(v: Values): Promise<void> {
  if (!v.checkpoint) throw new Error('--checkpoint DIR is required (a run directory or one of its checkpoints)');
  const dir = await findCheckpoint(resolve(v.checkpoint));
  if (!dir) throw new Error(`no checkpoint found at ${v.checkpoint} (a run directory with checkpoints/latest, or a checkpoint directory with state.json)`);
  const state = await readRunState<TrainerState & { data: DatasetName; dataDir?: string; trainSubset?: number; testSubset?: number }>(dir);
  if (!state.config || !state.data) throw new Error(`${join(dir, 'state.json')}: no run config (model, data); it was not written by critdamp train`);
  const testSubset = num(v, 'test-subset', state.testSubset ?? 0, INT0, 'an integer ≥ 0 (0 = all)');
  const data = await loadData({ data: (v.data as DatasetName) ?? state.data, dataDir: v['data-dir'] ?? state.dataDir, download: v.download ?? false, trainSubset: 0, testSubset }, state.config.seed);
  const engine = await Engine.create();
  const model = new ResNet18(engine, state.config.model, state.config.seed);
  try {
    await loadCheckpoint(dir, model.store, null);
    const mean = state.mean ?? state.config.mean, std = state.std ?? state.config.std;
    const stats = mean && std ? { mean, std } : channelStats((await loadData({ data: state.data, dataDir: state.dataDir, download: false, trainSubset: state.trainSubset ?? 0, testSubset: 0 }, state.config.seed)).train);
    const r = await evaluate(engine, model, data.test, { batchSize: 256, ...stats });
    console.log(`checkpoint ${dir}: test accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)} on ${r.n} images`);
    console.log(`per class: ${r.perClassAccuracy.map((a, k) => `${data.test.classes[k]} ${(100 * a).toFixed(1)}%`).join(', ')}`);
  } finally {
    model.store.destroy();
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
    values = parseArgs({ args: rest, options: command === 'eval' ? EVAL_OPTIONS : OPTIONS, strict: true, allowPositionals: false }).values as Values;
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
