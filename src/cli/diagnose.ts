/**
 * `critdamp diagnose` and `critdamp correct`: the paper's tool on a trained checkpoint. diagnose
 * ranks the layers (or groups) by the gradient of the misclassified test samples and, given two
 * checkpoints, says how much their problem layers agree and how surprising that is. correct
 * retrains only the named (or diagnosed) layers on the training data and reports what it fixed,
 * beside controls under the same budget and an ablation. Both write JSON and a chart (SVG, PNG).
 */
import { parseArgs } from 'node:util';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { Engine } from '../gpu/engine';
import { ResNet18 } from '../nn/resnet';
import { loadDataset, type DatasetName } from '../data/index.node';
import { subset, type DatasetSplit } from '../data/dataset';
import { findCheckpoint, loadCheckpoint, readRunState, saveWeights, writeFileAtomic } from '../io/checkpoint.node';
import type { TrainerState } from '../train/trainer';
import { attribute, compareAttributions, correct, correctWithControls, METRICS, type AblationRow, type Attribution, type ControlRow, type Granularity, type Metric } from '../attribution';
import { barChartSvg } from '../report/chart';
import { parseLrSpec } from '../schedule';

/** diagnose and correct share one option table (and one help text). */
export const DIAGNOSE_OPTIONS = {
  checkpoint: { type: 'string', multiple: true }, granularity: { type: 'string' }, metric: { type: 'string' }, k: { type: 'string', short: 'k' },
  aggregation: { type: 'string' }, contrast: { type: 'boolean' }, out: { type: 'string' }, layers: { type: 'string' }, epochs: { type: 'string' },
  'lr-schedule': { type: 'string' }, controls: { type: 'boolean' }, seed: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export const DIAGNOSE_HELP = `critdamp diagnose — which layers do a trained network's errors come from?

Usage: critdamp diagnose --checkpoint A [--checkpoint B] [options]
  --checkpoint DIR     a run directory or one of its checkpoints (twice: compare two runs)
  --granularity G      group (conv1, bn1, layer1..4, fc; default) | layer (every module)
  --metric M           ${Object.entries(METRICS).map(([k, v]) => `\n                         ${k.padEnd(9)} ${v}`).join('')}
                       (default relative)
  -k K                 problem layers: the top K (default 3)
  --aggregation A      mean (gradient of the mean loss; default) | per-sample (mean of per-sample scores)
  --contrast           also score the correctly classified samples (ratio misclassified ÷ correct)
  --out DIR            where the JSON and chart go (default <run>/diagnosis)

critdamp correct — retrain only the problem layers (surgical correction)

Usage: critdamp correct --checkpoint A [--layers auto|a,b,c] [options]
  --layers L           auto (the diagnosed top K; default) or names at --granularity
  --epochs E           fine-tuning epochs on the training data (default 2)
  --lr-schedule SPEC   default cosine:0.01 (physics momentum)
  --controls           also: random layers of matched parameter share (3 draws), the last K,
                       full fine-tuning, Auto-RGN (every layer, per-layer rates by relative gradient
                       norm; Lee et al. 2023), and an ablation (diagnosed vs random layers reset to epoch 0)
  --seed N             seed of the fine-tuning's data order and of the random controls (default 0)
  --granularity, --metric, -k, --out as for diagnose
  --verbose            show Dawn's and the Vulkan loader's own warnings (hidden otherwise)`;

interface Opened {
  dir: string;
  state: TrainerState & { data: DatasetName; dataDir?: string; trainSubset?: number; testSubset?: number };
  data: DatasetSplit;
  mean: number[];
  std: number[];
}

/** A checkpoint, its run's config and the run's own data split and normalisation. */
async function open(path: string): Promise<Opened> {
  const dir = await findCheckpoint(resolve(path));
  if (!dir) throw new Error(`no checkpoint at ${path} (a run directory with checkpoints/latest, or a checkpoint directory with state.json)`);
  const state = await readRunState<Opened['state']>(dir);
  if (!state.config?.model || !state.data) throw new Error(`${dir}/state.json has no run config (model, data): it was not written by critdamp train`);
  const split = await loadDataset(state.data, { dir: state.dataDir });
  const seed = state.config.seed;
  const data = {
    train: state.trainSubset && state.trainSubset < split.train.n ? subset(split.train, state.trainSubset, seed) : split.train,
    test: state.testSubset && state.testSubset < split.test.n ? subset(split.test, state.testSubset, seed + 1) : split.test,
  };
  if (!state.mean || !state.std) throw new Error(`${dir}/state.json has no normalisation (mean, std)`);
  return { dir, state, data, mean: state.mean, std: state.std };
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

function options(argv: string[]) {
  const { values } = parseArgs({ args: argv, strict: true, options: DIAGNOSE_OPTIONS });
  const granularity = (values.granularity ?? 'group') as Granularity;
  if (granularity !== 'group' && granularity !== 'layer') throw new Error(`--granularity: '${granularity}' is not group or layer`);
  const metric = (values.metric ?? 'relative') as Metric;
  if (!(metric in METRICS)) throw new Error(`--metric: '${metric}' is not ${Object.keys(METRICS).join(', ')}`);
  const k = values.k === undefined ? 3 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new Error(`-k: '${values.k}' is not a positive integer`);
  const aggregation = values.aggregation ?? 'mean';
  if (aggregation !== 'mean' && aggregation !== 'per-sample') throw new Error(`--aggregation: '${aggregation}' is not mean or per-sample`);
  const checkpoints = values.checkpoint ?? [];
  if (!values.help && checkpoints.length === 0) throw new Error('--checkpoint DIR is required');
  return { ...values, checkpoints, granularity, metric, k, aggregation: aggregation as 'mean' | 'per-sample' };
}

export async function diagnoseCommand(argv: string[]): Promise<number> {
  const o = options(argv);
  if (o.help) return (console.log(DIAGNOSE_HELP), 0);
  if (o.checkpoints.length > 2) throw new Error('--checkpoint: give one checkpoint, or two to compare');
  const runs = await Promise.all(o.checkpoints.map(open));
  if (runs.length === 2 && JSON.stringify(runs[0].state.config.model) !== JSON.stringify(runs[1].state.config.model)) {
    throw new Error(`the two checkpoints are different architectures (${JSON.stringify(runs[0].state.config.model)} vs ${JSON.stringify(runs[1].state.config.model)}): their layers cannot be compared`);
  }
  const engine = await Engine.create();
  const results: Attribution[] = [];
  try {
    for (const run of runs) {
      const model = new ResNet18(engine, run.state.config.model, run.state.config.seed);
      try {
        await loadCheckpoint(run.dir, model.store, null);
        const a = await attribute(engine, model, run.data.test, { mean: run.mean, std: run.std, metric: o.metric, granularity: o.granularity,
          k: o.k, aggregation: o.aggregation, contrast: o.contrast });
        results.push(a);
        console.log(`\n${run.dir} (${run.state.config.optimizer.kind}, momentum ${JSON.stringify(run.state.config.momentum)}): ` +
          `accuracy ${pct(a.evaluation.accuracy)}, gradient of the ${a.samples} misclassified test samples (${a.aggregation} aggregation)\n`);
        console.log(table(a));
        console.log(`\nproblem ${o.granularity}s: ${a.problem.join(', ')}`);
      } finally {
        model.destroy();
      }
    }
  } finally {
    engine.destroy();
  }
  const out = resolve(o.out ?? join(dirname(dirname(runs[0].dir)), 'diagnosis'));
  await mkdir(out, { recursive: true });
  const report: Record<string, unknown> = { granularity: o.granularity, metric: o.metric, k: o.k, aggregation: o.aggregation,
    runs: results.map((a, i) => ({ checkpoint: runs[i].dir, accuracy: a.evaluation.accuracy, samples: a.samples, rows: a.rows, problem: a.problem, contrast: a.contrast })) };
  if (results.length === 2) {
    const c = compareAttributions(results[0].scores, results[1].scores, o.k);
    report.comparison = c;
    console.log(`\noverlap of the top ${o.k}: ${c.shared.length}/${o.k} (${c.shared.join(', ') || 'none'}); p = ${c.pValue.toPrecision(3)} ` +
      `that ${o.k} random ${o.granularity}s of ${c.n} share as many; Spearman ${c.spearman.toFixed(3)}, Kendall τ-b ${c.kendall.toFixed(3)}`);
  }
  await writeFileAtomic(join(out, 'diagnosis.json'), JSON.stringify(report, null, 1));
  const a = results[0];
  await writeChart(join(out, 'diagnosis'), barChartSvg(a.rows.map((r) => ({ label: r.name, value: r.score, highlight: r.rank <= a.k, note: `· ${pct(r.share)} of parameters` })),
    { title: `${a.metric} gradient score per ${a.granularity}`, subtitle: `${a.samples} misclassified samples, ${a.aggregation} aggregation; red: the top ${a.k}`, axis: METRICS[a.metric] }));
  console.log(`\nwrote ${join(out, 'diagnosis.json')}, diagnosis.svg, diagnosis.png`);
  return 0;
}

export async function correctCommand(argv: string[]): Promise<number> {
  const o = options(argv);
  if (o.help) return (console.log(DIAGNOSE_HELP), 0);
  const run = await open(o.checkpoints[0]);
  const engine = await Engine.create();
  const model = new ResNet18(engine, run.state.config.model, run.state.config.seed);
  const rows: ControlRow[] = [];
  const ablation: AblationRow[] = [];
  const out = resolve(o.out ?? join(dirname(dirname(run.dir)), 'correction'));
  try {
    await loadCheckpoint(run.dir, model.store, null);
    let layers = (o.layers ?? 'auto') === 'auto' ? null : o.layers!.split(',').map((s) => s.trim()).filter(Boolean);
    if (!layers) {
      const a = await attribute(engine, model, run.data.test, { mean: run.mean, std: run.std, metric: o.metric, granularity: o.granularity, k: o.k });
      layers = a.problem;
      console.log(`diagnosed (${o.metric}, ${o.granularity}): ${layers.join(', ')}`);
    }
    const epochs = o.epochs === undefined ? 2 : Number(o.epochs);
    if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs: '${o.epochs}' is not a positive integer`);
    const lr = parseLrSpec(o['lr-schedule'] ?? 'cosine:0.01');
    const seed = o.seed === undefined ? 0 : Number(o.seed);
    const restore = () => loadCheckpoint(run.dir, model.store, null).then(() => undefined);
    const saveMain = async () => {
      await mkdir(out, { recursive: true });
      await saveWeights(join(out, 'model.safetensors'), model.store, { corrected: layers!.join(',') });
      // With the run's state beside the weights the folder is a checkpoint: critdamp eval and
      // diagnose take it as --checkpoint.
      await writeFileAtomic(join(out, 'state.json'), JSON.stringify({ ...run.state, correctedFrom: run.dir, correctedLayers: layers }, null, 1));
    };
    const show = (row: ControlRow | AblationRow) => {
      if ('report' in row) {
        const r = row.report;
        console.log(`${row.method.padEnd(22)} ${r.layers.join(', ').slice(0, 48).padEnd(48)} ${pct(r.share).padStart(6)} params  errors ${r.before.errors} → ${r.after.errors}  ` +
          `fixed ${r.fixed}, broken ${r.broken}, net ${r.net >= 0 ? '+' : ''}${r.net}  ${r.wallSeconds.toFixed(0)} s`);
      } else {
        console.log(`ablation: reset ${row.method} (${row.layers.join(', ')}): accuracy drops ${(100 * row.drop).toFixed(1)} points to ${pct(row.accuracy)}`);
      }
    };
    const common = { layers, granularity: o.granularity, data: run.data, mean: run.mean, std: run.std, epochs, lr, seed };
    if (o.controls) {
      const done = await correctWithControls(engine, model, { ...common, restore, initSeed: run.state.config.seed, afterMain: saveMain, onRow: show });
      rows.push(...done.rows);
      ablation.push(...done.ablation);
    } else {
      const row = { method: 'diagnosed', report: await correct(engine, model, common) };
      rows.push(row);
      show(row);
      await saveMain();
    }
  } finally {
    model.destroy();
    engine.destroy();
  }
  await writeFileAtomic(join(out, 'correction.json'), JSON.stringify({ checkpoint: run.dir, granularity: o.granularity, rows, ablation }, null, 1));
  await writeFileAtomic(join(out, 'correction.md'), [
    `# Surgical correction of ${run.dir}`, '',
    '| method | layers | parameters | errors before | errors after | fixed | broken | net | wall s |', '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ method, report: r }) => `| ${method} | ${r.layers.join(', ')} | ${pct(r.share)} | ${r.before.errors} | ${r.after.errors} | ${r.fixed} | ${r.broken} | ${r.net} | ${r.wallSeconds.toFixed(0)} |`),
    ...(ablation.length ? ['', '| reset to epoch 0 | layers | accuracy | drop |', '|---|---|---:|---:|',
      ...ablation.map((a) => `| ${a.method} | ${a.layers.join(', ')} | ${pct(a.accuracy)} | ${(100 * a.drop).toFixed(1)} points |`)] : []),
    '',
  ].join('\n'));
  await writeChart(join(out, 'correction'), barChartSvg(rows.map((r) => ({ label: r.method, value: r.report.net, highlight: r.method === 'diagnosed', note: `${pct(r.report.share)} of parameters` })),
    { title: 'Net errors fixed on the evaluation set', subtitle: `${rows[0].report.before.errors} errors before; same epochs for every method`, axis: 'fixed − broken' }));
  console.log(`corrected checkpoint: ${out} (model.safetensors, state.json; critdamp eval --checkpoint ${out})\nreport: ${join(out, 'correction.json')}, correction.md, correction.svg, correction.png`);
  return 0;
}
