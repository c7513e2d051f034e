/**
 * `critdamp compare`: the paper's convergence experiment as one command. Trains each method (the
 * paper's five, or the user's pick and additions) over N seeds on the same model, data, initial
 * weights and data order, then writes the report (compare.md, compare.html, figures/ as SVG and
 * PNG, results.json). Every (method, seed) run lives in its own folder under runs/ with its log
 * and epoch checkpoints, so a stopped comparison resumes where it was and never redoes a finished
 * run; compare.json records what the comparison is, and a folder holding another one is refused.
 */
import { parseFlags } from './flags';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, truncate, writeFile, appendFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { cliTuning, tunedLine } from './tune';
import { Engine } from '../gpu/engine';
import { loadDataset, type DatasetName } from '../data/index.node';
import { subset, type DatasetSplit } from '../data/dataset';
import { subsets, type RunData } from '../data/rundata.node';
import { Trainer, DEFAULT_DIVERGENCE, DivergenceError, NonFiniteLossError, type EpochRecord, type StepRecord, type TrainConfig, type TrainerState } from '../train/trainer';
import { restoreNewest, saveCheckpoint, writeFileAtomic } from '../io/checkpoint.node';
import { attribute } from '../attribution';
import { applyHeldOut, selectionData, makeHeldOut } from '../data/split';
import { canonicalPreset, definePresets, getPreset, presetNames, type PresetInfo } from './presets';
import { trainConfig } from '../train/config';
import { configFromSettings, modelNames } from '../nn/registry';
import { BUILTIN_METHODS, MATCHED_METHOD, PAPER_METHODS, methodTable, parseMethodSpec, parseMethodsFile, pickMethods, resolveMethod, type Method, type MethodDef } from '../compare/methods';
import { checkThreshold, type EpochPoint, type RunResult, type TrajectoryPoint } from '../compare/stats';
import { FIGURE_FILES, modelText, renderReport, type CompareDoc, type CompareSettings } from '../compare/report';
import { formatDuration } from './progress';
import { parseAugment, parseWidth } from './flags';
import { environment } from './environment';
import { acquireLock, inUseMessage, lockHolder } from '../io/lock.node';

interface ComparePreset extends CompareSettings, PresetInfo {
  thresholds: number[];
  thresholdNote: string;
  /** The methods trained unless --methods names others (default: the paper's five). */
  methods?: string[];
  about: string;
}

export const COMPARE_PRESETS: Record<string, ComparePreset> = definePresets<ComparePreset>('compare', {
  'fashion-cpu': {
    // The main job's network and schedule family on all of Fashion-MNIST, run long enough to reach
    // 90%: 8 epochs × 6 methods × 3 seeds is about 2.5 hours on 2 CPU cores (SwiftShader).
    data: 'fashion-mnist', trainSubset: 0, testSubset: 0, width: 1 / 8, stem: 'imagenet', epochs: 8, batchSize: 64, lr: 0.1, adamLr: 0.001, weightDecay: 5e-4, augment: 'none',
    thresholds: [0.85, 0.88, 0.9], methods: [...PAPER_METHODS, MATCHED_METHOD.name],
    thresholdNote: "85%, 88% and 90%: the paper's 90% is near the top of what this small network reaches on Fashion-MNIST (the main job's 3 epochs give 88%), and 95% is out of its reach.",
    about: "all of Fashion-MNIST (60,000 / 10,000), the main job's network (ResNet-18 width 1/8, imagenet stem, batch 64, cosine from 0.1), 8 epochs, the paper's five methods and physics momentum at the baseline's effective step: about 2.5 hours on 2 CPU cores",
  },
  'fashion-cpu-small': {
    data: 'fashion-mnist', trainSubset: 1200, testSubset: 500, width: 1 / 16, stem: 'cifar', epochs: 8, batchSize: 32, lr: 0.05, adamLr: 0.001, weightDecay: 5e-4, augment: 'none',
    thresholds: [0.7, 0.75],
    thresholdNote: '70% and 75%, because this small run (1,200 training images, width 1/16, 8 epochs) ends near 75–80% test accuracy; the paper\'s 90% and 95% are out of its reach.',
    about: 'Fashion-MNIST, 1,200 training / 500 test images, ResNet-18 width 1/16, 8 epochs of batch 32: five methods × 3 seeds in about 10 minutes on 2 CPU cores without a GPU.',
  },
  'fashion-gpu': {
    data: 'fashion-mnist', trainSubset: 0, testSubset: 0, width: 1, stem: 'cifar', epochs: 30, batchSize: 128, lr: 0.1, adamLr: 0.001, weightDecay: 5e-4, augment: 'crop2+flip',
    thresholds: [0.9, 0.93, 0.95], methods: [...PAPER_METHODS, MATCHED_METHOD.name],
    thresholdNote: "90% as in the paper, and 93% and 95% because a width-1 ResNet-18 goes past 90% on Fashion-MNIST early.",
    about: 'all of Fashion-MNIST, ResNet-18 width 1 (cifar stem), 30 epochs of batch 128, crop and flip: for a GPU',
  },
  paper: {
    data: 'cifar10', trainSubset: 0, testSubset: 0, width: 1, stem: 'cifar', epochs: 200, batchSize: 128, lr: 0.1, adamLr: 0.001, weightDecay: 5e-4, augment: 'crop4+flip',
    thresholds: [0.9, 0.95], thresholdNote: 'the paper\'s 90% and 95%.',
    about: 'The paper\'s setting: CIFAR-10, ResNet-18 width 1, 200 epochs of batch 128, learning rate 0.1 (SGD), weight decay 5e-4, random crop and flip. For a GPU.',
  },
}, { cpu: 'fashion-cpu', 'cpu-small': 'fashion-cpu-small' });

export const COMPARE_HELP = `critdamp compare — train several methods over seeds and report the paper's convergence comparison

Usage: critdamp compare [--preset ${presetNames('compare').join('|')}] [options]
  --preset P            ${Object.entries(COMPARE_PRESETS).map(([k, p]) => `${k}: ${p.about}`).join('\n                        ')}
  --methods A,B,...     which methods, in this order (default: the preset's, else the paper's five, then your own):
                        ${[...BUILTIN_METHODS, MATCHED_METHOD].map((m) => `${m.name} (${m.label})`).join(',\n                        ')}
  --method SPEC         add a method: NAME=OPTIMIZER/LR/MOMENTUM[/wd=X], e.g. fast=sgd/cosine:0.2/physics:lo=0.6
                        (repeatable; an LR spec without a rate takes the comparison's --lr, or --adam-lr for Adam)
  --methods-file FILE   add methods from JSON: [{"name","optimizer","lr","momentum","label"?,"weightDecay"?}]
  --seeds N             seeds 0..N-1 (default 3); every method runs every seed
  --thresholds A,B      test accuracies to time, as fractions (default: the preset's)
  --diagnose            also diagnose each final model and report the problem layers and their overlap
                        (on the held-out images with --val, else on the training images; never the test images)
  --val F               hold out this share of each class of the training images (seeded, the same for
                        every method and seed; never trained on) for --diagnose to choose layers on
  --out DIR             the comparison's folder (default runs/compare-<preset>); rerun the same command to resume
  --report-only         write the report from the finished runs in --out, training nothing
  --model NAME          the network: ${modelNames().join(', ')} (default resnet18; the preset's
                        width and stem apply where the model takes them)
  Overrides of the preset: --data NAME  --data-dir DIR  --width W  --stem S  --epochs N  --batch-size N  --lr LR
                        --adam-lr LR  --weight-decay WD  --train-subset N  --test-subset N  --augment A
  --no-tune             keep the cost model's kernel choices (tuning at first use changes speed, never numbers;
                        its time is not counted in the runs' wall times)
  --verbose             print every epoch of every run, and Dawn's and the Vulkan loader's own warnings`;

export const COMPARE_OPTIONS = {
  preset: { type: 'string' }, methods: { type: 'string' }, method: { type: 'string', multiple: true }, 'methods-file': { type: 'string' },
  seeds: { type: 'string' }, thresholds: { type: 'string' }, diagnose: { type: 'boolean' }, val: { type: 'string' }, out: { type: 'string' }, 'report-only': { type: 'boolean' },
  data: { type: 'string' }, 'data-dir': { type: 'string' }, model: { type: 'string' }, width: { type: 'string' }, stem: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' },
  lr: { type: 'string' }, 'adam-lr': { type: 'string' }, 'weight-decay': { type: 'string' }, 'train-subset': { type: 'string' },
  'test-subset': { type: 'string' }, augment: { type: 'string' }, 'no-tune': { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

function number(v: string | undefined, fallback: number, flag: string, ok: (x: number) => boolean, want: string): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (v.trim() === '' || !ok(x)) throw new Error(`--${flag}: '${v}' is not ${want}`);
  return x;
}

/** What makes two comparisons the same: the settings and each method's resolved config (seeds, thresholds and the method list may grow). */
interface Identity { version: 1; settings: CompareSettings; methods: Record<string, Method> }

/** What a settings record means where a key is absent (records written before the key existed). */
const SETTING_DEFAULTS: Partial<CompareSettings> = { model: 'resnet18', stem: 'cifar', val: 0 };

function differences(a: Identity, b: Identity): string[] {
  const out: string[] = [];
  const value = (x: CompareSettings, k: keyof CompareSettings) => JSON.stringify(x[k] ?? SETTING_DEFAULTS[k]);
  // Every key of either record: a setting only one of them names still has to agree.
  for (const k of new Set([...Object.keys(a.settings), ...Object.keys(b.settings)]) as Set<keyof CompareSettings>) {
    if (value(a.settings, k) !== value(b.settings, k)) out.push(`${k}: ${value(b.settings, k)} there, ${value(a.settings, k)} now`);
  }
  for (const [name, m] of Object.entries(a.methods)) {
    const old = b.methods[name];
    if (old && JSON.stringify(old) !== JSON.stringify(m)) out.push(`method ${name}: ${JSON.stringify(old)} there, ${JSON.stringify(m)} now`);
  }
  return out;
}

/** Reads a finished run's result.json, or null when the run has not finished (or the file is damaged: the run is then redone). */
async function readResult(dir: string): Promise<RunResult | null> {
  try {
    const r = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as RunResult;
    return Array.isArray(r.epochs) && (r.epochs.length > 0 || r.diverged) && r.regime && Array.isArray(r.trajectory) ? r : null;
  } catch {
    return null;
  }
}

/** Up to `max` evenly spaced steps of the schedule, plus the last. */
function trajectory(t: Trainer, max = 400): TrajectoryPoint[] {
  const total = t.schedule.totalSteps, every = Math.max(1, Math.ceil(total / max));
  const out: TrajectoryPoint[] = [];
  for (let i = 0; i < total; i += every) {
    const p = t.schedule.at(i);
    out.push({ t: p.epoch, lr: p.lr, mu: p.momentum, muc: p.muCritical });
  }
  // The last step's values hold to the end of training.
  const last = t.schedule.at(total - 1);
  out.push({ t: total / t.stepsPerEpoch, lr: last.lr, mu: last.momentum, muc: last.muCritical });
  return out;
}

async function epochPoints(logPath: string): Promise<EpochPoint[]> {
  const text = await readFile(logPath, 'utf8');
  return text.split('\n').filter((l) => l.includes('"type":"epoch"')).map((l) => JSON.parse(l) as EpochRecord)
    .map((r) => ({ epoch: r.epoch, accuracy: r.accuracy, testLoss: r.test_loss, trainLoss: r.train_loss, wall: r.wall_s }));
}

/**
 * The whole comparison's progress: one line, redrawn on a TTY, every 10 s otherwise. The ETA is
 * the steps still to train at this process's pace (steps a resumed run had already trained count
 * as neither done here nor remaining).
 */
class CompareProgress {
  private last = 0;
  private readonly t0 = performance.now();
  /** Steps trained by this process in runs it finished. */
  private trainedBefore = 0;
  /** The current run: where it started in this process, and where it is. */
  private start = 0;
  private at = 0;
  constructor(private readonly stepsPerRun: number, private runsLeft: number, private readonly tty = Boolean(process.stderr.isTTY)) {}
  /** A run begins (at `from` steps, when resumed); runsLeft counts it. */
  begin(from: number): void {
    this.start = this.at = from;
  }
  /** The current run has ended. */
  end(): void {
    this.trainedBefore += this.at - this.start;
    this.runsLeft--;
    this.start = this.at = 0;
  }
  update(what: string, epoch: number, epochs: number, batch: number, batches: number, loss: number | null): void {
    this.at = (epoch - 1) * batches + batch;
    const elapsed = (performance.now() - this.t0) / 1000;
    const done = this.trainedBefore + this.at - this.start;
    const remaining = this.runsLeft * this.stepsPerRun - this.at;
    const eta = done > 0 && elapsed > 5 ? (remaining * elapsed) / done : NaN;
    const text = `${what} · epoch ${epoch}/${epochs} batch ${batch}/${batches} · loss ${loss === null ? '…' : loss.toFixed(3)} · elapsed ${formatDuration(elapsed)} · ETA ${formatDuration(eta)} for the comparison`;
    if (this.tty) process.stderr.write(`\r${text}\x1b[K`);
    else if (elapsed - this.last >= 10) { this.last = elapsed; process.stderr.write(text + '\n'); }
  }
  break(): void { if (this.tty) process.stderr.write('\r\x1b[K'); }
}

/**
 * One short run per optimizer kind on a few images of the same shapes (batches of the training
 * size, an evaluation batch and the test set's remainder), so every pipeline is compiled and every
 * new kernel shape tuned before the timed runs. Returns the seconds it took.
 */
async function warmUp(engine: Engine, data: DatasetSplit, configs: TrainConfig[]): Promise<number> {
  const t0 = performance.now();
  for (const config of configs) {
    const evalSize = Math.min(data.test.n, config.evalBatchSize + (data.test.n % config.evalBatchSize));
    const tiny = { train: subset(data.train, Math.min(data.train.n, 2 * config.batchSize), 0), test: subset(data.test, evalSize, 0) };
    const t = Trainer.create(engine, tiny, { ...config, epochs: 1, divergence: null, mean: undefined, std: undefined });
    try {
      await t.fit();
    } finally {
      t.destroy();
    }
  }
  await engine.sync();
  return (performance.now() - t0) / 1000;
}

export async function compareCommand(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(argv, COMPARE_OPTIONS);
  if (v.help) return (console.log(COMPARE_HELP), 0);
  const p = getPreset<ComparePreset>('compare', v.preset ?? 'fashion-cpu-small');
  const presetName = canonicalPreset('compare', v.preset ?? 'fashion-cpu-small');
  const int0 = (x: number) => Number.isInteger(x) && x >= 0, int1 = (x: number) => Number.isInteger(x) && x >= 1, pos = (x: number) => Number.isFinite(x) && x > 0;
  const modelName = v.model ?? 'resnet18';
  if (!modelNames().includes(modelName)) throw new Error(`--model: unknown model '${modelName}' (${modelNames().join(', ')})`);
  const settings: CompareSettings = {
    data: v.data ?? p.data,
    ...(modelName === 'resnet18' ? {} : { model: modelName }),
    ...(v.val !== undefined && Number(v.val) !== 0 ? { val: number(v.val, 0, 'val', (x) => x > 0 && x < 1, 'a fraction in (0, 1) such as 0.1, or 0 for none') } : {}),
    trainSubset: number(v['train-subset'], p.trainSubset, 'train-subset', int0, 'an integer ≥ 0 (0 = all)'),
    testSubset: number(v['test-subset'], p.testSubset, 'test-subset', int0, 'an integer ≥ 0 (0 = all)'),
    width: v.width === undefined ? p.width : parseWidth(v.width),
    stem: (v.stem ?? p.stem) as CompareSettings['stem'],
    epochs: number(v.epochs, p.epochs, 'epochs', int1, 'an integer ≥ 1'),
    batchSize: number(v['batch-size'], p.batchSize, 'batch-size', int1, 'an integer ≥ 1'),
    lr: number(v.lr, p.lr, 'lr', pos, 'a learning rate > 0'),
    adamLr: number(v['adam-lr'], p.adamLr, 'adam-lr', pos, 'a learning rate > 0'),
    weightDecay: number(v['weight-decay'], p.weightDecay, 'weight-decay', (x) => Number.isFinite(x) && x >= 0, 'a number ≥ 0'),
    augment: v.augment ?? p.augment,
  };
  if (settings.stem !== 'cifar' && settings.stem !== 'imagenet') throw new Error(`--stem: '${settings.stem}' is not cifar or imagenet`);
  const augment = parseAugment(settings.augment);
  const seeds = Array.from({ length: number(v.seeds, 3, 'seeds', int1, 'a positive integer') }, (_, i) => i);
  const thresholds = v.thresholds === undefined ? p.thresholds : v.thresholds.split(',').map((s) => {
    const x = Number(s);
    checkThreshold(s.trim() === '' ? NaN : x, `--thresholds '${v.thresholds}'`);
    return x;
  });
  const extra: MethodDef[] = [];
  if (v['methods-file']) {
    let text: string;
    try { text = await readFile(resolve(v['methods-file']), 'utf8'); } catch (e) { throw new Error(`--methods-file: cannot read ${v['methods-file']} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
    extra.push(...parseMethodsFile(text, v['methods-file']));
  }
  for (const spec of v.method ?? []) extra.push(parseMethodSpec(spec));
  const table = methodTable(extra);
  const names = v.methods ? v.methods.split(',').map((s) => s.trim()).filter(Boolean) : [...(p.methods ?? PAPER_METHODS), ...extra.map((m) => m.name)];
  const methods = pickMethods(table, names).map((d) => resolveMethod(d, settings));
  const out = resolve(v.out ?? join('runs', `compare-${presetName}`));
  const identity: Identity = { version: 1, settings, methods: Object.fromEntries(methods.map((m) => [m.name, m])) };

  // The folder belongs to one comparison.
  const idPath = join(out, 'compare.json');
  if (existsSync(idPath)) {
    let old: Identity;
    try { old = JSON.parse(await readFile(idPath, 'utf8')); } catch (e) { throw new Error(`${idPath}: not valid JSON (${(e as Error).message}); choose another --out`); }
    if (!old || old.version !== 1 || !old.settings || !old.methods) throw new Error(`${idPath}: not a critdamp comparison record; choose another --out`);
    const diff = differences(identity, old);
    if (diff.length) throw new Error(`--out ${out} holds a different comparison (${diff.join('; ')}); rerun with its settings to resume it, or choose another --out`);
    identity.methods = { ...old.methods, ...identity.methods };
  } else if (existsSync(out) && (await readdir(out)).length > 0) {
    throw new Error(`--out ${out} is not empty and holds no comparison (compare.json); choose another --out`);
  }
  const runDir = (m: string, s: number) => join(out, 'runs', m, `seed-${s}`);
  const command = `critdamp compare ${argv.join(' ')}`.trim();

  // Minutes: the runs' own wall time (training and evaluation, summed over resumed parts).
  const writeReport = async (runs: RunResult[], adapter: string, trainedBy = command, trainedOn?: CompareDoc['environment'], extra: Pick<CompareDoc, 'images' | 'warmupSeconds'> = {}) => {
    const done = seeds.filter((s) => methods.every((m) => runs.some((r) => r.method === m.name && r.seed === s)));
    if (done.length === 0) return null;
    const doc: CompareDoc = { preset: presetName, about: p.about, thresholdNote: v.thresholds === undefined ? p.thresholdNote : undefined, settings, methods, seeds: done,
      thresholds, runs: runs.filter((r) => done.includes(r.seed)), command: trainedBy, environment: trainedOn ?? environment(adapter), minutes: 0, ...extra };
    doc.minutes = doc.runs.reduce((a, r) => a + r.wallSeconds, 0) / 60;
    const rep = renderReport(doc);
    await mkdir(join(out, 'figures'), { recursive: true });
    for (const [k, file] of Object.entries(FIGURE_FILES) as [keyof typeof FIGURE_FILES, string][]) {
      await writeFile(join(out, 'figures', `${file}.svg`), rep.figures[k]);
      await sharp(Buffer.from(rep.figures[k])).png().toFile(join(out, 'figures', `${file}.png`));
    }
    await writeFileAtomic(join(out, 'compare.md'), rep.markdown);
    await writeFileAtomic(join(out, 'compare.html'), rep.html);
    await writeFileAtomic(join(out, 'results.json'), JSON.stringify({ ...doc, summaries: rep.summaries }, null, 1));
    return done;
  };

  if (v['report-only']) {
    const runs = (await Promise.all(seeds.flatMap((s) => methods.map((m) => readResult(runDir(m.name, s)))))).filter((r): r is RunResult => r !== null);
    // The adapter and the command are those of the run that trained, as its last report recorded them.
    let adapter = 'unknown (report written with --report-only)', trained: string | undefined, env: CompareDoc['environment'] | undefined;
    let extra: Pick<CompareDoc, 'images' | 'warmupSeconds'> = {};
    try {
      const prev = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as CompareDoc;
      adapter = prev.environment.adapter;
      trained = prev.command;
      env = prev.environment;
      extra = { images: prev.images, warmupSeconds: prev.warmupSeconds };
    } catch { /* no earlier report */ }
    const done = await writeReport(runs, adapter, trained, env, extra);
    if (!done) throw new Error(`--report-only: ${out} has no seed with a finished run of every method (${methods.map((m) => m.name).join(', ')})`);
    console.log(`critdamp compare: wrote ${join(out, 'compare.md')} from ${done.length} seed(s)`);
    return 0;
  }

  // Every method and seed trains on the same images: subsets drawn with seed 0 (the run-data record's subsetSeed).
  const record: RunData = { data: settings.data as DatasetName, ...(v['data-dir'] ? { dataDir: resolve(v['data-dir']) } : {}), trainSubset: settings.trainSubset, testSubset: settings.testSubset, subsetSeed: 0 };
  const loaded = subsets(await loadDataset(record.data, { dir: record.dataDir }), record);
  // With --val, the same held-out images for every method and seed (seed 0), recorded in each run's state.
  if (settings.val) record.heldOut = makeHeldOut(loaded.train, settings.val, 0);
  const held = record.heldOut ? applyHeldOut(loaded.train, record.heldOut) : null;
  const data: DatasetSplit = { train: held?.train ?? loaded.train, test: loaded.test };
  const images = { train: data.train.n, test: data.test.n };
  const holder = lockHolder(out);
  if (holder !== null) throw new Error(inUseMessage(out, holder));
  await mkdir(out, { recursive: true });
  const release = acquireLock(out);
  process.once('exit', release);
  await writeFileAtomic(idPath, JSON.stringify(identity, null, 1));
  const engine = await Engine.create();
  const adapter = engine.adapterName;
  const started = performance.now();
  const stepsPerRun = settings.epochs * Math.floor(data.train.n / settings.batchSize);
  const runs: RunResult[] = [];
  const pending: { m: Method; s: number }[] = [];
  for (const s of seeds) for (const m of methods) {
    const r = await readResult(runDir(m.name, s));
    // A diverged run has nothing to diagnose: it is never trained again for --diagnose.
    if (r && (r.diverged || !(v.diagnose && !r.diagnosis))) runs.push(r);
    else pending.push({ m, s });
  }
  const log = (s: string) => { progress.break(); console.log(`[${((performance.now() - started) / 60000).toFixed(1)} min] ${s}`); };
  const progress = new CompareProgress(stepsPerRun, pending.length);
  console.log(`critdamp compare: adapter ${engine.adapterName}`);
  console.log(`critdamp compare: ${methods.length} methods × ${seeds.length} seeds, ${settings.data} ${data.train.n} train / ${data.test.n} test, ${modelText(settings)}, ` +
    `${settings.epochs} epochs of batch ${settings.batchSize}; ${runs.length} run(s) already finished in ${out}, ${pending.length} to go`);
  const configOf = (m: Method, seed: number): TrainConfig => trainConfig({
    epochs: settings.epochs, batchSize: settings.batchSize, seed,
    model: configFromSettings(settings.model ?? 'resnet18', { numClasses: data.train.classes.length, inChannels: data.train.c, inputSize: [data.train.h, data.train.w] },
      { width: settings.width, stem: settings.stem }),
    optimizer: { kind: m.optimizer, weightDecay: m.weightDecay }, lr: m.lr, momentum: m.momentum, augment, logEvery: 10, evalBatchSize: 250,
  });
  // Each process that trains records its warm-up (warmup.json), so a resumed comparison reports every one.
  const warmupPath = join(out, 'warmup.json');
  let warmupSeconds: number[] = [];
  try { warmupSeconds = JSON.parse(await readFile(warmupPath, 'utf8')); } catch { /* none yet */ }
  const reportExtra = { images, warmupSeconds };
  const stop = new AbortController();
  const onSignal = (sig: string) => () => {
    log(`${sig}: stopping after the current step; finished runs and the last epoch checkpoint are kept`);
    stop.abort(new DOMException(`stopped by ${sig}`, 'AbortError'));
  };
  const onInt = onSignal('Ctrl-C'), onTerm = onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    await cliTuning(engine, v['no-tune'], 'critdamp compare');
    // Compiling the pipelines and timing kernel variants is charged to no method: it happens here,
    // on a throwaway model of the same shapes, before the first timed run.
    if (pending.length) {
      const seconds = await warmUp(engine, data, [...new Map(pending.map(({ m }) => [m.optimizer, configOf(m, 0)])).values()]);
      reportExtra.warmupSeconds = warmupSeconds = [...warmupSeconds, seconds];
      await writeFileAtomic(warmupPath, JSON.stringify(warmupSeconds));
      log(`warm-up: ${seconds.toFixed(1)} s of compiling and kernel tuning before the first timed run (charged to no method)`);
    }
    let index = runs.length;
    for (const { m, s } of pending) {
      index++;
      const dir = runDir(m.name, s);
      const finished = await readResult(dir);
      const config = configOf(m, s);
      await mkdir(dir, { recursive: true });
      const logPath = join(dir, 'log.jsonl');
      const what = `[${index}/${seeds.length * methods.length}] ${m.name} seed ${s}`;
      let lastLoss: number | null = null;
      const trainer = Trainer.create(engine, data, config, {
        progress: (q) => progress.update(what, q.epoch, q.epochs, q.batch, q.batches, lastLoss),
        tuned: (reports, seconds) => log(tunedLine(reports, seconds)),
        log: async (rec: StepRecord | EpochRecord) => {
          await appendFile(logPath, JSON.stringify(rec) + '\n');
          if (rec.type === 'step') lastLoss = rec.loss;
          else if (v.verbose) log(`${m.name} seed ${s} epoch ${rec.epoch}: accuracy ${(100 * rec.accuracy).toFixed(2)}%, test loss ${rec.test_loss.toFixed(4)}`);
        },
        checkpoint: async (state, t) => {
          const logBytes = (await stat(logPath)).size;
          // The run's data record makes the folder an ordinary run: eval, diagnose and correct open it.
          return saveCheckpoint(dir, t.model.store, t.optimizer, { ...state, logBytes, ...record, method: m.name }, 1);
        },
      });
      try {
        // The newest checkpoint that loads (a damaged one is skipped, as train --resume does); none: from the start.
        const r = await restoreNewest<TrainerState>(dir, trainer.model.store, trainer.optimizer, (st) => trainer.restore(st));
        for (const x of r.skipped) log(`${m.name} seed ${s}: skipped the damaged checkpoint ${x}`);
        // A failed load may have written part of the weights: never train on from those.
        if (!r.dir && r.skipped.length) throw new Error(`no checkpoint under ${dir} loads; remove that folder to train this run again`);
        progress.begin(r.state ? r.state.epoch * trainer.stepsPerEpoch : 0);
        if (r.dir && r.state) {
          await truncate(logPath, Number(r.state.logBytes ?? 0));
          if (r.state.epoch < settings.epochs) log(`${m.name} seed ${s}: resuming after epoch ${r.state.epoch} from ${r.dir}`);
        } else {
          await writeFile(logPath, '');
        }
        // A run the NaN or divergence guard stops is a result too (the report says so), not the end of the comparison.
        let diverged: string | undefined;
        try {
          await trainer.fit({ signal: stop.signal });
        } catch (e) {
          if (!(e instanceof NonFiniteLossError || e instanceof DivergenceError)) throw e;
          diverged = (e as Error).message.replace(/;.*$/, '');
          log(`${m.name} seed ${s}: stopped early, ${diverged}`);
        }
        const result: RunResult = finished ?? {
          ...(diverged ? { diverged } : {}),
          method: m.name, seed: s, epochs: await epochPoints(logPath), regime: trainer.schedule.summary(), trajectory: trajectory(trainer),
          wallSeconds: Number(trainer.state().wallSeconds), imagesPerSecond: (settings.epochs * trainer.stepsPerEpoch * settings.batchSize) / Number(trainer.state().wallSeconds),
        };
        if (v.diagnose && !result.diagnosis && !result.diverged) {
          // Chosen on the held-out images (--val), else the training images: never the test images the comparison is scored on.
          const sel = selectionData({ train: data.train, val: held?.val ?? null, test: data.test }, 'val');
          const d = await attribute(engine, trainer.model, sel.data, { mean: trainer.mean, std: trainer.std, k: 3, granularity: 'group' });
          result.diagnosis = { on: sel.on, accuracy: d.evaluation.accuracy, problem: d.problem, scores: [...d.scores] };
          log(`${m.name} seed ${s}: problem groups ${d.problem.join(', ')}`);
        }
        await writeFileAtomic(join(dir, 'result.json'), JSON.stringify(result));
        runs.push(result);
        const last = result.epochs[result.epochs.length - 1];
        if (last && !result.diverged) log(`${m.name} seed ${s}: finished, accuracy ${(100 * last.accuracy).toFixed(2)}% after ${last.epoch} epochs (${formatDuration(result.wallSeconds)})`);
      } catch (e) {
        if (stop.signal.aborted && e === stop.signal.reason) {
          progress.break();
          console.log(`critdamp compare: stopped during ${m.name} seed ${s}; ${runs.length} of ${seeds.length * methods.length} runs are finished. ` +
            `Run the same command again to continue: ${command}${v.out ? '' : ` --out ${out}`}`);
          return 130;
        }
        throw new Error(`${m.name} seed ${s}: ${(e as Error).message}`);
      } finally {
        trainer.destroy();
      }
      progress.end();
      // A report as soon as a seed is complete for every method (a long comparison shows its first answers early).
      if (methods.every((mm) => runs.some((r) => r.method === mm.name && r.seed === s))) await writeReport(runs, adapter, command, undefined, reportExtra);
    }
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
    engine.destroy();
    release();
  }
  const done = await writeReport(runs, adapter, command, undefined, reportExtra);
  progress.break();
  console.log(`critdamp compare: wrote ${join(out, 'compare.md')}, compare.html and figures/ (${done?.length ?? 0} seeds, ${((performance.now() - started) / 60000).toFixed(1)} min)`);
  return 0;
}
