/**
 * `critdamp experiment`: the paper's diagnosis experiment, repeatable by anyone with one command,
 * built so that its answers can be trusted. For each seed:
 *   1. hold out a seeded, class-stratified validation split of the training data (never trained on);
 *   2. train the same network (same initial weights, same data order) with SGD + physics momentum
 *      and with Adam on the rest;
 *   3. diagnose both on the misclassified validation images, at the paper's 7 groups and at every
 *      layer: the problem units, the SGD–Adam overlap, and the same attribution of the untrained
 *      network (the run's epoch-0 weights, same images), which separates what training picks from
 *      what the architecture and the metric pick; also the contrast score (misclassified ÷ correct);
 *   4. retrain only the SGD network's problem units and, under the same budget, random units of
 *      about the same parameter share (drawn at random), the last k, the whole network and
 *      Auto-RGN; score every one on the test images, which chose nothing; and reset the problem
 *      units, versus the same random draws, to their epoch-0 values.
 * Verdicts come from paired differences over seeds and exact rank tests (src/stats/paired.ts).
 * Results are saved after every seed; the same command resumes a stopped experiment.
 */
import { parseFlags } from './flags';
import { canonicalPreset, definePresets, getPreset, presetNames } from './presets';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { cliTuning } from './tune';
import { environment } from './environment';
import { Engine } from '../gpu/engine';
import { configFromSettings, createModel, describeModel, modelNames } from '../nn/registry';
import { loadDataset, type DatasetName } from '../data/index.node';
import { subsets } from '../data/rundata.node';
import { makeHeldOut, applyHeldOut, selectionData, DIAGNOSE_ON, type DiagnoseOn } from '../data/split';
import { subset, type Dataset } from '../data/dataset';
import { evaluate } from '../train/evaluate';
import { Trainer, type TrainConfig } from '../train/trainer';
import { trainConfig } from '../train/config';
import { writeFileAtomic } from '../io/checkpoint.node';
import { attribute, compareAttributions, correctWithControls, spearman, topK, correct, autoRgnFineTune, DEFAULT_BAND, DEFAULT_DRAWS, type Attribution, type Granularity } from '../attribution';
import { barChartSvg } from '../report/chart';
import { datasetLabel, experimentReport, experimentStatistics, type Diag, type ExperimentDoc, type ExperimentSettings, type GranularityResult, type SeedResult } from '../report/diagnosis';
import { mean } from '../stats/paired';

interface ExperimentPreset extends Omit<ExperimentSettings, 'k' | 'diagnoseOn' | 'draws' | 'band' | 'model'> { draws: number; about: string }

export const EXPERIMENT_PRESETS: Record<string, ExperimentPreset> = definePresets<ExperimentPreset>('experiment', {
  'fashion-cpu': {
    data: 'fashion-mnist', trainSubset: 0, testSubset: 0, valFraction: 0.1, width: 1 / 8, stem: 'imagenet', epochs: 3, batchSize: 64, sgdLr: 0.1, adamLr: 0.001,
    correctEpochs: 1, correctSubset: 12000, correctLr: 0.01, draws: DEFAULT_DRAWS, maxCorrect: 2000, granularities: ['group', 'layer'],
    about: "all of Fashion-MNIST less a 10% validation split, the main job's network (ResNet-18 width 1/8, imagenet stem, 3 epochs): about an hour on 2 CPU cores",
  },
  'fashion-smoke': {
    data: 'fashion-mnist', trainSubset: 384, testSubset: 128, valFraction: 0.25, width: 1 / 16, stem: 'imagenet', epochs: 1, batchSize: 32, sgdLr: 0.05, adamLr: 0.001,
    correctEpochs: 1, correctSubset: 0, correctLr: 0.01, draws: 3, maxCorrect: 64, granularities: ['group', 'layer'],
    about: 'a two-minute check that the whole pipeline runs (numbers mean nothing)',
  },
  paper: {
    data: 'cifar10', trainSubset: 0, testSubset: 0, valFraction: 0.1, width: 1, stem: 'cifar', epochs: 200, batchSize: 128, sgdLr: 0.1, adamLr: 0.001,
    correctEpochs: 5, correctSubset: 0, correctLr: 0.01, draws: DEFAULT_DRAWS, maxCorrect: 5000, granularities: ['group', 'layer'],
    about: "the paper's setting: CIFAR-10 less a 10% validation split, ResNet-18 width 1, 200 epochs (a GPU)",
  },
}, { cpu: 'fashion-cpu', smoke: 'fashion-smoke' });

export const EXPERIMENT_HELP = `critdamp experiment — the paper's diagnosis experiment over several seeds, with held-out selection and random controls

Usage: critdamp experiment [--preset ${presetNames('experiment').join('|')}] [--model NAME] [--seeds N] [--out DIR] [options]
  --preset P         ${Object.entries(EXPERIMENT_PRESETS).map(([k, p]) => `${k}: ${p.about}`).join('\n                     ')}
  --model NAME       the network: ${modelNames().join(', ')} (default resnet18; the preset's width
                     and stem apply where the model takes them)
  --seeds N          training seeds 0..N-1 (default 3)
  -k K               problem units per diagnosis (default 3)
  --diagnose-on S    val (default: the held-out validation split) | train | test (leakage: the test
                     images would both choose the layers and score the correction; the report says so)
  --draws N          random control sets per seed and granularity (default: the preset's, ${DEFAULT_DRAWS} for cpu)
  --out DIR          where the report goes: DIR/diagnosis.md and DIR/diagnosis/ (default docs);
                     a stopped experiment resumes from DIR/diagnosis/experiment.json
  --from FILE        write the report again from a saved experiment.json (no training)
  --no-tune          keep the cost model's kernel choices (tuning changes speed, never numbers)
  --verbose          show Dawn's and the Vulkan loader's own warnings (hidden otherwise)`;

export const EXPERIMENT_OPTIONS = {
  preset: { type: 'string' }, seeds: { type: 'string' }, out: { type: 'string' }, k: { type: 'string', short: 'k' }, from: { type: 'string' },
  'diagnose-on': { type: 'string' }, draws: { type: 'string' }, model: { type: 'string' }, 'no-tune': { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function positiveInt(raw: string | undefined, fallback: number, flag: string): number {
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(x) || x < 1) throw new Error(`${flag}: '${raw}' is not a positive integer`);
  return x;
}

/** A diagnosis as saved: every unit's score and rank, the problem units, the contrast's. */
function diag(a: Attribution, on: DiagnoseOn): Diag {
  const out: Diag = { on, set: a.set, samples: a.samples, accuracy: a.evaluation.accuracy, problem: a.problem, rows: a.rows };
  if (a.contrast) {
    const ratios = new Map(a.contrast.rows.map((r) => [r.name, r.ratio]));
    out.contrast = { samples: a.contrast.samples, problem: topK(ratios, a.k), rows: a.contrast.rows.map((r) => ({ name: r.name, ratio: r.ratio })) };
  }
  return out;
}

const scoresOf = (d: Diag) => new Map(d.rows.map((r) => [r.name, r.score]));
const contrastOf = (d: Diag) => new Map(d.contrast!.rows.map((r) => [r.name, r.ratio]));
const sizeRho = (d: Diag) => spearman(scoresOf(d), new Map(d.rows.map((r) => [r.name, r.count])));

export async function experimentCommand(argv: string[]): Promise<number> {
  const { values: v } = parseFlags(argv, EXPERIMENT_OPTIONS);
  if (v.help) return (console.log(EXPERIMENT_HELP), 0);
  if (v.from) {
    const doc = JSON.parse(await readFile(resolve(v.from), 'utf8')) as ExperimentDoc;
    if (doc.version !== 2) throw new Error(`--from ${v.from}: not an experiment.json of this version (version ${String(doc.version)}, want 2); run the experiment again`);
    const dir = resolve(v.out ?? dirname(dirname(resolve(v.from))));
    // The statistics and the text come from this code; the numbers from the saved results.
    const env = environment('');
    const rewrittenBy = env.commit && env.commit !== doc.environment.commit ? `\`critdamp experiment --from\` at commit ${env.commit}${env.modified ? ' (with uncommitted changes)' : ''}` : undefined;
    await writeReport(dir, { ...doc, statistics: experimentStatistics(doc.results, doc.settings), ...(rewrittenBy ? { rewrittenBy } : {}) });
    console.log(`wrote ${join(dir, 'diagnosis.md')} from ${v.from}`);
    return 0;
  }
  // Every flag is checked before any work.
  const p = getPreset<ExperimentPreset>('experiment', v.preset ?? 'fashion-cpu');
  const presetName = canonicalPreset('experiment', v.preset ?? 'fashion-cpu');
  const seeds = Array.from({ length: positiveInt(v.seeds, 3, '--seeds') }, (_, i) => i);
  const k = positiveInt(v.k, 3, '-k');
  const model = v.model ?? 'resnet18';
  if (!modelNames().includes(model)) throw new Error(`--model: unknown model '${model}' (${modelNames().join(', ')})`);

  const diagnoseOn = (v['diagnose-on'] ?? 'val') as DiagnoseOn;
  if (!DIAGNOSE_ON.includes(diagnoseOn)) throw new Error(`--diagnose-on: '${diagnoseOn}' is not ${DIAGNOSE_ON.join(', ')}`);
  const { about: _about, ...rest } = p;
  const settings: ExperimentSettings = { ...rest, ...(model === 'resnet18' ? {} : { model }), draws: positiveInt(v.draws, p.draws, '--draws'), band: DEFAULT_BAND, k, diagnoseOn };
  const out = resolve(v.out ?? 'docs');
  const jsonPath = join(out, 'diagnosis', 'experiment.json');

  // A stopped experiment with the same settings continues: its finished seeds are kept. One with
  // other settings is never overwritten: the command says what differs.
  let results: SeedResult[] = [], minutesBefore = 0;
  if (existsSync(jsonPath)) {
    let old: ExperimentDoc;
    try {
      old = JSON.parse(await readFile(jsonPath, 'utf8')) as ExperimentDoc;
    } catch (e) {
      throw new Error(`${jsonPath} is not readable JSON (${(e as Error).message}): move it away, or choose another --out`);
    }
    const diff = old.version !== 2 ? [`version ${String(old.version)} there, 2 now`]
      : [...(canonicalPreset('experiment', old.preset) !== presetName ? [`preset: ${old.preset} there, ${presetName} now`] : []),
        ...[...new Set([...Object.keys(old.settings), ...Object.keys(settings)])].filter((key) => JSON.stringify((old.settings as unknown as Record<string, unknown>)[key]) !== JSON.stringify((settings as unknown as Record<string, unknown>)[key]))
          .map((key) => `${key}: ${JSON.stringify((old.settings as unknown as Record<string, unknown>)[key])} there, ${JSON.stringify((settings as unknown as Record<string, unknown>)[key])} now`)];
    if (diff.length) throw new Error(`${jsonPath} holds an experiment with other settings (${diff.join('; ')}); rerun with its settings to continue it, or choose another --out`);
    results = old.results.filter((r) => seeds.includes(r.seed));
    minutesBefore = results.reduce((s, r) => s + r.minutes, 0);
    if (results.length) console.log(`critdamp experiment: ${results.length} seed(s) already done in ${jsonPath}; continuing`);
  }
  const started = performance.now();
  const full = subsets(await loadDataset(p.data as DatasetName), { ...p, subsetSeed: 0 });
  const engine = await Engine.create();
  const env = environment(engine.adapterName);
  const log = (s: string) => console.log(`[${((performance.now() - started) / 60000).toFixed(1)} min] ${s}`);
  const doc = (): ExperimentDoc => {
    const val = results[0]?.heldOut.count ?? 0;
    return { version: 2, preset: presetName, about: p.about, command: `critdamp experiment ${argv.join(' ')}`.trim(), settings, seeds, environment: env,
      data: { name: full.train.name, classes: full.train.classes.length, fullTrain: full.train.n, train: full.train.n - val, val, test: full.test.n,
        correction: settings.correctSubset > 0 ? Math.min(settings.correctSubset, full.train.n - val) : full.train.n - val },
      minutes: minutesBefore + (performance.now() - started) / 60000, complete: seeds.every((s) => results.some((r) => r.seed === s)),
      results: [...results].sort((a, b) => a.seed - b.seed), statistics: experimentStatistics(results, settings) };
  };
  try {
    await cliTuning(engine, v['no-tune'], 'critdamp experiment');
    checkK(engine, settings, full.train);
    for (const seed of seeds) {
      if (results.some((r) => r.seed === seed)) continue;
      const seedStart = performance.now();
      results.push(await runSeed(engine, full, settings, seed, log));
      results[results.length - 1].minutes = (performance.now() - seedStart) / 60000;
      await mkdir(join(out, 'diagnosis'), { recursive: true });
      await writeFileAtomic(jsonPath, JSON.stringify(doc(), null, 1));
    }
  } finally {
    engine.destroy();
  }
  const d = doc();
  await writeFileAtomic(jsonPath, JSON.stringify(d, null, 1));
  await writeReport(out, d);
  console.log(`wrote ${join(out, 'diagnosis.md')} and ${join(out, 'diagnosis')}/ (${d.minutes.toFixed(1)} minutes)`);
  return 0;
}

/** -k must leave other sets of units to draw at every granularity: checked on the model before any training. */
function checkK(engine: Engine, s: ExperimentSettings, data: Dataset): void {
  const spec = configFromSettings(s.model ?? 'resnet18', { numClasses: data.classes.length, inChannels: data.c, inputSize: [data.h, data.w] }, { width: s.width, stem: s.stem });
  const m = createModel(engine, spec, 0);
  try {
    for (const g of s.granularities) {
      const n = m.units(g).length;
      if (s.k >= n) throw new Error(`-k: ${s.k} problem units of ${describeModel(spec)}'s ${n} ${g}s leaves no other set to compare with; use -k ${Math.max(1, n - 1)} or less`);
    }
  } finally {
    m.destroy();
  }
}

async function runSeed(engine: Engine, full: { train: Dataset; test: Dataset }, s: ExperimentSettings, seed: number,
  log: (s: string) => void): Promise<SeedResult> {
  const heldOut = makeHeldOut(full.train, s.valFraction, seed);
  const { train, val } = applyHeldOut(full.train, heldOut);
  const data = { train, test: full.test };
  const selection = selectionData({ train, val, test: full.test }, s.diagnoseOn);
  const modelSpec = configFromSettings(s.model ?? 'resnet18', { numClasses: train.classes.length, inChannels: train.c, inputSize: [train.h, train.w] }, { width: s.width, stem: s.stem });
  log(`seed ${seed}: ${describeModel(modelSpec)}; ${train.n} training images, ${val.n} held out; the layers are chosen on ${selection.note}`);
  // The divergence guard stays on (trainConfig's default): a run that diverges stops this seed with its message.
  const config = (kind: 'sgd' | 'adam'): TrainConfig => trainConfig({
    epochs: s.epochs, batchSize: s.batchSize, seed, model: modelSpec,
    optimizer: { kind, weightDecay: kind === 'sgd' ? 5e-4 : 0 }, lr: { kind: 'cosine', lr: kind === 'sgd' ? s.sgdLr : s.adamLr },
    momentum: kind === 'sgd' ? { kind: 'physics' } : { kind: 'constant', mu: 0.9 }, evalBatchSize: 250,
  });
  const trainers = { sgd: Trainer.create(engine, data, config('sgd')), adam: Trainer.create(engine, data, config('adam')) };
  // The runs' shared epoch-0 weights: the same model built from the same seed.
  const untrained = createModel(engine, trainers.sgd.model.config, seed);
  try {
    const runs = {} as SeedResult['runs'];
    const wrong = {} as Record<'sgd' | 'adam', number[]>;
    for (const kind of ['sgd', 'adam'] as const) {
      const t = trainers[kind];
      const r = await t.fit();
      const onSelection = await evaluate(engine, t.model, selection.data, { batchSize: t.config.evalBatchSize, mean: t.mean, std: t.std });
      wrong[kind] = onSelection.misclassified;
      runs[kind] = { testAccuracy: r!.accuracy, selectionAccuracy: onSelection.accuracy };
      log(`seed ${seed} ${kind}: test accuracy ${pct(runs[kind].testAccuracy)}, ${selection.on} accuracy ${pct(runs[kind].selectionAccuracy)}`);
    }
    const { mean: m, std } = trainers.sgd;
    const granularities: GranularityResult[] = [];
    const correctionData = { train: s.correctSubset > 0 && s.correctSubset < train.n ? subset(train, s.correctSubset, seed + 2) : train, test: full.test };
    const model = trainers.sgd.model, snapshot = await model.store.read();
    const restore = () => { for (const [name, x] of snapshot) model.store.set(name, x.data); };
    const common = { data: correctionData, mean: m, std, epochs: s.correctEpochs, lr: { kind: 'cosine' as const, lr: s.correctLr }, seed };
    for (const granularity of s.granularities as Granularity[]) {
      const opts = { mean: m, std, k: s.k, granularity, contrast: true, maxCorrect: s.maxCorrect };
      const sgd = diag(await attribute(engine, trainers.sgd.model, selection.data, opts), selection.on);
      const adam = diag(await attribute(engine, trainers.adam.model, selection.data, opts), selection.on);
      // The untrained network (the runs' shared epoch-0 weights) on each run's own misclassified images.
      const untrainedSgd = diag(await attribute(engine, untrained, selection.data, { ...opts, contrast: false, samples: wrong.sgd }), selection.on);
      const untrainedAdam = diag(await attribute(engine, untrained, selection.data, { ...opts, contrast: false, samples: wrong.adam }), selection.on);
      const agreement = {
        sgdAdam: compareAttributions(scoresOf(sgd), scoresOf(adam), s.k),
        sgdUntrained: compareAttributions(scoresOf(sgd), scoresOf(untrainedSgd), s.k),
        adamUntrained: compareAttributions(scoresOf(adam), scoresOf(untrainedAdam), s.k),
        contrast: sgd.contrast && adam.contrast ? compareAttributions(contrastOf(sgd), contrastOf(adam), s.k) : null,
      };
      log(`seed ${seed} ${granularity}: SGD ${sgd.problem.join(', ')}; Adam ${adam.problem.join(', ')}; overlap ${agreement.sgdAdam.shared.length}/${s.k} ` +
        `(with the untrained network: SGD ${agreement.sgdUntrained.shared.length}/${s.k}, Adam ${agreement.adamUntrained.shared.length}/${s.k})`);
      const correction = await correctWithControls(engine, model, {
        ...common, layers: sgd.problem, granularity, restore, initSeed: seed, draws: s.draws, band: s.band, drawSeed: 1000 + seed,
        include: { lastK: true, full: false, autoRgn: false },
        onRow: (row) => log('report' in row
          ? `seed ${seed} ${granularity} correct ${row.method}${row.draw !== undefined ? ` #${row.draw + 1}` : ''} (${row.report.layers.join(', ').slice(0, 80)}): net ${row.report.net}`
          : `seed ${seed} ${granularity} reset ${row.method}${row.draw !== undefined ? ` #${row.draw + 1}` : ''}: accuracy drops ${(100 * row.drop).toFixed(1)} points`),
      });
      granularities.push({ granularity, k: s.k, units: sgd.rows.length, diagnosis: { sgd, adam, untrainedSgd, untrainedAdam }, agreement,
        sizeRho: { sgd: sizeRho(sgd), adam: sizeRho(adam), untrained: sizeRho(untrainedSgd) }, correction });
    }
    // The whole-network controls retrain every parameter, so they are the same at either granularity: run once.
    restore();
    const fullFt = await correct(engine, model, { ...common, layers: model.units('group').map((u) => u.name), granularity: 'group' });
    log(`seed ${seed} full fine-tuning: net ${fullFt.net}`);
    restore();
    const autoRgn = await autoRgnFineTune(engine, model, common);
    log(`seed ${seed} Auto-RGN: net ${autoRgn.net}`);
    restore();
    return { seed, heldOut, minutes: 0, runs, granularities, shared: { full: fullFt, autoRgn } };
  } finally {
    untrained.destroy();
    trainers.sgd.destroy();
    trainers.adam.destroy();
  }
}

async function writeReport(out: string, doc: ExperimentDoc): Promise<void> {
  await mkdir(join(out, 'diagnosis'), { recursive: true });
  const g = doc.results[0]?.granularities.find((x) => x.granularity === 'layer') ?? doc.results[0]?.granularities[0];
  if (g) {
    const methods = ['diagnosed', 'random', 'last k'] as const;
    const bars = methods.map((mth) => {
      const nets = doc.results.map((r) => mean(r.granularities.find((x) => x.granularity === g.granularity)!.correction.rows.filter((c) => c.method === mth).map((c) => c.report.net)));
      return { label: mth === 'random' ? 'random, similar share' : mth === 'last k' ? `last ${doc.settings.k}` : mth, value: mean(nets), highlight: mth === 'diagnosed', note: `(${g.granularity}s)` };
    });
    bars.push({ label: 'full fine-tuning', value: mean(doc.results.map((r) => r.shared.full.net)), highlight: false, note: '' });
    bars.push({ label: 'Auto-RGN', value: mean(doc.results.map((r) => r.shared.autoRgn.net)), highlight: false, note: '' });
    const svg = barChartSvg(bars, { title: 'Surgical correction: net errors fixed on the test images (mean over seeds)',
      subtitle: `${datasetLabel(doc.settings.data)}, ${doc.results.length} seed(s); layers chosen on the ${doc.settings.diagnoseOn} images`, axis: 'fixed − broken on the test images' });
    await writeFile(join(out, 'diagnosis', 'correction.svg'), svg);
    await sharp(Buffer.from(svg)).png().toFile(join(out, 'diagnosis', 'correction.png'));
  }
  await writeFile(join(out, 'diagnosis.md'), experimentReport(doc));
}
