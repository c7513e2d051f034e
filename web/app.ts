/**
 * The training page (served by `critdamp serve`): pick data, a model (ResNet-18/34/50, VGG-11/16
 * with BN, an MLP: the registry's) and settings, train it on the page's WebGPU device, and watch α(t), μ(t) against the critical curve, the regime of every step,
 * the loss and the test accuracy as they happen; afterwards the confusion matrix, misclassified
 * images, the per-layer attribution, and the weights to download. Earlier runs stay on the plots
 * for comparison. Everything runs in the page; the server only hands out files.
 *
 * For tests and links, the query string sets any field (?width=0.0625&epochs=1&...) and
 * `autostart=1` starts at once; `window.critdamp` exposes the runs and the state. On a CPU adapter
 * the kernel autotuner is on (its choices cached in this browser's IndexedDB); `tune=0` turns it off.
 */
import {
  Engine, Graph, Trainer, NoAdapterError, parseLrSpec, parseMomentumSpec, parseIdx, subset, makeDataset, encodeWeights, decodeWeights,
  attribute, selectionData, checkOps, enableTuning, indexedDbTuneStore, FASHION_MNIST_CLASSES, MNIST_CLASSES, DEFAULT_DIVERGENCE,
  createModel, configFor, modelEntry, describeModel, trainConfig, weightsCard, cardMetadata, cardMismatch, cardOf, modelFromWeights,
  type Dataset, type DatasetSplit, type TrainConfig, type Regime, type OpCheck, type ModelCard, type Model,
} from '../src/index.browser';
import { lineChartSvg, regimeBarsSvg, PALETTE, REGIME_COLORS, type Series, type Zone } from '../src/report/plot';
import { barChartSvg } from '../src/report/chart';
import { DEFAULT_DELTA } from '../src/schedule/regime';
import { imagesToDataset, loadDroppedFolder } from './folder';

type State = 'loading' | 'idle' | 'training' | 'paused' | 'done' | 'error';

interface Run {
  label: string;
  color: string;
  config: TrainConfig;
  /** Per finished step: t in epochs, α, μ, μc, regime. */
  steps: { t: number; lr: number; mu: number; muc: number; regime: Regime }[];
  losses: [number, number][];
  accuracy: [number, number][];
  stepLosses: number[];
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const page = {
  state: 'loading' as State,
  runs: [] as Run[],
  checks: null as OpCheck[] | null,
  errors: [] as string[],
  adapter: '',
  /** Kernel shapes the autotuner has timed in this page, and how many plans it loaded from IndexedDB. */
  tuning: { tuned: 0, loaded: 0 },
  logits: (x: number[], shape: number[]) => logits(x, shape),
  /** The current model's config (registry name and options). */
  model: () => trainer?.model.config ?? null,
  /** What a dropped folder becomes (tests call it with generated images: a real drop cannot be synthesised). */
  fromImages: async (root: string, folders: { name: string; files: File[] }[]) => {
    const d = await imagesToDataset(root, folders);
    return { train: d.train.n, test: d.test.n, classes: d.train.classes, c: d.train.c, h: d.train.h, w: d.train.w };
  },
};
(window as unknown as { critdamp: typeof page }).critdamp = page;

/** The current model's logits (eval mode) for an input of the given shape: lets a test compare with Node. */
async function logits(x: number[], shape: number[]): Promise<number[]> {
  if (!engine || !trainer) throw new Error('no model yet');
  const g = new Graph(engine, { grad: false });
  try {
    return Array.from(await trainer.model.forward(g, g.own(engine.tensor(Float32Array.from(x), shape)), { training: false }).read());
  } finally {
    g.dispose();
  }
}

let engine: Engine | null = null;
let trainer: Trainer | null = null;
let stop: AbortController | null = null;
let lastWeights: Uint8Array | null = null;
let dropped: DatasetSplit | null = null;
let loadedWeights: { bytes: Uint8Array; name: string; card: ModelCard | null } | null = null;
const cache = new Map<string, DatasetSplit>();

function setState(s: State): void {
  page.state = s;
  document.body.dataset.state = s;
  const busy = s === 'training' || s === 'loading';
  $<HTMLButtonElement>('start').disabled = busy || !engine;
  $<HTMLButtonElement>('start').textContent = s === 'paused' ? 'Resume' : 'Start';
  $<HTMLButtonElement>('pause').disabled = s !== 'training';
  $<HTMLButtonElement>('stop').disabled = s !== 'training' && s !== 'paused';
  $<HTMLButtonElement>('checks').disabled = busy || !engine;
  $<HTMLButtonElement>('diagnose').disabled = busy || !(trainer || loadedWeights?.card);
  $<HTMLButtonElement>('download').disabled = !(trainer || lastWeights) || s === 'training';
  $('status').textContent = { loading: 'loading…', idle: 'ready', training: 'training', paused: 'paused', done: 'done', error: 'stopped by an error' }[s];
}

function message(text: string, kind: 'error' | 'info' = 'error'): void {
  const m = $('message');
  m.className = kind;
  m.textContent = text;
  if (kind === 'error') page.errors.push(text);
}

function clearMessage(): void {
  $('message').className = '';
  $('message').textContent = '';
}

// ---- fields ---------------------------------------------------------------------------------------

const FIELDS = ['dataset', 'train', 'test', 'model', 'width', 'epochs', 'batch', 'optimizer', 'lr', 'momentum', 'seed'] as const;
for (const f of FIELDS) {
  const v = params.get(f);
  if (v === null) continue;
  const el = $<HTMLInputElement | HTMLSelectElement>(f);
  if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));
  el.value = v;
}
const field = (id: typeof FIELDS[number]) => $<HTMLInputElement | HTMLSelectElement>(id).value.trim();

function intField(id: typeof FIELDS[number], min: number, what: string): number {
  const v = Number(field(id));
  if (!Number.isInteger(v) || v < min) throw new Error(`${what}: '${field(id)}' is not a whole number ≥ ${min}`);
  return v;
}

// ---- data -----------------------------------------------------------------------------------------

async function gunzipIfNeeded(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function loadServedDataset(name: string): Promise<DatasetSplit> {
  const hit = cache.get(name);
  if (hit) return hit;
  const index = await (await fetch('/data/index.json')).json() as { datasets: Record<string, Record<string, string>>; missing: Record<string, string> };
  const files = index.datasets[name];
  if (!files) throw new Error(`the server has no ${name}: ${index.missing[name] ?? 'unknown dataset'} (restart critdamp serve with --data-dir DIR, or drop a folder of images)`);
  const get = async (k: string) => {
    const r = await fetch(files[k]);
    if (!r.ok) throw new Error(`${files[k]}: HTTP ${r.status}`);
    return { name: `${name}/${k}`, bytes: await gunzipIfNeeded(new Uint8Array(await r.arrayBuffer())) };
  };
  const [ti, tl, vi, vl] = await Promise.all(['trainImages', 'trainLabels', 'testImages', 'testLabels'].map(get));
  const classes = name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES;
  const split = { train: parseIdx(`${name}-train`, classes, ti, tl), test: parseIdx(`${name}-test`, classes, vi, vl) };
  cache.set(name, split);
  return split;
}

async function currentData(seed: number): Promise<DatasetSplit> {
  const full = field('dataset') === 'folder' ? dropped : await loadServedDataset(field('dataset'));
  if (!full) throw new Error('no folder dropped yet: drop a folder with one subfolder of images per class onto the drop area');
  const nTrain = intField('train', 16, 'training images'), nTest = intField('test', 16, 'test images');
  return {
    train: nTrain < full.train.n ? subset(full.train, nTrain, seed) : full.train,
    test: nTest < full.test.n ? subset(full.test, nTest, seed + 1) : full.test,
  };
}

// ---- plots ----------------------------------------------------------------------------------------

let drawPending = false;
function redraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawPlots();
  });
}

function drawPlots(): void {
  const runs = page.runs;
  if (runs.length === 0) return;
  const muSeries: Series[] = [], lrSeries: Series[] = [];
  for (const r of runs) {
    lrSeries.push({ label: r.label, color: r.color, points: r.steps.map((p) => [p.t, p.lr]) });
    muSeries.push({ label: `μ(t): ${r.label}`, color: r.color, points: r.steps.map((p) => [p.t, p.mu]) });
  }
  const cur = runs[runs.length - 1];
  const muc = cur.steps.map((p) => [p.t, p.muc] as const);
  const zones: Zone[] = [
    { label: 'underdamped', color: REGIME_COLORS.underdamped, upper: muc.map(([t]) => [t, 2]), lower: muc.map(([t, c]) => [t, c + DEFAULT_DELTA]) },
    { label: `critical (±${DEFAULT_DELTA})`, color: REGIME_COLORS.critical, upper: muc.map(([t, c]) => [t, c + DEFAULT_DELTA]), lower: muc.map(([t, c]) => [t, c - DEFAULT_DELTA]) },
    { label: 'overdamped', color: REGIME_COLORS.overdamped, upper: muc.map(([t, c]) => [t, c - DEFAULT_DELTA]), lower: muc.map(([t]) => [t, -2]) },
  ];
  const epochs = Math.max(...runs.map((r) => r.config.epochs));
  $('plot-schedule').innerHTML = lineChartSvg({
    title: 'Learning rate α(t), momentum μ(t) and the critical curve μc = 1 − 2√α', width: 900,
    panels: [
      { x: { label: 'epoch', min: 0, max: epochs }, y: { label: 'α (log)', log: true }, series: lrSeries, height: 150 },
      { x: { label: 'epoch', min: 0, max: epochs }, y: { label: 'μ', min: 0.3, max: 1 }, zones, height: 220,
        series: [...muSeries, { label: `μc, ${cur.label}`, color: '#000', dash: '6 4', width: 1.4, points: muc }] },
    ],
  });
  // At most ~600 cells a row: a long run shows every k-th step.
  const every = Math.max(1, Math.ceil(Math.max(...runs.map((r) => r.steps.length)) / 600));
  $('plot-regime').innerHTML = regimeBarsSvg(runs.map((r) => ({ label: r.label, regimes: r.steps.filter((_, i) => i % every === 0).map((p) => p.regime) })),
    { title: every === 1 ? 'Damping regime of every step' : `Damping regime, every ${every}th step`, width: 900 }).replace('>epoch<', '>step<');
  $('plot-loss').innerHTML = lineChartSvg({ title: 'Training loss', width: 900, panels: [{ x: { label: 'epoch', min: 0, max: epochs }, y: { label: 'loss', min: 0 },
    series: runs.map((r) => ({ label: r.label, color: r.color, points: r.losses })), height: 200 }] });
  $('plot-accuracy').innerHTML = lineChartSvg({ title: 'Test accuracy after each epoch', width: 900, panels: [{ x: { label: 'epoch', min: 0, max: epochs, integer: true },
    y: { label: 'accuracy', min: 0, max: 1, format: (v) => `${Math.round(100 * v)}%` }, series: runs.map((r) => ({ label: r.label, color: r.color, points: r.accuracy, markers: true })), height: 200 }] });
}

// ---- training -------------------------------------------------------------------------------------

/** The model the settings describe for this data: the registry's config, with the width (and the cifar stem) where the model takes them. */
function readModel(data: DatasetSplit): TrainConfig['model'] {
  const name = field('model') || 'resnet18';
  const takes = modelEntry(name).options;
  const options = Object.fromEntries(Object.entries({ width: Number(field('width')), stem: 'cifar' }).filter(([k]) => k in takes));
  return configFor(name, { numClasses: data.train.classes.length, inChannels: data.train.c, inputSize: [data.train.h, data.train.w] }, options);
}

function readConfig(data: DatasetSplit): TrainConfig {
  const optimizer = field('optimizer') as 'sgd' | 'adam';
  const seed = intField('seed', 0, 'seed');
  return trainConfig({
    epochs: intField('epochs', 1, 'epochs'), batchSize: intField('batch', 1, 'batch size'), seed,
    model: readModel(data),
    optimizer: { kind: optimizer, weightDecay: optimizer === 'sgd' ? 5e-4 : 0 },
    lr: parseLrSpec(field('lr')), momentum: parseMomentumSpec(field('momentum')),
    augment: null, labelSmoothing: 0, logEvery: Number(params.get('logEvery') ?? 5), evalBatchSize: 250, divergence: DEFAULT_DIVERGENCE,
  });
}

/** The weights with their card (model, input, normalisation, classes), as the page downloads them. */
async function weightsOf(t: Trainer, meta: Record<string, string>): Promise<Uint8Array> {
  const card = cardOf(t.state());
  return encodeWeights(t.model.store, { ...meta, ...(card ? cardMetadata(card) : {}) });
}

async function start(): Promise<void> {
  clearMessage();
  if (page.state === 'paused' && trainer) return void fit();
  setState('loading');
  try {
    const seed = intField('seed', 0, 'seed');
    const data = await currentData(seed);
    // A loaded file with a card brings its own model and normalisation.
    const card = loadedWeights?.card ?? null;
    const config = card ? { ...readConfig(data), model: card.model, mean: card.mean, std: card.std } : readConfig(data);
    if (!$<HTMLInputElement>('overlay').checked) page.runs = [];
    trainer?.destroy();
    trainer = Trainer.create(engine!, data, config, {
      progress: (p) => {
        const run = page.runs[page.runs.length - 1];
        const step = (p.epoch - 1) * p.batches + p.batch;
        for (let i = run.steps.length; i < step; i++) {
          const pt = trainer!.schedule.at(i);
          run.steps.push({ t: (i + 1) / p.batches, lr: pt.lr, mu: pt.momentum, muc: pt.muCritical, regime: pt.regime });
        }
        const last = run.steps[run.steps.length - 1];
        $('s-step').textContent = `${step}/${p.epochs * p.batches}`;
        $('s-epoch').textContent = `${p.epoch}/${p.epochs}`;
        $('s-lr').textContent = last.lr.toPrecision(3);
        $('s-mu').textContent = last.mu.toFixed(3);
        $('s-muc').textContent = last.muc.toFixed(3);
        $('s-regime').textContent = last.regime;
        if (p.loss !== null) $('s-loss').textContent = p.loss.toFixed(4);
        redraw();
      },
      tuning: (jobs) => message(`timing kernel variants for ${jobs} new shapes on this adapter (once; the choices are kept in this browser)…`, 'info'),
      tuned: (reports, seconds) => {
        page.tuning.tuned += reports.length;
        message(`tuned ${reports.length} kernel shapes in ${seconds.toFixed(1)} s (${reports.filter((r) => r.changed).length} faster than the default choice)`, 'info');
      },
      log: async (rec) => {
        const run = page.runs[page.runs.length - 1];
        const spe = trainer!.stepsPerEpoch;
        if (rec.type === 'step') {
          run.losses.push([rec.step / spe, rec.loss]);
          run.stepLosses.push(rec.loss);
          $('s-ips').textContent = rec.images_per_s.toFixed(0);
        } else {
          run.accuracy.push([rec.epoch, rec.accuracy]);
          $('s-acc').textContent = `${(100 * rec.accuracy).toFixed(1)}%`;
          // The last epoch's weights, kept on the CPU: they can be downloaded even after a device loss.
          lastWeights = await weightsOf(trainer!, { epoch: String(rec.epoch), source: 'critdamp training page' });
        }
        redraw();
      },
    });
    if (loadedWeights) {
      decodeWeights(trainer.model.store, loadedWeights.bytes, loadedWeights.name);
      message(`training continues from ${loadedWeights.name}`, 'info');
    }
    page.runs.push({ label: `run ${page.runs.length + 1}: ${config.model.name ?? 'resnet18'}, ${config.optimizer.kind}, ${field('momentum')}${loadedWeights ? ' (from file)' : ''}`,
      color: PALETTE[(page.runs.length + 1) % PALETTE.length], config, steps: [], losses: [], accuracy: [], stepLosses: [] });
    loadedWeights = null;
    document.body.classList.remove('has-model', 'has-weights');
    await fit();
  } catch (e) {
    fail(e);
  }
}

async function fit(): Promise<void> {
  stop = new AbortController();
  setState('training');
  try {
    await trainer!.fit({ signal: stop.signal });
    await finished();
  } catch (e) {
    if (stop.signal.aborted && e === stop.signal.reason) {
      if ((e as Error).message === 'pause') return setState('paused');
      return void finished();
    }
    fail(e);
  }
}

async function finished(): Promise<void> {
  const t = trainer!;
  const r = t.lastEval ?? (await t.evaluate());
  drawPlots();
  showResults(r.confusion, r.misclassified, r.predictions, t.data.test);
  document.body.classList.add('has-model');
  setState('done');
}

function fail(e: unknown): void {
  const err = e as Error;
  let text = err.message ?? String(e);
  if (/device was lost/.test(text)) {
    text += lastWeights ? '\nThe weights of the last finished epoch are kept: Download still works. Reload the page to train again.'
      : '\nNo epoch had finished, so there are no weights to download. Reload the page to train again.';
  }
  message(text);
  setState('error');
}

// ---- results --------------------------------------------------------------------------------------

function showResults(confusion: number[][], misclassified: number[], predictions: Uint8Array, test: Dataset): void {
  const max = Math.max(1, ...confusion.flat());
  const names = test.classes;
  $('confusion').innerHTML = `<table class="confusion"><tr><th></th>${names.map((n) => `<th>${n}</th>`).join('')}</tr>` +
    confusion.map((row, i) => `<tr><th>${names[i]}</th>${row.map((v, j) => {
      const a = v / max, bg = i === j ? `rgba(46,158,79,${a})` : `rgba(214,69,65,${a})`;
      return `<td style="background:${bg};color:${a > 0.6 ? 'white' : 'inherit'}">${v}</td>`;
    }).join('')}</tr>`).join('') + '</table>';
  const grid = $('misclassified');
  grid.innerHTML = '';
  const { c, h, w } = test;
  for (const idx of misclassified.slice(0, 48)) {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(w, h);
    const base = idx * c * h * w;
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) img.data[4 * p + k] = test.images[base + (c === 1 ? 0 : k) * h * w + p];
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const fig = document.createElement('figure');
    fig.append(canvas, Object.assign(document.createElement('figcaption'), { textContent: `${names[test.labels[idx]]} → ${names[predictions[idx]]}` }));
    grid.append(fig);
  }
}

/** The model to diagnose: the trainer's, or a loaded weights file's (built from its card, freed afterwards). */
async function modelToDiagnose(): Promise<{ model: Model; data: DatasetSplit; mean: number[]; std: number[]; from: string; free: () => void } | null> {
  if (trainer) return { model: trainer.model, data: trainer.data, mean: trainer.mean, std: trainer.std, from: 'the trained model', free: () => undefined };
  if (!loadedWeights?.card) return null;
  const data = await currentData(intField('seed', 0, 'seed'));
  const { model } = modelFromWeights(engine!, loadedWeights.bytes, loadedWeights.name);
  return { model, data, mean: loadedWeights.card.mean, std: loadedWeights.card.std, from: loadedWeights.name, free: () => model.destroy() };
}

/** A `critdamp correct` command that works on the downloaded (or loaded) weights file. */
function correctCommand(problem: string[], file: string): string {
  const data = field('dataset');
  const where = data === 'folder' ? ' --data-dir YOUR_FOLDER' : '';
  return `critdamp correct --checkpoint ${file} --data ${data}${where} --layers ${problem.join(',')}`;
}

async function diagnose(): Promise<void> {
  setState('loading');
  let target: Awaited<ReturnType<typeof modelToDiagnose>> = null;
  try {
    target = await modelToDiagnose();
    if (!target) throw new Error('nothing to diagnose: train a model, or load a weights file that says which model it holds');
    // The same rule as critdamp diagnose: the errors that choose the layers are never the test
    // images a correction is scored on (the page holds no validation split, so: the training images).
    const sel = selectionData({ train: target.data.train, val: null, test: target.data.test }, 'val');
    const a = await attribute(engine!, target.model, sel.data, { mean: target.mean, std: target.std, k: 3, granularity: 'group' });
    $('attribution').innerHTML = barChartSvg(a.rows.map((r) => ({ label: r.name, value: r.score, highlight: a.problem.includes(r.name), note: `${(100 * r.share).toFixed(1)}% of parameters` })),
      { title: `Relative gradient score per layer group (${target.from})`, subtitle: `gradient of the loss over ${a.samples} misclassified training images (not the test images); red: the top 3`, axis: '‖∂L/∂θ‖ / ‖θ‖' });
    const file = trainer ? 'DOWNLOADED.safetensors' : loadedWeights!.name;
    $('problem').textContent = `Problem layers: ${a.problem.join(', ')}. To retrain only these on the ${field('dataset')} training images and score the result on its test images: ` +
      `${correctCommand(a.problem, file)}${trainer ? ' (with the file that Download saves)' : ''}`;
    setState(trainer ? 'done' : 'idle');
  } catch (e) {
    fail(e);
  } finally {
    target?.free();
  }
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- wiring ---------------------------------------------------------------------------------------

$('start').addEventListener('click', () => void start());
$('pause').addEventListener('click', () => stop?.abort(new Error('pause')));
$('stop').addEventListener('click', () => stop?.abort(new Error('stop')));
$('clear').addEventListener('click', () => {
  page.runs = page.state === 'training' || page.state === 'paused' ? page.runs.slice(-1) : [];
  for (const id of ['plot-schedule', 'plot-regime', 'plot-loss', 'plot-accuracy']) $(id).innerHTML = '';
  drawPlots();
});
$('diagnose').addEventListener('click', () => void diagnose());
// Adam gets Adam's usual learning rate and β1 rather than SGD's rate and the physics curve as β1
// (as critdamp train does); the fields show what was set, and can be changed before Start.
$('optimizer').addEventListener('change', () => {
  const adam = field('optimizer') === 'adam';
  $<HTMLInputElement>('lr').value = adam ? 'cosine:0.001' : 'cosine:0.05';
  $<HTMLSelectElement>('momentum').value = adam ? 'constant:0.9' : 'physics';
  message(adam ? "Adam: learning rate cosine:0.001 and β1 = 0.9 (Adam's usual values; change them if you like)." : 'SGD: learning rate cosine:0.05 with physics momentum.', 'info');
});
$('download').addEventListener('click', async () => {
  try {
    const bytes = engine && trainer && page.state !== 'error' ? await weightsOf(trainer, { source: 'critdamp training page' }) : lastWeights;
    const name = trainer?.model.config.name ?? 'model';
    if (bytes) download(bytes, `critdamp-${name}${typeof trainer?.config.model.width === 'number' ? `-w${trainer.config.model.width}` : ''}.safetensors`);
  } catch (e) {
    if (lastWeights) download(lastWeights, `critdamp-${trainer?.model.config.name ?? 'model'}-last-epoch.safetensors`);
    else fail(e);
  }
});
$<HTMLInputElement>('load').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  clearMessage();
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const data = await currentData(intField('seed', 0, 'seed'));
    // The file says which model it holds (a file without a card: the model the settings describe).
    const card = weightsCard(bytes, file.name);
    if (card) {
      const fit = cardMismatch(card, data.train);
      if (fit.errors.length) throw new Error(`it holds ${describeModel(card.model)} for other data: ${fit.errors.join('; ')}`);
    }
    const spec = card?.model ?? readModel(data);
    // Check that every tensor fits before anything trains on it.
    const probe = createModel(engine!, spec, 0);
    try {
      decodeWeights(probe.store, bytes, file.name, spec);
    } finally {
      probe.destroy();
    }
    if (card) {
      $<HTMLSelectElement>('model').value = card.model.name;
      const width = card.model.width;
      if (typeof width === 'number') {
        const el = $<HTMLSelectElement>('width');
        if (![...el.options].some((o) => Number(o.value) === width)) el.add(new Option(String(width), String(width)));
        el.value = [...el.options].find((o) => Number(o.value) === width)!.value;
      }
    }
    loadedWeights = { bytes, name: file.name, card };
    // A file that says which model it holds can be diagnosed before any training.
    document.body.classList.toggle('has-weights', Boolean(card));
    setState(page.state);
    message(`${file.name} holds ${describeModel(spec)}${card ? '' : ' (as set on the left: the file does not say)'}: Start continues training from it${card ? ', Diagnose ranks its layers' : ''}.`, 'info');
  } catch (e) {
    message(`${file.name} does not fit: ${(e as Error).message}`);
  }
});
$('checks').addEventListener('click', async () => {
  setState('loading');
  try {
    page.checks = await checkOps(engine!);
    $('check-results').innerHTML = page.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.op} ` +
      `(worst ${Math.max(...Object.values(c.worst)).toPrecision(2)} of its tolerance)`).join('<br>');
    setState(trainer ? 'done' : 'idle');
  } catch (e) {
    fail(e);
  }
});

const drop = $('drop');
drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (ev) => {
  ev.preventDefault();
  drop.classList.remove('over');
  clearMessage();
  try {
    dropped = await loadDroppedFolder(ev.dataTransfer!, (s) => { drop.textContent = s; });
    $<HTMLSelectElement>('dataset').value = 'folder';
    drop.textContent = `${dropped.train.n + dropped.test.n} images in ${dropped.train.classes.length} classes (${dropped.train.classes.join(', ')}), ${dropped.train.c}×${dropped.train.h}×${dropped.train.w}`;
  } catch (e) {
    drop.textContent = 'Drop a folder here: one subfolder per class, images inside';
    message((e as Error).message);
  }
});

async function init(): Promise<void> {
  if (!('gpu' in navigator)) {
    message('This browser has no WebGPU (navigator.gpu is missing). Use a current Chrome or Edge, or Firefox/Safari with WebGPU enabled; ' +
      'the page must come from localhost or HTTPS (critdamp serve uses 127.0.0.1).');
    $('adapter').textContent = 'no WebGPU';
    return setState('error');
  }
  try {
    engine = await Engine.create();
  } catch (e) {
    message(e instanceof NoAdapterError ? `WebGPU is there but gave no adapter: ${(e as Error).message}. Check chrome://gpu, or update the graphics driver.` : (e as Error).message);
    $('adapter').textContent = 'no adapter';
    return setState('error');
  }
  page.adapter = engine.adapterName;
  $('adapter').textContent = `adapter: ${engine.adapterName}`;
  // Tuning times kernel variants at first use (CPU adapters: the 'direct' conv kernels); it never changes results.
  if (engine.kernels.conv.variant === 'direct' && params.get('tune') !== '0') {
    const tuner = await enableTuning(engine, { store: indexedDbTuneStore(), maxSeconds: 120 });
    page.tuning.loaded = Object.keys(tuner.plans).length;
  }
  engine.device.lost.then((info) => {
    if (page.state === 'done' || page.state === 'idle') return;
    fail(new Error(`the GPU device was lost (${info.reason || 'unknown'}): ${info.message}`));
  });
  setState('idle');
  if (params.get('autostart') === '1') void start();
  if (params.get('checks') === '1') $('checks').click();
}

window.addEventListener('error', (ev) => page.errors.push(String(ev.message)));
window.addEventListener('unhandledrejection', (ev) => page.errors.push(String((ev.reason as Error)?.message ?? ev.reason)));
void init();
