/**
 * A comparison's report, as Markdown (figures linked as PNG files beside it) and as one
 * self-contained HTML page (figures inline as SVG): the table, the verdicts in words, the three
 * figures, the diagnosis when it was run, and everything needed to reproduce it. Browser-safe.
 */
import { compareAttributions } from '../attribution/compare';
import type { Method } from './methods';
import { summarize, type MethodSummary, type RunResult, type Stat } from './stats';
import { pairedCells } from '../stats/paired';
import type { Environment } from '../cli/environment';
import { modelLabel } from '../nn/registry';
import { datasetLabel } from '../data/dataset';
import { accuracyFigure, regimeFigure, scheduleFigure } from './figures';
import { esc } from '../report/plot';

export interface CompareSettings {
  data: string;
  /** The registry's model (absent: ResNet-18, as in comparisons made before models were named). */
  model?: string;
  /** Share of each class of the training images held out (never trained on) for --diagnose; absent: none. */
  val?: number;
  trainSubset: number;
  testSubset: number;
  width: number;
  stem: 'cifar' | 'imagenet';
  epochs: number;
  batchSize: number;
  lr: number;
  adamLr: number;
  weightDecay: number;
  augment: string;
}

export interface CompareDoc {
  preset: string;
  about: string;
  /** Why these thresholds (a preset's reason, or the user's). */
  thresholdNote?: string;
  settings: CompareSettings;
  methods: Method[];
  seeds: number[];
  thresholds: number[];
  runs: RunResult[];
  command: string;
  /** Where it ran (reports written before commits were recorded lack `commit` and `modified`). */
  environment: Omit<Environment, 'commit' | 'modified'> & Partial<Pick<Environment, 'commit' | 'modified'>>;
  /** The runs' wall time, summed: training and evaluation of every run (resumed parts included), not start-up. */
  minutes: number;
  /** Data image counts as trained and tested on. */
  images?: { train: number; test: number };
  /** Seconds of compiling and kernel tuning before the first timed run, charged to no method (per process that trained). */
  warmupSeconds?: number[];
  /** Per method over the seeds: the statistics the report's verdicts come from (written with the report). */
  summaries?: MethodSummary[];
}


/** "ResNet-18 width 1/8 (imagenet stem)", with only the options the model takes. */
export function modelText(s: Pick<CompareSettings, 'model' | 'width' | 'stem'>): string {
  return modelLabel(s.model, s);
}

/** What was trained, from the comparison's own settings (flags included), in one sentence. */
export function describeSettings(s: CompareSettings, images?: { train: number; test: number }): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const count = (sub: number, actual: number | undefined, what: string) =>
    actual !== undefined ? `${sub ? '' : 'all '}${n(actual)} ${what}` : sub ? `${n(sub)} ${what}` : `all ${what}`;
  return `${datasetLabel(s.data)}, ${count(s.trainSubset, images?.train, 'training')} / ${count(s.testSubset, images?.test, 'test images')}` +
    `${s.trainSubset || s.testSubset ? ' (subsets drawn by a fixed seed)' : ''}; ${modelText(s)}; ${s.epochs} epochs of batch ${s.batchSize}; ` +
    `SGD learning rate ${s.lr}, Adam ${s.adamLr}; weight decay ${s.weightDecay}; augmentation ${s.augment}.`;
}

export interface Figures { schedule: string; accuracy: string; regime: string }

export const FIGURE_FILES: Record<keyof Figures, string> = { schedule: 'schedule', accuracy: 'accuracy', regime: 'regime' };

const pct = (v: number, d = 1) => `${(100 * v).toFixed(d)}%`;
const pmPct = (s: Stat) => (s.n > 1 ? `${pct(s.mean)} ± ${(100 * s.sd).toFixed(1)}` : pct(s.mean));
const pmNum = (s: Stat, d = 1) => (s.n > 1 ? `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)}` : s.mean.toFixed(d));
const minutes = (s: number) => (s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

export function baselineOf(methods: readonly Method[]): Method | null {
  return methods.find((m) => m.name === 'baseline') ?? null;
}

/** 0.0625 → 1/16. */
export function widthText(w: number): string {
  return w >= 1 || !Number.isInteger(1 / w) ? String(w) : `1/${1 / w}`;
}

export function buildFigures(doc: CompareDoc, summaries: readonly MethodSummary[]): Figures {
  const sub = `${modelText(doc.settings)}, ${datasetLabel(doc.settings.data)}, ${doc.settings.epochs} epochs, ${doc.seeds.length} seed${doc.seeds.length > 1 ? 's' : ''}`;
  return {
    schedule: scheduleFigure(doc.methods, doc.runs, sub),
    accuracy: accuracyFigure(doc.methods, summaries, doc.thresholds, `${sub}; line: mean over seeds, band: min to max`),
    regime: regimeFigure(doc.methods, doc.runs, `${sub}; an epoch takes the regime of most of its steps (first seed)`),
  };
}

function table(doc: CompareDoc, summaries: readonly MethodSummary[]): string[] {
  const label = new Map(doc.methods.map((m) => [m.name, m.label]));
  const head = ['method', ...doc.thresholds.flatMap((t) => [`epochs to ${pct(t, 0)}`, 'speed-up', `time to ${pct(t, 0)}`]),
    'final accuracy', 'best accuracy', 'under / critical / over (steps)', 'wall time'];
  const rows = summaries.map((s) => [
    label.get(s.method) ?? s.method,
    ...s.thresholds.flatMap((t) => [
      t.reached === 0 ? 'not reached' : `${pmNum(t.epochStat)}${t.reached < t.epochs.length ? ` (${t.reached}/${t.epochs.length} seeds)` : ''}`,
      t.verdict === 'baseline' ? '1.00×' : t.speedup === null ? '–' : `${t.speedup.toFixed(2)}×`,
      t.reached === 0 ? '–' : `${minutes(t.wallStat.mean)}`,
    ]),
    s.final.n === 0 ? `diverged (${s.diverged}/${s.seeds.length})` : `${pmPct(s.final)}${s.diverged ? ` (${s.diverged}/${s.seeds.length} diverged)` : ''}`,
    s.best.n === 0 ? '–' : pmPct(s.best),
    `${pct(s.regimeSteps.underdamped, 0)} / ${pct(s.regimeSteps.critical, 0)} / ${pct(s.regimeSteps.overdamped, 0)}`,
    minutes(s.wall.mean),
  ]);
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function verdicts(doc: CompareDoc, summaries: readonly MethodSummary[]): string[] {
  const base = baselineOf(doc.methods);
  if (!base) return ['No baseline method was in this comparison, so nothing is compared with one.'];
  const label = new Map(doc.methods.map((m) => [m.name, m.label]));
  const n = summaries[0].seeds.length;
  const others = summaries.filter((s) => s.method !== base.name);
  const soon = { greater: 'later', less: '**sooner**' }, acc = { greater: '**higher**', less: 'lower' };
  const out: string[] = [
    `Each method against the ${base.label}, paired by seed: the difference method − baseline per seed, its mean, a 95% t interval, and the exact two-sided test ` +
    '(sign-flip permutation; the sign test where a seed never reached the threshold, which counts as later than any seed that did). ' +
    `"Sooner", "later", "higher" or "lower" is said only where p < 0.05; with ${n} seed${n === 1 ? '' : 's'} no paired test can go below p = ${Math.min(1, 2 / 2 ** n).toPrecision(2)}` +
    `${2 / 2 ** n >= 0.05 ? ', so every difference here is "not distinguishable" whatever its size' : ''}.`, ''];
  const stopped = summaries.flatMap((s) => doc.runs.filter((x) => x.method === s.method && x.diverged)
    .map((r) => `- ${label.get(s.method)}, seed ${r.seed}: stopped early, ${r.diverged}`));
  // A diverged run counts as never reaching a threshold and as the lower accuracy in the tests below.
  if (stopped.length) out.push('Runs that diverged (each counts as never reaching a threshold, and as the lower final and best accuracy, in the tests below):', '', ...stopped, '');
  out.push('| method | threshold | seeds that reached it (method / baseline) | epochs, method − baseline | 95% CI | p | verdict | seconds, method − baseline | 95% CI | p |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|');
  for (const s of others) for (const t of s.thresholds) {
    const reached = `${t.reached} / ${t.baseReached} of ${t.epochs.length}`;
    if (t.reached === 0 && t.baseReached === 0) {
      out.push(`| ${label.get(s.method)} | ${pct(t.threshold, 0)} | ${reached} | neither reached it | | | | | | |`);
      continue;
    }
    const [d, ci, p, v] = pairedCells(t.pairedEpochs!, soon);
    const [dw, ciw, pw] = pairedCells(t.pairedWall!, soon, 0);
    out.push(`| ${label.get(s.method)} | ${pct(t.threshold, 0)} | ${reached} | ${d} | ${ci} | ${p} | ${v} | ${dw} | ${ciw} | ${pw} |`);
  }
  out.push('', '| method | final accuracy, method − baseline (points) | 95% CI | p | verdict | best accuracy, method − baseline | 95% CI | p | verdict |',
    '|---|---:|---:|---:|---|---:|---:|---:|---|');
  for (const s of others) {
    const cells = (p: MethodSummary['finalPaired']) => (p ? pairedCells(p, acc, 2) : ['–', '–', '–', 'no seed where both finished']);
    out.push(`| ${label.get(s.method)} | ${cells(s.finalPaired).join(' | ')} | ${cells(s.bestPaired).join(' | ')} |`);
  }
  const rules = doc.methods.filter((m) => m.rule);
  if (rules.length) out.push('', ...rules.map((m) => `Learning rate of ${m.label}: ${m.rule}.`));
  return out;
}

const ON_TEXT = {
  val: 'held-out images (never trained on, not the test images the comparison is scored on)',
  train: 'training images (not the test images the comparison is scored on)',
  test: 'test images (leakage: the same images score the comparison)',
} as const;

/** Problem groups per method and seed, and the overlap of every SGD method's with Adam's. */
function diagnosis(doc: CompareDoc): string[] {
  const diag = doc.runs.filter((r) => r.diagnosis);
  if (diag.length === 0) return [];
  const label = new Map(doc.methods.map((m) => [m.name, m.label]));
  const out = ['## Diagnosis of the final checkpoints', '',
    `Relative gradient score per layer group on each final model's misclassified ${ON_TEXT[diag[0].diagnosis!.on ?? 'test']} (\`critdamp diagnose\`); the top 3 groups are its problem groups.`, '',
    `| method | ${doc.seeds.map((s) => `seed ${s}`).join(' | ')} |`, `|---|${doc.seeds.map(() => '---').join('|')}|`];
  for (const m of doc.methods) {
    out.push(`| ${label.get(m.name)} | ${doc.seeds.map((s) => doc.runs.find((r) => r.method === m.name && r.seed === s)?.diagnosis?.problem.join(', ') ?? '–').join(' | ')} |`);
  }
  const adams = doc.methods.filter((m) => m.optimizer !== 'sgd');
  const sgds = doc.methods.filter((m) => m.optimizer === 'sgd');
  if (adams.length && sgds.length) {
    out.push('', 'Cross-optimizer overlap: shared problem groups of each SGD method and Adam in the same seed, with the exact p-value of at least that overlap between two random top-3 sets of the 7 groups.', '',
      `| SGD method | vs | ${doc.seeds.map((s) => `seed ${s}`).join(' | ')} | mean overlap |`, `|---|---|${doc.seeds.map(() => '---').join('|')}|---:|`);
    for (const a of adams) for (const g of sgds) {
      const cells: string[] = [], overlaps: number[] = [];
      for (const s of doc.seeds) {
        const x = doc.runs.find((r) => r.method === g.name && r.seed === s)?.diagnosis, y = doc.runs.find((r) => r.method === a.name && r.seed === s)?.diagnosis;
        if (!x || !y) { cells.push('–'); continue; }
        const c = compareAttributions(new Map(x.scores), new Map(y.scores), x.problem.length);
        overlaps.push(c.overlap);
        cells.push(`${c.shared.length}/${c.k} (p = ${c.pValue.toPrecision(2)})`);
      }
      out.push(`| ${label.get(g.name)} | ${label.get(a.name)} | ${cells.join(' | ')} | ${overlaps.length ? pct(overlaps.reduce((p, q) => p + q, 0) / overlaps.length, 0) : '–'} |`);
    }
  }
  return [...out, ''];
}

function reproduce(doc: CompareDoc): string[] {
  const s = doc.settings, e = doc.environment;
  // Computed rates (the matched step's α0) print as 0.5, not 0.5000000000000002.
  const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => typeof v === 'number' ? Number(v.toPrecision(12)) : v);
  return ['## Reproduce', '', '```', doc.command, '```', '',
    `- data and model: ${describeSettings(s, doc.images)} Weight decay applies to SGD (Adam 0 unless a method says otherwise).`,
    `- methods: ${doc.methods.map((m) => `${m.name} = ${m.optimizer}, lr ${json(m.lr)}, momentum ${json(m.momentum)}, weight decay ${m.weightDecay}`).join('; ')}`,
    `- seeds: ${doc.seeds.join(', ')} (a seed fixes the initial weights and the data order, the same for every method)`,
    `- critdamp ${e.critdamp}${e.commit ? ` at commit ${e.commit}${e.modified ? ' (with uncommitted changes)' : ''}` : ''}, Node ${e.node}; adapter: ${e.adapter}; CPU: ${e.cpus}; ${e.date}; ` +
    `all runs together ${doc.minutes.toFixed(1)} min of training and evaluation` +
    `${doc.warmupSeconds?.length ? `; before the first timed run, ${doc.warmupSeconds.map((x) => `${x.toFixed(0)} s`).join(' and ')} of compiling and kernel tuning, charged to no method` : ''}`, ''];
}

export interface RenderedReport { markdown: string; html: string; figures: Figures; summaries: MethodSummary[] }

/** The report; `figurePath(name)` is where the Markdown links each figure's PNG. */
export function renderReport(doc: CompareDoc, figurePath = (name: string) => `figures/${name}.png`): RenderedReport {
  const base = baselineOf(doc.methods);
  const summaries = summarize(doc.runs.filter((r) => doc.seeds.includes(r.seed)), doc.methods.map((m) => m.name), doc.thresholds, base?.name ?? null);
  const figures = buildFigures(doc, summaries);
  const intro = [
    `# critdamp compare: ${doc.methods.length} methods × ${summaries[0].seeds.length} seed${summaries[0].seeds.length > 1 ? 's' : ''} (preset ${doc.preset})`, '',
    describeSettings(doc.settings, doc.images), '',
    `Every method trains the same network, ${modelText(doc.settings)}, from the same initial weights on the same data in the same order (per seed), and is evaluated on the test set after every epoch. ` +
    `Epochs count from 1. Times are wall time on this machine, evaluation included. Values are mean ± sd over seeds; "speed-up" is the baseline's mean epochs to the threshold over the method's.` +
    (doc.thresholdNote ? ` Thresholds: ${doc.thresholdNote}` : ''), '',
  ];
  const body = ['## Results', '', ...table(doc, summaries), '', ...verdicts(doc, summaries), ''];
  const figs: [keyof Figures, string][] = [['schedule', 'Learning rate and momentum of each method, with the critical curve and the damping zones'],
    ['accuracy', 'Test accuracy per epoch'], ['regime', 'Damping regime per epoch (red under, green critical, blue over)']];
  const md = [...intro, ...body, '## Figures', '', ...figs.flatMap(([k, alt]) => [`![${alt}](${figurePath(FIGURE_FILES[k])})`, '']), ...diagnosis(doc), ...reproduce(doc)].join('\n');
  const html = toHtml([...intro, ...body].join('\n'), figs.map(([k, alt]) => ({ alt, svg: figures[k] })), [...diagnosis(doc), ...reproduce(doc)].join('\n'), intro[0].slice(2));
  return { markdown: md, html, figures, summaries };
}

/** The small Markdown subset the report uses (headings, paragraphs, lists, tables, code, inline code) as HTML. */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const inline = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('```')) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      out.push(`<pre><code>${esc(code.join('\n'))}</code></pre>`);
    } else if (/^#{1,3} /.test(l)) {
      const n = l.indexOf(' ');
      out.push(`<h${n}>${inline(l.slice(n + 1))}</h${n}>`);
    } else if (l.startsWith('| ')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].slice(1, -1).split('|').map((c) => c.trim()));
      i--;
      const [head, , ...rest] = rows;
      out.push(`<table><thead><tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead><tbody>${rest.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`);
    } else if (l.startsWith('- ')) {
      const items: string[] = [];
      for (; i < lines.length && lines[i].startsWith('- '); i++) items.push(`<li>${inline(lines[i].slice(2))}</li>`);
      i--;
      out.push(`<ul>${items.join('')}</ul>`);
    } else if (l.trim()) out.push(`<p>${inline(l)}</p>`);
  }
  return out.join('\n');
}

function toHtml(top: string, figures: { alt: string; svg: string }[], bottom: string, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}td{text-align:right}td:first-child{text-align:left}
th{background:#f3f3f3}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}code,pre{background:#f6f6f6}pre{padding:.6em;overflow-x:auto}</style>
</head><body>
${markdownToHtml(top)}
<h2>Figures</h2>
${figures.map((f) => `<figure>${f.svg}<figcaption>${esc(f.alt)}</figcaption></figure>`).join('\n')}
${markdownToHtml(bottom)}
</body></html>
`;
}
