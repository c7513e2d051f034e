/**
 * `critdamp diagnose` and `critdamp correct`: the paper's tool on a trained checkpoint. diagnose
 * ranks the layers (or groups) by the gradient of the misclassified images of the run's held-out
 * validation split (its training images when it held none out; the test images only when asked,
 * marked as leakage) and, given two checkpoints, says how much their problem layers agree and how
 * surprising that is. correct retrains only the named (or diagnosed) layers on the run's training
 * images and reports what it fixed on the test images, beside controls under the same budget and
 * an ablation. Both write JSON and a chart (SVG, PNG).
 */
import { parseFlags } from './flags';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { Engine } from '../gpu/engine';
import { describeModel, modelConfig } from '../nn/registry';
import { cardMetadata, cardMismatch, weightsCard, type ModelCard } from '../io/weights';
import type { Model } from '../nn/model';
import type { Engine as EngineType } from '../gpu/engine';
import { findCheckpoint, loadCheckpointModel, loadWeightsFile, readRunState, saveWeights, writeFileAtomic } from '../io/checkpoint.node';
import { trainConfig } from '../train/config';
import type { DatasetName } from '../data/index.node';
import type { TrainerState } from '../train/trainer';
import { attribute, compareAttributions, correct, correctWithControls, METRICS, DEFAULT_BAND, DEFAULT_DRAWS, type AblationRow, type Attribution, type ControlResult, type ControlRow, type Granularity, type Metric } from '../attribution';
import { loadRunData, runDataOf, type RunData, type RunSplit } from '../data/rundata.node';
import { selectionData, DIAGNOSE_ON, type DiagnoseOn, type Selection } from '../data/split';
import { pText } from '../stats/paired';
import { barChartSvg } from '../report/chart';
import { parseLrSpec } from '../schedule';

const COMMON = {
  checkpoint: { type: 'string', multiple: true }, granularity: { type: 'string' }, metric: { type: 'string' }, k: { type: 'string', short: 'k' },
  'diagnose-on': { type: 'string' }, out: { type: 'string' }, data: { type: 'string' }, 'data-dir': { type: 'string' },
  verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export const DIAGNOSE_OPTIONS = { ...COMMON, aggregation: { type: 'string' }, contrast: { type: 'boolean' } } as const;
export const CORRECT_OPTIONS = {
  ...COMMON, layers: { type: 'string' }, epochs: { type: 'string' }, 'lr-schedule': { type: 'string' }, 'batch-size': { type: 'string' }, controls: { type: 'boolean' },
  draws: { type: 'string' }, seed: { type: 'string' },
} as const;

const SELECTION_HELP = `  --diagnose-on S      which images' errors choose the layers: val (default: the run's held-out
                       validation split, or its training images when it held none out) | train |
                       test (leakage: the same images then score a correction; reports say so)`;

export const DIAGNOSE_HELP = `critdamp diagnose — which layers do a trained network's errors come from?

Usage: critdamp diagnose --checkpoint A [--checkpoint B] [options]
  --checkpoint DIR     a run directory or one of its checkpoints (twice: compare two runs), or a
                       weights file from critdamp (the training page's download) with --data
  --data NAME          for a weights file: the images to diagnose and score on (fashion-mnist, mnist,
                       cifar10, cifar100, folder); --data-dir DIR where they are
${SELECTION_HELP}
  --granularity G      group (conv1, bn1, layer1..4, fc; default) | layer (every module)
  --metric M           ${Object.entries(METRICS).map(([k, v]) => `\n                         ${k.padEnd(9)} ${v}`).join('')}
                       (default relative)
  -k K                 problem layers: the top K (default 3)
  --aggregation A      mean (gradient of the mean loss; default) | per-sample (mean of per-sample scores)
  --contrast           also score the correctly classified samples (ratio misclassified ÷ correct,
                       which divides out what a layer's size alone does to the score)
  --out DIR            where the JSON and chart go (default <run>/diagnosis)
  --verbose            show Dawn's and the Vulkan loader's own warnings (hidden otherwise)`;

export const CORRECT_HELP = `critdamp correct — retrain only the problem layers (surgical correction), scored on the test images

Usage: critdamp correct --checkpoint A [--layers auto|a,b,c] [options]
  --checkpoint DIR     a run directory or one of its checkpoints, or a weights file from critdamp
                       (the training page's download) with --data NAME [--data-dir DIR]
  --layers L           auto (the diagnosed top K; default) or names at --granularity
${SELECTION_HELP}
  --granularity G      group (default) | layer;  --metric M, -k K: as for critdamp diagnose
  --epochs E           fine-tuning epochs on the run's training images (default 2)
  --lr-schedule SPEC   default cosine:0.01 (physics momentum)
  --batch-size N       fine-tuning batch size (default: the run's)
  --controls           also: random sets of K layers whose parameter share is within ×/÷ ${(1 + DEFAULT_BAND).toFixed(2)} of the
                       diagnosed set's, drawn uniformly (where the diagnosed set ranks among them is an
                       exact p-value), the last K, full fine-tuning, Auto-RGN (every layer, per-layer rates
                       by relative gradient norm; Lee et al. 2023), and an ablation (the diagnosed layers
                       and the same random draws reset to epoch 0)
  --draws N            random draws for --controls (default ${DEFAULT_DRAWS})
  --seed N             seed of the fine-tuning's data order and of the random draws (default 0)
  --out DIR            where the corrected checkpoint and report go (default <run>/correction)
  --verbose            show Dawn's and the Vulkan loader's own warnings (hidden otherwise)`;

interface Opened {
  /** The checkpoint folder (for a weights file, the folder it is in). */
  dir: string;
  /** Set when the checkpoint is a bare weights file. */
  weightsFile?: string;
  state: TrainerState;
  split: RunSplit;
  mean: number[];
  std: number[];
}

/** A checkpoint, its run's config, and the run's own data (subsets and held-out split as recorded). */
async function open(path: string, data?: { data?: string; dataDir?: string }): Promise<Opened> {
  const full = resolve(path);
  if (full.endsWith('.safetensors') && existsSync(full)) return openWeightsFile(full, data ?? {});
  if (data?.data || data?.dataDir) throw new Error(`--data and --data-dir are for a weights file; the run in ${path} records its own data`);
  const dir = await findCheckpoint(full);
  if (!dir) throw new Error(`no checkpoint at ${path} (a run directory with checkpoints/latest, a checkpoint directory with state.json, or a .safetensors file)`);
  const state = await readRunState<TrainerState>(dir);
  if (!state.config?.model || !state.data) throw new Error(`${dir}/state.json has no run config (model, data): it was not written by critdamp train`);
  if (!state.mean || !state.std) throw new Error(`${dir}/state.json has no normalisation (mean, std)`);
  const split = await loadRunData(runDataOf(state, join(dir, 'state.json')));
  return { dir, state, split, mean: state.mean, std: state.std };
}

const DATASETS: readonly DatasetName[] = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder'];

/**
 * A bare weights file (the training page's download): its card says which model it holds, its
 * normalisation and classes, but not which images it saw, so --data names them. The run it came
 * from is unknown, and so is its seed: `correct --controls` leaves the ablation out and says so.
 */
async function openWeightsFile(file: string, d: { data?: string; dataDir?: string }): Promise<Opened> {
  const card = weightsCard(new Uint8Array(await readFile(file)), file);
  if (!card) throw new Error(`${file} does not describe its model (no critdamp card in its metadata): use a run folder, or weights saved by critdamp`);
  if (!d.data) throw new Error(`${file} is a weights file, which does not say which images it was trained on: add --data NAME (${DATASETS.join(', ')}) and --data-dir DIR if needed`);
  if (!DATASETS.includes(d.data as DatasetName)) throw new Error(`--data: '${d.data}' is not ${DATASETS.join(', ')}`);
  const record: RunData = { data: d.data as DatasetName, ...(d.dataDir ? { dataDir: resolve(d.dataDir) } : {}), trainSubset: 0, testSubset: 0, subsetSeed: 0 };
  const split = await loadRunData(record);
  const config = trainConfig({ epochs: 1, batchSize: 64, seed: 0, model: card.model, optimizer: { kind: 'sgd', weightDecay: 5e-4 }, lr: { kind: 'cosine', lr: 0.01 },
    momentum: { kind: 'physics' }, augment: null, labelSmoothing: 0, logEvery: 50, evalBatchSize: 256 });
  const state = { epoch: 0, step: 0, config, mean: card.mean, std: card.std, classes: card.classes, input: card.input, ...record, weightsFile: file } as unknown as TrainerState;
  // (The seed in this config is a placeholder: `correct --controls` leaves out the ablation, which would need the real one.)
  return { dir: dirname(file), state, split, mean: card.mean, std: card.std, weightsFile: file };
}

async function openModel(engine: EngineType, run: Opened): Promise<{ model: Model; card: ModelCard | null }> {
  const r = run.weightsFile ? await loadWeightsFile(engine, run.weightsFile) : await loadCheckpointModel(engine, run.dir, run.state);
  if (r.card) {
    const fit = cardMismatch(r.card, run.split.test);
    if (fit.errors.length) {
      r.model.destroy();
      throw new Error(`the run's data does not fit the model in ${run.dir} (${describeModel(r.card.model)}): ${fit.errors.join('; ')}`);
    }
  }
  return r;
}

const pct = (v: number) => `${(100 * v).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`;

function table(a: Attribution): string {
  const head = `${'rank'.padStart(4)}  ${a.granularity.padEnd(24)} ${'parameters'.padStart(11)} ${'share'.padStart(7)} ${a.metric.padStart(11)}${a.contrast ? '   ÷ correct' : ''}`;
  return [head, ...a.rows.map((r) => {
    const ratio = a.contrast ? `   ${a.contrast.rows.find((c) => c.name === r.name)!.ratio.toFixed(2).padStart(9)}` : '';
    return `${String(r.rank).padStart(4)}  ${r.name.padEnd(24)} ${r.count.toLocaleString('en-US').padStart(11)} ${pct(r.share).padStart(7)} ${r.score.toExponential(3).padStart(11)}${ratio}${r.rank <= a.k ? '  ◀' : ''}`;
  })].join('\n');
}

async function writeChart(base: string, svg: string): Promise<void> {
  await writeFile(`${base}.svg`, svg);
  await sharp(Buffer.from(svg)).png().toFile(`${base}.png`);
}

function int(raw: string | undefined, fallback: number, flag: string, min: number): number {
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(x) || x < min) throw new Error(`${flag}: '${raw}' is not an integer ≥ ${min}`);
  return x;
}

/** The flags both commands take, every one checked before any work. */
function common(values: { granularity?: string; metric?: string; k?: string; 'diagnose-on'?: string; checkpoint?: string[]; help?: boolean }) {
  const granularity = (values.granularity ?? 'group') as Granularity;
  if (granularity !== 'group' && granularity !== 'layer') throw new Error(`--granularity: '${granularity}' is not group or layer`);
  const metric = (values.metric ?? 'relative') as Metric;
  if (!(metric in METRICS)) throw new Error(`--metric: '${metric}' is not ${Object.keys(METRICS).join(', ')}`);
  const k = int(values.k, 3, '-k', 1);
  const diagnoseOn = (values['diagnose-on'] ?? 'val') as DiagnoseOn;
  if (!DIAGNOSE_ON.includes(diagnoseOn)) throw new Error(`--diagnose-on: '${diagnoseOn}' is not ${DIAGNOSE_ON.join(', ')}`);
  const checkpoints = values.checkpoint ?? [];
  if (!values.help && checkpoints.length === 0) throw new Error('--checkpoint DIR is required');
  return { checkpoints, granularity, metric, k, diagnoseOn };
}

function selectionLine(sel: Selection): string {
  return `the layers are chosen on ${sel.note}`;
}

export async function diagnoseCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, DIAGNOSE_OPTIONS);
  if (values.help) return (console.log(DIAGNOSE_HELP), 0);
  const o = common(values);
  const aggregation = values.aggregation ?? 'mean';
  if (aggregation !== 'mean' && aggregation !== 'per-sample') throw new Error(`--aggregation: '${aggregation}' is not mean or per-sample`);
  if (o.checkpoints.length > 2) throw new Error('--checkpoint: give one checkpoint, or two to compare');
  const runs = await Promise.all(o.checkpoints.map((c) => open(c, { data: values.data, dataDir: values['data-dir'] })));
  const same = (a: Opened) => JSON.stringify(Object.entries(modelConfig(a.state.config.model)).sort());
  if (runs.length === 2 && same(runs[0]) !== same(runs[1])) {
    throw new Error(`the two checkpoints are different architectures (${describeModel(runs[0].state.config.model)} vs ${describeModel(runs[1].state.config.model)}): their layers cannot be compared`);
  }
  const selections = runs.map((run) => selectionData(run.split, o.diagnoseOn));
  const engine = await Engine.create();
  const results: Attribution[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      const { model } = await openModel(engine, run);
      try {
        const sel = selections[i];
        const a = await attribute(engine, model, sel.data, { mean: run.mean, std: run.std, metric: o.metric, granularity: o.granularity,
          k: o.k, aggregation: aggregation as 'mean' | 'per-sample', contrast: values.contrast });
        results.push(a);
        console.log(`\n${run.dir} (${run.state.config.optimizer.kind}, momentum ${JSON.stringify(run.state.config.momentum)}): ${selectionLine(sel)}; ` +
          `accuracy there ${pct(a.evaluation.accuracy)}, gradient of its ${a.samples} misclassified images (${a.aggregation} aggregation)\n`);
        console.log(table(a));
        console.log(`\nproblem ${o.granularity}s: ${a.problem.join(', ')}`);
      } finally {
        model.destroy();
      }
    }
  } finally {
    engine.destroy();
  }
  const out = resolve(values.out ?? join(dirname(dirname(runs[0].dir)), 'diagnosis'));
  await mkdir(out, { recursive: true });
  const report: Record<string, unknown> = { granularity: o.granularity, metric: o.metric, k: o.k, aggregation,
    runs: results.map((a, i) => ({ checkpoint: runs[i].dir, selection: selectionRecord(selections[i]), accuracy: a.evaluation.accuracy, samples: a.samples,
      rows: a.rows, problem: a.problem, contrast: a.contrast })) };
  if (results.length === 2) {
    const c = compareAttributions(results[0].scores, results[1].scores, o.k);
    report.comparison = c;
    console.log(`\noverlap of the top ${o.k}: ${c.shared.length}/${o.k} (${c.shared.join(', ') || 'none'}); p = ${c.pValue.toPrecision(3)} ` +
      `that ${o.k} random ${o.granularity}s of ${c.n} share as many; Spearman ${c.spearman.toFixed(3)}, Kendall τ-b ${c.kendall.toFixed(3)}`);
  }
  await writeFileAtomic(join(out, 'diagnosis.json'), JSON.stringify(report, null, 1));
  const a = results[0];
  await writeChart(join(out, 'diagnosis'), barChartSvg(a.rows.map((r) => ({ label: r.name, value: r.score, highlight: r.rank <= a.k, note: `· ${pct(r.share)} of parameters` })),
    { title: `${a.metric} gradient score per ${a.granularity}`, subtitle: `${a.samples} misclassified ${selections[0].on} images, ${a.aggregation} aggregation; red: the top ${a.k}`, axis: METRICS[a.metric] }));
  console.log(`\nwrote ${join(out, 'diagnosis.json')}, diagnosis.svg, diagnosis.png`);
  return 0;
}

/** What a report records of the images that chose the layers. */
function selectionRecord(sel: Selection) {
  return { asked: sel.asked, on: sel.on, images: sel.data.n, leakage: sel.leakage, note: sel.note };
}

export async function correctCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, CORRECT_OPTIONS);
  if (values.help) return (console.log(CORRECT_HELP), 0);
  const o = common(values);
  if (o.checkpoints.length > 1) throw new Error('--checkpoint: correct takes one checkpoint');
  const epochs = int(values.epochs, 2, '--epochs', 1);
  const seed = int(values.seed, 0, '--seed', 0);
  const draws = int(values.draws, DEFAULT_DRAWS, '--draws', 1);
  const batchFlag = values['batch-size'] === undefined ? undefined : int(values['batch-size'], 0, '--batch-size', 1);
  const lr = parseLrSpec(values['lr-schedule'] ?? 'cosine:0.01');
  const named = (values.layers ?? 'auto') === 'auto' ? null : values.layers!.split(',').map((x) => x.trim()).filter(Boolean);
  if (named && named.length === 0) throw new Error("--layers: no layer names given (use auto, or names such as layer1,fc)");
  const run = await open(o.checkpoints[0], { data: values.data, dataDir: values['data-dir'] });
  const rows: ControlRow[] = [];
  const ablation: AblationRow[] = [];
  let plan: ControlResult['plan'] | null = null, rank: ControlResult['rank'] = null, selection: Selection | null = null;
  const out = resolve(values.out ?? join(dirname(dirname(run.dir)), 'correction'));
  // The correction trains on the run's training images (never the held-out ones) and is scored on its test images.
  const data = { train: run.split.train, test: run.split.test };
  const batchSize = batchFlag ?? Math.min(run.state.config.batchSize, data.train.n);
  if (batchSize > data.train.n) throw new Error(`--batch-size ${batchSize} is larger than the run's ${data.train.n} training images`);
  let layers: string[];
  const engine = await Engine.create();
  const { model, card } = await openModel(engine, run).catch((e) => { engine.destroy(); throw e; });
  try {
    if (named) {
      layers = named;
    } else {
      selection = selectionData(run.split, o.diagnoseOn);
      const a = await attribute(engine, model, selection.data, { mean: run.mean, std: run.std, metric: o.metric, granularity: o.granularity, k: o.k });
      layers = a.problem;
      console.log(`diagnosed (${o.metric}, ${o.granularity}) on ${selection.note}: ${layers.join(', ')}`);
    }
    // Every method starts from the weights as loaded (and their BN statistics).
    const snapshot = await model.store.read();
    const restore = () => { for (const [name, x] of snapshot) model.store.set(name, x.data); };
    const saveMain = async () => {
      await mkdir(out, { recursive: true });
      await saveWeights(join(out, 'model.safetensors'), model.store, { corrected: layers.join(','), ...(card ? cardMetadata(card) : {}) });
      // With the run's state beside the weights the folder is a checkpoint: critdamp eval and
      // diagnose take it as --checkpoint.
      await writeFileAtomic(join(out, 'state.json'), JSON.stringify({ ...run.state, correctedFrom: run.dir, correctedLayers: layers }, null, 1));
    };
    const show = (row: ControlRow | AblationRow) => {
      const name = `${row.method === 'last k' ? `last ${layers.length}` : row.method}${row.draw !== undefined ? ` #${row.draw + 1}` : ''}`;
      if ('report' in row) {
        const r = row.report;
        console.log(`${name.padEnd(22)} ${r.layers.join(', ').slice(0, 48).padEnd(48)} ${pct(r.share).padStart(6)} params  errors ${r.before.errors} → ${r.after.errors}  ` +
          `fixed ${r.fixed}, broken ${r.broken}, net ${r.net >= 0 ? '+' : ''}${r.net}  ${r.wallSeconds.toFixed(0)} s`);
      } else {
        console.log(`ablation: reset ${name} (${row.layers.join(', ')}): accuracy drops ${(100 * row.drop).toFixed(1)} points to ${pct(row.accuracy)}`);
      }
    };
    const base = { layers, granularity: o.granularity, data, mean: run.mean, std: run.std, epochs, lr, seed, batchSize };
    if (values.controls) {
      // A bare weights file does not record its run's seed, so its epoch-0 weights are unknown: no ablation.
      if (run.weightsFile) console.log('ablation: left out: a weights file does not record the seed of its first weights');
      const done = await correctWithControls(engine, model, { ...base, draws, restore, initSeed: run.weightsFile ? null : run.state.config.seed, afterMain: saveMain, onRow: show });
      rows.push(...done.rows);
      ablation.push(...done.ablation);
      plan = done.plan;
      rank = done.rank;
      console.log(`random draws: ${plan.sets.length} sets of ${layers.length} ${o.granularity}s within ×/÷ ${(1 + plan.band).toFixed(2)} of the diagnosed share ${pct(plan.target)}` +
        `${plan.widened ? ` (band widened from ×/÷ ${(1 + plan.requestedBand).toFixed(2)}: too few sets in it)` : ''}`);
      if (rank) {
        console.log(`the diagnosed layers rank ${rank.net.rank} of ${rank.net.draws + 1} by net errors fixed (exact p = ${pText(rank.net.p)} that random layers do as well)` +
          `${rank.drop ? `, ${rank.drop.rank} of ${rank.drop.draws + 1} by accuracy lost when reset (p = ${pText(rank.drop.p)})` : ''}; one run: a single seed, so no paired test over seeds`);
      }
    } else {
      const row: ControlRow = { method: 'diagnosed', report: await correct(engine, model, base) };
      rows.push(row);
      show(row);
      await saveMain();
    }
  } finally {
    model.destroy();
    engine.destroy();
  }
  const label = (r: ControlRow | AblationRow) => `${r.method === 'last k' ? `last ${layers.length}` : r.method}${r.draw !== undefined ? ` #${r.draw + 1}` : ''}`;
  await writeFileAtomic(join(out, 'correction.json'), JSON.stringify({ checkpoint: run.dir, granularity: o.granularity, selection: selection ? selectionRecord(selection) : null,
    scoredOn: { images: data.test.n, set: 'test' }, rows, ablation, plan, rank }, null, 1));
  await writeFileAtomic(join(out, 'correction.md'), [
    `# Surgical correction of ${run.dir}`, '',
    selection ? `Layers chosen on ${selection.note}; scored on the ${data.test.n} test images.` : `Layers named by hand; scored on the ${data.test.n} test images.`, '',
    '| method | layers | parameters | errors before | errors after | fixed | broken | net | wall s |', '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((row) => { const r = row.report; return `| ${label(row)} | ${r.layers.join(', ')} | ${pct(r.share)} | ${r.before.errors} | ${r.after.errors} | ${r.fixed} | ${r.broken} | ${r.net} | ${r.wallSeconds.toFixed(0)} |`; }),
    ...(rank ? ['', `The diagnosed layers rank ${rank.net.rank} of ${rank.net.draws + 1} among the random draws by net errors fixed (exact p = ${pText(rank.net.p)}). One run is one seed: for a verdict over seeds use critdamp experiment.`] : []),
    ...(ablation.length ? ['', '| reset to epoch 0 | layers | accuracy | drop |', '|---|---|---:|---:|',
      ...ablation.map((a) => `| ${label(a)} | ${a.layers.join(', ')} | ${pct(a.accuracy)} | ${(100 * a.drop).toFixed(1)} points |`)] : []),
    '',
  ].join('\n'));
  await writeChart(join(out, 'correction'), barChartSvg(rows.map((r) => ({ label: label(r), value: r.report.net, highlight: r.method === 'diagnosed', note: `${pct(r.report.share)} of parameters` })),
    { title: 'Net errors fixed on the test images', subtitle: `${rows[0].report.before.errors} errors before; same epochs for every method`, axis: 'fixed − broken' }));
  console.log(`corrected checkpoint: ${out} (model.safetensors, state.json; critdamp eval --checkpoint ${out})\nreport: ${join(out, 'correction.json')}, correction.md, correction.svg, correction.png`);
  return 0;
}
