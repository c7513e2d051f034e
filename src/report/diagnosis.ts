/**
 * The diagnosis experiment's results (`critdamp experiment`: diagnosis/experiment.json), their
 * statistics, and the report (diagnosis.md). Every sentence is written from the saved results and
 * the run's own settings and environment, so the report of a run describes that run; the verdicts
 * come from src/stats/paired.ts (exact tests at the 5% level), and say "not distinguishable with n
 * seeds" when that is what the numbers give. Pure functions of the saved document.
 */
import type { Comparison, ControlResult, CorrectionReport, Granularity, ScoreRow } from '../attribution';
import type { HeldOut, DiagnoseOn } from '../data/split';
import type { Environment } from '../cli/environment';
import { overlapPValue } from '../attribution/compare';
import { modelLabel } from '../nn/registry';
import { datasetLabel } from '../data/dataset';
import { mean, sd, pairedDifferences, pairedText, pooledRankP, pEq, pText, signed, type Paired, type RankTest } from '../stats/paired';

export interface ExperimentSettings {
  data: string;
  /** The registry's model (absent: ResNet-18, as in runs made before models were named). */
  model?: string;
  /** 0 = all. */
  trainSubset: number;
  testSubset: number;
  /** Share of the training data held out, per class, to choose the layers on. */
  valFraction: number;
  width: number;
  stem: 'cifar' | 'imagenet';
  epochs: number;
  batchSize: number;
  sgdLr: number;
  adamLr: number;
  correctEpochs: number;
  /** Training images each correction retrains on (a seeded subset of the training split; 0 = all). */
  correctSubset: number;
  correctLr: number;
  draws: number;
  band: number;
  /** Correctly classified images the contrast score uses at most. */
  maxCorrect: number;
  granularities: Granularity[];
  k: number;
  diagnoseOn: DiagnoseOn;
}

export interface Diag {
  on: DiagnoseOn;
  set: 'misclassified' | 'correct' | 'given';
  samples: number;
  /** The model's accuracy on the images diagnosed on. */
  accuracy: number;
  problem: string[];
  rows: ScoreRow[];
  contrast?: { samples: number; problem: string[]; rows: { name: string; ratio: number }[] };
}

export interface GranularityResult {
  granularity: Granularity;
  k: number;
  units: number;
  diagnosis: { sgd: Diag; adam: Diag; untrainedSgd: Diag; untrainedAdam: Diag };
  agreement: { sgdAdam: Comparison; sgdUntrained: Comparison; adamUntrained: Comparison; contrast: Comparison | null };
  /** Spearman's ρ between a unit's score and its parameter count. */
  sizeRho: { sgd: number; adam: number; untrained: number };
  correction: ControlResult;
}

export interface SeedResult {
  seed: number;
  heldOut: HeldOut;
  minutes: number;
  runs: { sgd: { testAccuracy: number; selectionAccuracy: number }; adam: { testAccuracy: number; selectionAccuracy: number } };
  granularities: GranularityResult[];
  /** Controls that retrain every parameter, the same at any granularity. */
  shared: { full: CorrectionReport; autoRgn: CorrectionReport };
}

export interface PairedRow {
  /** What is compared, e.g. "net errors fixed: diagnosed − random (mean of draws)". */
  name: string;
  unit: string;
  /** Per seed, in the order of the results. */
  a: number[];
  b: number[];
  paired: Paired;
  text: string;
}

export interface GranularityStats {
  granularity: Granularity;
  /** The diagnosed set's rank among the random draws per seed, and pooled over seeds (exact). */
  rank: { net: RankTest[]; netPooledP: number; drop: RankTest[]; dropPooledP: number } | null;
  paired: PairedRow[];
}

export interface ExperimentStatistics {
  alpha: number;
  seeds: number[];
  granularities: GranularityStats[];
}

export interface ExperimentDoc {
  version: 2;
  /** Set when the report was written again from the saved results (`--from`) by other code than the run's. */
  rewrittenBy?: string;
  preset: string;
  about: string;
  command: string;
  settings: ExperimentSettings;
  seeds: number[];
  environment: Environment;
  data: { name: string; classes: number; fullTrain: number; train: number; val: number; test: number; correction: number };
  minutes: number;
  complete: boolean;
  results: SeedResult[];
  statistics: ExperimentStatistics;
}

const ALPHA = 0.05;

function row(name: string, unit: string, a: number[], b: number[], words: { greater: string; less: string }, digits = 1): PairedRow {
  const paired = pairedDifferences(a, b, { alpha: ALPHA });
  return { name, unit, a, b, paired, text: pairedText(paired, unit, words, digits) };
}

/** The paired rows about the correction and the ablation (the others are about agreement). */
const CORRECTION_ROWS = ['net errors fixed', 'accuracy drop'];

/** Units shared with the diagnosed set (draws saved before DrawSet recorded it). */
const overlapOf = (layers: readonly string[], diagnosed: readonly string[]) => layers.filter((l) => diagnosed.includes(l)).length;
const withOverlap = (p: ControlResult['plan'], diagnosed: readonly string[]): ControlResult['plan'] =>
  ({ ...p, sets: p.sets.map((x) => ({ ...x, overlap: x.overlap ?? overlapOf(x.layers, diagnosed) })) });

const nets = (c: ControlResult, method: string) => c.rows.filter((r) => r.method === method).map((r) => r.report.net);

/** The paired statistics and rank tests of a set of seed results. */
export function experimentStatistics(results: readonly SeedResult[], s: Pick<ExperimentSettings, 'granularities' | 'k'>): ExperimentStatistics {
  const rs = [...results].sort((a, b) => a.seed - b.seed);
  const granularities = s.granularities.map((granularity): GranularityStats => {
    const gs = rs.map((r) => r.granularities.find((g) => g.granularity === granularity)!).filter(Boolean);
    if (gs.length === 0) return { granularity, rank: null, paired: [] };
    const diagnosed = gs.map((g) => nets(g.correction, 'diagnosed')[0]);
    const fixes = { greater: 'the diagnosed layers fix more errors', less: 'the diagnosed layers fix fewer errors' };
    // Random draws exist only where other sets of k units do (k below the number of units).
    const drawn = gs.every((g) => g.correction.plan.sets.length > 0);
    const ablated = drawn && gs.every((g) => g.correction.ablation.length > 0);
    const paired = [
      ...(drawn ? [row('net errors fixed: diagnosed − random (mean of the seed\'s draws)', 'errors', diagnosed, gs.map((g) => mean(nets(g.correction, 'random'))), fixes)] : []),
      row(`net errors fixed: diagnosed − last ${s.k}`, 'errors', diagnosed, gs.map((g) => nets(g.correction, 'last k')[0]), fixes),
      row('net errors fixed: diagnosed − full fine-tuning', 'errors', diagnosed, rs.map((r) => r.shared.full.net), fixes),
      row('net errors fixed: diagnosed − Auto-RGN', 'errors', diagnosed, rs.map((r) => r.shared.autoRgn.net), fixes),
      ...(ablated ? [row('accuracy drop when reset to epoch 0: diagnosed − random (mean of the seed\'s draws)', 'points',
        gs.map((g) => 100 * g.correction.ablation.filter((x) => x.method === 'diagnosed')[0].drop),
        gs.map((g) => 100 * mean(g.correction.ablation.filter((x) => x.method === 'random').map((x) => x.drop))),
        { greater: 'resetting the diagnosed layers costs more', less: 'resetting the diagnosed layers costs less' }, 2)] : []),
      row('shared problem units: SGD–Adam − SGD–untrained', 'units', gs.map((g) => g.agreement.sgdAdam.shared.length), gs.map((g) => g.agreement.sgdUntrained.shared.length),
        { greater: 'SGD and Adam agree more than SGD and the untrained network', less: 'SGD agrees more with the untrained network than with Adam' }, 2),
      row('shared problem units: SGD–Adam − Adam–untrained', 'units', gs.map((g) => g.agreement.sgdAdam.shared.length), gs.map((g) => g.agreement.adamUntrained.shared.length),
        { greater: 'SGD and Adam agree more than Adam and the untrained network', less: 'Adam agrees more with the untrained network than with SGD' }, 2),
      row('Spearman ρ of the rankings: SGD–Adam − SGD–untrained', 'ρ', gs.map((g) => g.agreement.sgdAdam.spearman), gs.map((g) => g.agreement.sgdUntrained.spearman),
        { greater: 'the trained rankings agree more with each other than with the untrained one', less: 'the SGD ranking is closer to the untrained one than to Adam\'s' }, 2),
      row('score against parameter count, Spearman ρ: SGD − untrained', 'ρ', gs.map((g) => g.sizeRho.sgd), gs.map((g) => g.sizeRho.untrained),
        { greater: 'the trained network\'s score follows size less than the untrained one\'s', less: 'the trained network\'s score favours small units more than the untrained one\'s' }, 2),
    ];
    const netRanks = drawn ? gs.map((g) => g.correction.rank!.net) : null;
    const dropRanks = ablated && gs.every((g) => g.correction.rank?.drop) ? gs.map((g) => g.correction.rank!.drop!) : null;
    const rank = netRanks ? { net: netRanks, netPooledP: pooledRankP(netRanks), drop: dropRanks ?? [], dropPooledP: dropRanks ? pooledRankP(dropRanks) : NaN } : null;
    return { granularity, rank, paired };
  });
  return { alpha: ALPHA, seeds: rs.map((r) => r.seed), granularities };
}

const pct = (v: number, d = 1) => `${(100 * v).toFixed(d)}%`;
const pm = (xs: number[], d = 1) => (xs.length ? `${mean(xs).toFixed(d)} ± ${sd(xs).toFixed(d)}` : '–');
const widthText = (w: number) => (w >= 1 ? String(w) : `1/${Math.round(1 / w)}`);
/** "ResNet-18 width 1/8 (imagenet stem)": the options the model takes. */
const modelText = (s: Pick<ExperimentSettings, 'model' | 'width' | 'stem'>) => modelLabel(s.model, s);
const count = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const minutes = (m: number) => (m < 10 ? `${m.toFixed(1)} minutes` : `${Math.round(m)} minutes`);

export { datasetLabel };

function granularityName(g: Granularity, n: number): string {
  return g === 'group' ? `the ${n} layer groups` : `the ${n} layers (every module with parameters)`;
}

/** Draws too few or too close to the diagnosed set to say much: most of the eligible sets drawn, or most units shared with it. */
function weakDraws(plans: readonly ControlResult['plan'][], k: number): boolean {
  return plans.some((p) => p.sets.length > 0 && ((Number.isFinite(p.eligible) && p.eligible < 2 * p.sets.length) || mean(p.sets.map((x) => x.overlap ?? 0)) >= k - 1));
}

/** How often each unit is among a run's problem units, most often first. */
function tally(lists: string[][]): string {
  const c = new Map<string, number>();
  for (const l of lists) for (const x of l) c.set(x, (c.get(x) ?? 0) + 1);
  return [...c].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([x, n]) => `${x} ${n}/${lists.length}`).join(', ');
}

function agreementSection(doc: ExperimentDoc, g: Granularity): string[] {
  const rs = doc.results, k = doc.settings.k;
  const gs = rs.map((r) => r.granularities.find((x) => x.granularity === g)!);
  const n = gs[0].units;
  const lines = [
    `### At ${granularityName(g, n)}`, '',
    `| seed | SGD top ${k} | Adam top ${k} | shared | p (exact) | Spearman | Kendall τ-b | untrained top ${k} (SGD's images) | SGD–untrained shared | Adam–untrained shared | contrast: SGD top ${k} | contrast: Adam top ${k} | contrast shared |`,
    '|---:|---|---|---:|---:|---:|---:|---|---:|---:|---|---|---:|',
    ...rs.map((r, i) => {
      const x = gs[i], a = x.agreement, d = x.diagnosis;
      return `| ${r.seed} | ${d.sgd.problem.join(', ')} | ${d.adam.problem.join(', ')} | ${a.sgdAdam.shared.length}/${k} | ${a.sgdAdam.pValue.toFixed(3)} | ${a.sgdAdam.spearman.toFixed(2)} | ${a.sgdAdam.kendall.toFixed(2)} | ` +
        `${d.untrainedSgd.problem.join(', ')} | ${a.sgdUntrained.shared.length}/${k} | ${a.adamUntrained.shared.length}/${k} | ` +
        `${d.sgd.contrast?.problem.join(', ') ?? '–'} | ${d.adam.contrast?.problem.join(', ') ?? '–'} | ${a.contrast ? `${a.contrast.shared.length}/${k}` : '–'} |`;
    }),
    '',
    `Two random sets of ${k} of ${n} share ${((k * k) / n).toFixed(2)} units on average; a full ${k}/${k} overlap has ${pEq(overlapPValue(n, k, k))} per seed under that null (which ignores that the score favours some units whatever the training). ` +
    `Mean shared: SGD–Adam ${pm(gs.map((x) => x.agreement.sgdAdam.shared.length), 2)}, SGD–untrained ${pm(gs.map((x) => x.agreement.sgdUntrained.shared.length), 2)}, Adam–untrained ${pm(gs.map((x) => x.agreement.adamUntrained.shared.length), 2)}` +
    `${gs.every((x) => x.agreement.contrast) ? `, SGD–Adam under the contrast score ${pm(gs.map((x) => x.agreement.contrast!.shared.length), 2)}` : ''}. ` +
    `Spearman ρ SGD–Adam ${pm(gs.map((x) => x.agreement.sgdAdam.spearman), 2)}, SGD–untrained ${pm(gs.map((x) => x.agreement.sgdUntrained.spearman), 2)}, Adam–untrained ${pm(gs.map((x) => x.agreement.adamUntrained.spearman), 2)}.`,
    `How often each unit is a problem unit: SGD ${tally(gs.map((x) => x.diagnosis.sgd.problem))}; Adam ${tally(gs.map((x) => x.diagnosis.adam.problem))}; the untrained network ${tally(gs.map((x) => x.diagnosis.untrainedSgd.problem))}.`,
    `Score against parameter count (Spearman ρ): SGD ${pm(gs.map((x) => x.sizeRho.sgd), 2)}, Adam ${pm(gs.map((x) => x.sizeRho.adam), 2)}, the untrained network ${pm(gs.map((x) => x.sizeRho.untrained), 2)}.`,
    '',
  ];
  return lines;
}

function correctionSection(doc: ExperimentDoc, g: Granularity, st: GranularityStats): string[] {
  const rs = doc.results, k = doc.settings.k;
  const gs = rs.map((r) => r.granularities.find((x) => x.granularity === g)!);
  const n = gs[0].units;
  const perSeed = (f: (x: GranularityResult, r: SeedResult) => number) => gs.map((x, i) => f(x, rs[i]));
  const stat = (pick: (c: CorrectionReport) => number, rows: (x: GranularityResult, r: SeedResult) => CorrectionReport[]) =>
    perSeed((x, r) => mean(rows(x, r).map(pick)));
  const methods: [string, (x: GranularityResult, r: SeedResult) => CorrectionReport[]][] = [
    ['diagnosed', (x) => x.correction.rows.filter((c) => c.method === 'diagnosed').map((c) => c.report)],
    [`random, similar share (${doc.settings.draws} draws a seed)`, (x) => x.correction.rows.filter((c) => c.method === 'random').map((c) => c.report)],
    [`last ${k}`, (x) => x.correction.rows.filter((c) => c.method === 'last k').map((c) => c.report)],
    ['full fine-tuning', (_x, r) => [r.shared.full]],
    ['Auto-RGN', (_x, r) => [r.shared.autoRgn]],
  ];
  const plans = gs.map((x) => x.correction.plan);
  const lines = [
    `### At ${granularityName(g, n)}`, '',
    `Random draws: sets of ${k} ${g}s whose parameter share is within a band around the diagnosed set's (×/÷ ${(1 + doc.settings.band).toFixed(2)}, widened where it held fewer than ${doc.settings.draws} sets), drawn uniformly without replacement, the diagnosed set excluded. ` +
    rs.map((r, i) => `Seed ${r.seed}: diagnosed share ${pct(plans[i].target, 2)}, band ×/÷ ${(1 + plans[i].band).toFixed(2)}${plans[i].widened ? ' (widened)' : ''}, ` +
      `${Number.isFinite(plans[i].eligible) ? `${count(plans[i].eligible)} eligible of ${count(plans[i].candidates)} sets` : 'sets sampled'}` +
      `${plans[i].sets.length ? `, the draws sharing ${mean(plans[i].sets.map((x) => x.overlap ?? overlapOf(x.layers, gs[i].diagnosis.sgd.problem))).toFixed(1)} of ${k} ${g}s with the diagnosed set on average` : ', no other set to draw'}.`).join(' ') +
    (weakDraws(plans.map((p, i) => withOverlap(p, gs[i].diagnosis.sgd.problem)), k) ? ` With so few sets to draw from, or draws that mostly repeat the diagnosed ${g}s, the comparison with random ${g}s says little at this level.` : ''),
    '',
    '| method | parameters retrained | errors before | errors after | fixed | broken | net | wall s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...methods.map(([label, rows]) => `| ${label} | ${pm(stat((c) => 100 * c.share, rows), 2)}% | ${pm(stat((c) => c.before.errors, rows))} | ${pm(stat((c) => c.after.errors, rows))} | ` +
      `${pm(stat((c) => c.fixed, rows))} | ${pm(stat((c) => c.broken, rows))} | ${pm(stat((c) => c.net, rows))} | ${pm(stat((c) => c.wallSeconds, rows), 0)} |`),
    '',
    'Mean ± sd over seeds (the random draws averaged within each seed first). Net = fixed − broken on the test images.',
    '',
  ];
  if (st.rank) {
    lines.push(`The diagnosed set among its seed's random draws, by net errors fixed: ${st.rank.net.map((t, i) => `seed ${rs[i].seed} rank ${t.rank} of ${t.draws + 1} (${pEq(t.p)})`).join('; ')}; ` +
      `pooled over seeds, exact ${pEq(st.rank.netPooledP)}. By accuracy lost when reset to epoch 0: ${st.rank.drop.map((t, i) => `seed ${rs[i].seed} rank ${t.rank} of ${t.draws + 1}`).join('; ')}; pooled ${pEq(st.rank.dropPooledP)}.`, '');
  }
  lines.push('Paired over seeds (a − b per seed; 95% t interval; exact two-sided test at the 5% level):', '');
  for (const p of st.paired.filter((x) => CORRECTION_ROWS.some((c) => x.name.startsWith(c)))) lines.push(`- ${p.name}: ${p.text}.`);
  lines.push('', '| seed | reset diagnosed: drop | reset random: mean drop (min – max) |', '|---:|---:|---:|',
    ...gs.map((x, i) => {
      const drops = x.correction.ablation.filter((a) => a.method === 'random').map((a) => 100 * a.drop);
      return `| ${rs[i].seed} | ${(100 * x.correction.ablation[0].drop).toFixed(2)} points | ${drops.length ? `${mean(drops).toFixed(2)} (${Math.min(...drops).toFixed(2)} – ${Math.max(...drops).toFixed(2)})` : '–'} points |`;
    }), '');
  return lines;
}

/** What the statistics support, sentence by sentence, from the numbers. */
function conclusions(doc: ExperimentDoc): string[] {
  const st = doc.statistics, k = doc.settings.k, nSeeds = doc.results.length;
  const out: string[] = [];
  for (const gst of st.granularities) {
    const g = gst.granularity;
    const gs = doc.results.map((r) => r.granularities.find((x) => x.granularity === g)!);
    const n = gs[0].units;
    const find = (prefix: string) => gst.paired.find((p) => p.name.startsWith(prefix))!;
    const sa = mean(gs.map((x) => x.agreement.sgdAdam.shared.length));
    const su = mean(gs.map((x) => x.agreement.sgdUntrained.shared.length)), au = mean(gs.map((x) => x.agreement.adamUntrained.shared.length));
    const agreeMore = find('shared problem units: SGD–Adam − SGD–untrained').paired.direction === 'greater' && find('shared problem units: SGD–Adam − Adam–untrained').paired.direction === 'greater';
    out.push(`- **Agreement at ${g} level.** SGD and Adam share ${sa.toFixed(2)} of ${k} problem ${g}s on average (chance: ${((k * k) / n).toFixed(2)}); ` +
      `each shares ${su.toFixed(2)} (SGD) and ${au.toFixed(2)} (Adam) with the untrained network on the same images. ` +
      (agreeMore ? 'The exact paired tests put the SGD–Adam agreement above both.'
        : sa <= Math.min(su, au) ? 'So the agreement is no larger than either one\'s agreement with a network that was never trained: it does not show that training, rather than the architecture and the score, picks these layers.'
          : sa <= Math.max(su, au) ? `So the agreement is no larger than ${su >= au ? 'SGD' : 'Adam'}'s agreement with a network that was never trained (though larger than ${su >= au ? 'Adam' : 'SGD'}'s): it does not show that training, rather than the architecture and the score, picks these layers.`
            : `The SGD–Adam agreement is larger on average, but not distinguishable from the agreement with the untrained network with ${nSeeds} seeds.`));
    const net = find('net errors fixed: diagnosed − random'), full = find('net errors fixed: diagnosed − full');
    if (gst.rank && net) {
      const beat = gst.rank.netPooledP < st.alpha;
      const plans = gs.map((x) => withOverlap(x.correction.plan, x.diagnosis.sgd.problem));
      const bands = [...new Set(plans.map((p) => (1 + p.band).toFixed(2)))].join(' to ');
      out.push(`- **Correction at ${g} level.** Retraining the diagnosed ${g}s fixed a net ${signed(mean(net.a))} errors, random ${g}s of similar share (within ×/÷ ${bands}) ${signed(mean(net.b))}; ` +
        `the diagnosed set's rank among the draws gives a pooled exact ${pEq(gst.rank.netPooledP)} (conservative with ties): ` +
        (beat ? `the diagnosed ${g}s fix more errors than random ones of similar share.` : `the diagnosed ${g}s do not beat random ${g}s of similar share at the 5% level.`) +
        (weakDraws(plans, k) ? ` At this level there were few sets to draw from, or the draws mostly repeat the diagnosed ${g}s, so this comparison says little either way.` : '') +
        ` Against full fine-tuning (${signed(mean(full.b))}): ${full.paired.direction === 'not distinguishable' ? `not distinguishable with ${nSeeds} seeds` : full.paired.direction === 'greater' ? 'the diagnosed layers fix more' : 'full fine-tuning fixes more'}.`);
      // Whether the untrained network would have named the same units: if so, their importance is not evidence for the diagnosis.
      const untrainedShared = mean(gs.map((x) => x.agreement.sgdUntrained.shared.length));
      if (gst.rank.drop.length) out.push(`- **Ablation at ${g} level.** Resetting the diagnosed ${g}s to epoch 0 costs ${mean(gs.map((x) => 100 * x.correction.ablation[0].drop)).toFixed(2)} points of accuracy, random ones ` +
        `${mean(gs.map((x) => 100 * mean(x.correction.ablation.filter((a) => a.method === 'random').map((a) => a.drop)))).toFixed(2)}; pooled rank ${pEq(gst.rank.dropPooledP)}` +
        (gst.rank.dropPooledP < st.alpha
          ? `: the diagnosed ${g}s matter more to the trained network than random ones of similar size. ` +
            (untrainedShared >= k / 2
              ? `But the untrained network's top ${k} on the same images name ${untrainedShared.toFixed(2)} of them on average (${tally(gs.map((x) => x.agreement.sgdUntrained.shared))}): ` +
                'units that a network ranks first before any training are costly to reset, which does not by itself show that the diagnosis found what training got wrong.'
              : `The untrained network's top ${k} on the same images share only ${untrainedShared.toFixed(2)} of them on average.`)
          : ': not distinguishable from random layers of similar size at the 5% level.'));
    }
  }
  const grp = doc.results.map((r) => r.granularities.find((x) => x.granularity === 'group')).filter((x): x is GranularityResult => Boolean(x));
  if (grp.length) {
    const trained = mean(grp.flatMap((x) => [x.sizeRho.sgd, x.sizeRho.adam])), untrained = mean(grp.map((x) => x.sizeRho.untrained));
    const contrastShared = grp.every((x) => x.agreement.contrast) ? mean(grp.map((x) => x.agreement.contrast!.shared.length)) : NaN;
    const contrastText = Number.isFinite(contrastShared) ? ` Under the contrast score (misclassified ÷ correct), which divides the size effect out, SGD and Adam share ${contrastShared.toFixed(2)} of ${k} groups.` : '';
    const sizeRow = doc.statistics.granularities.find((x) => x.granularity === 'group')?.paired.find((p) => p.name.startsWith('score against parameter count'));
    out.push(`- **What the score tracks.** At group level the relative score's rank correlation with the group's parameter count is ${pm(grp.map((x) => x.sizeRho.sgd), 2)} (SGD), ${pm(grp.map((x) => x.sizeRho.adam), 2)} (Adam) and ${pm(grp.map((x) => x.sizeRho.untrained), 2)} before any training. ` +
      (trained < -0.5 && untrained < -0.5 ? 'It ranks small groups high in trained and untrained networks alike, so agreement on small groups is expected of any network of this architecture.'
        : trained < -0.5 ? `The trained networks' scores favour small groups more than the untrained one's on average${sizeRow ? ` (paired over seeds, SGD − untrained: ${sizeRow.text})` : ''}; two trained networks that share this tendency agree on small groups for that reason as well.`
          : 'The ranking is not simply the groups\' sizes.') + contrastText);
  }
  if (doc.settings.diagnoseOn === 'test') out.push('- **Leakage.** This run chose the layers on the test images that also score the correction (`--diagnose-on test`): its correction numbers favour the diagnosed layers and are not a fair test.');
  const floor = Math.min(1, 2 / 2 ** nSeeds);
  out.push(`- **Power.** With ${plural(nSeeds, 'seed')} the exact paired tests cannot give p below ${pText(floor)}` +
    (floor >= st.alpha ? ': a paired verdict at the 5% level is out of reach whatever the numbers, which is why those lines say "not distinguishable" (6 seeds, all agreeing, would be the least that could).'
      : ', so a paired verdict needs most seeds to agree.') +
    ` The rank tests against ${doc.settings.draws} random draws a seed pool over seeds and can reach ${pText(1 / (doc.settings.draws + 1) ** nSeeds)}.`);
  return out;
}

/** diagnosis.md, from the saved document alone. */
export function experimentReport(doc: ExperimentDoc): string {
  const s = doc.settings, e = doc.environment, d = doc.data, rs = doc.results;
  if (rs.length === 0) return '# Diagnosis and surgical correction\n\nNo seed has finished yet.\n';
  const k = s.k;
  const acc = (who: 'sgd' | 'adam', f: 'testAccuracy' | 'selectionAccuracy') => pm(rs.map((r) => 100 * r.runs[who][f]), 2);
  const on = s.diagnoseOn === 'val' ? `the misclassified images of the held-out validation split (${count(d.val)} images, ${pct(s.valFraction, 0)} of each class of the training data, seeded by the run's seed, never trained on)`
    : s.diagnoseOn === 'train' ? `the misclassified training images (${count(d.train)})` : `the misclassified test images (${count(d.test)}): leakage, as the same images score the correction`;
  const lines = [
    '# Diagnosis and surgical correction, measured', '',
    `Made by \`${doc.command}\` (preset \`${doc.preset}\`) with ${e.critdamp === 'unknown' ? 'critdamp' : `critdamp ${e.critdamp}`}${e.commit ? ` at commit ${e.commit}${e.modified ? ' (with uncommitted changes)' : ''}` : ''}, ` +
    `Node ${e.node}, on ${e.cpus} with the WebGPU adapter "${e.adapter}", ${e.date}: ${minutes(doc.minutes)} for ${plural(rs.length, 'seed')}` +
    `${doc.complete ? '' : ` (stopped early: ${rs.length} of ${doc.seeds.length} seeds finished)`}. Every number below is in \`diagnosis/experiment.json\`.` +
    `${doc.rewrittenBy ? ` This text was written from those saved results by ${doc.rewrittenBy}.` : ''}`, '',
    'The paper (arXiv 2603.28921) reports that per-layer gradient attribution of a trained ResNet-18 names the same 3 of 7 layer groups whether it was trained with SGD or Adam, and that retraining only those groups fixes errors cheaply; it is single-seed and has no controls. ' +
    `This is that experiment over ${plural(rs.length, 'seed')}, with the layers chosen on images the correction is not scored on, random controls, and the untrained network as a baseline.`, '',
    '## Setup', '',
    '| | |', '|---|---|',
    `| data | ${datasetLabel(s.data)}: ${count(d.train)} training images (of ${count(d.fullTrain)}${s.trainSubset ? ' drawn from the training set by a fixed seed' : ''}, ${count(d.val)} held out), ${count(d.test)} test images${s.testSubset ? ' (drawn by a fixed seed)' : ''}, ${d.classes} classes |`,
    `| model | ${modelText(s)}, initialised from the run's seed (the same weights for both optimizers) |`,
    `| SGD run | cosine learning rate from ${s.sgdLr}, physics momentum μ(t) = clamp(1 − 2√α(t), 0.5, 0.99), weight decay 5e-4, ${plural(s.epochs, 'epoch')} of batch ${s.batchSize}: test accuracy ${acc('sgd', 'testAccuracy')}% over seeds |`,
    `| Adam run | cosine learning rate from ${s.adamLr}, β1 = 0.9, no weight decay, same epochs, batch and data order: test accuracy ${acc('adam', 'testAccuracy')}% |`,
    `| diagnosis | relative score ‖∂L/∂θ‖ / ‖θ‖ per unit, the gradient of the mean loss over ${on}, BN in eval mode; problem units = the top ${k}; at ${s.granularities.join(' and ')} granularity |`,
    `| untrained baseline | the same attribution of the run's epoch-0 weights on the same images (each run's misclassified ones) |`,
    `| contrast score | each unit's relative score on the misclassified images ÷ on up to ${count(s.maxCorrect)} correctly classified ones of the same split |`,
    `| correction | the SGD network's problem units retrained alone, ${plural(s.correctEpochs, 'epoch')} on ${count(d.correction)} training images${s.correctSubset ? ' (a seeded subset of the training split)' : ''}, cosine from ${s.correctLr}, physics momentum; frozen layers checked bit-identical; scored on the ${count(d.test)} test images |`,
    `| controls | ${s.draws} random sets of ${k} units a seed within ×/÷ ${(1 + s.band).toFixed(2)} of the diagnosed share; the last ${k} units; full fine-tuning; Auto-RGN (every layer, each layer's rate scaled every step by its ‖g‖/‖θ‖ over the largest; Lee et al. 2023): same data, epochs and schedule |`,
    `| ablation | the weights and biases of the problem units, and of each random draw, reset to their epoch-0 values without retraining (BN running statistics kept): test accuracy lost |`,
    '',
    `## Do SGD and Adam name the same problem layers, and is it more than the architecture?`, '',
    ...s.granularities.flatMap((g) => agreementSection(doc, g)),
    '## Does retraining only the diagnosed layers fix errors?', '',
    `Accuracy on the images the layers were chosen on (${s.diagnoseOn}): SGD ${acc('sgd', 'selectionAccuracy')}%, Adam ${acc('adam', 'selectionAccuracy')}%.`, '',
    ...s.granularities.flatMap((g) => correctionSection(doc, g, doc.statistics.granularities.find((x) => x.granularity === g)!)),
    '![net errors fixed per method](diagnosis/correction.png)', '',
    '## Is the SGD–Adam agreement larger than each one\'s agreement with the untrained network?', '',
    ...doc.statistics.granularities.flatMap((gst) => [`${gst.granularity} level:`, '', ...gst.paired.filter((x) => !CORRECTION_ROWS.some((c) => x.name.startsWith(c))).map((p) => `- ${p.name}: ${p.text}.`), '']),
    '## What this supports, and what it does not', '',
    ...conclusions(doc),
    `- **Limits.** ${datasetLabel(s.data)}${s.data === 'cifar10' ? '' : ', not CIFAR-10'}; ${modelText(s)} trained for ${plural(s.epochs, 'epoch')} (test accuracy ${acc('sgd', 'testAccuracy')}% with SGD)${s.width < 1 && modelText(s).includes('width') ? ', not a width-1 network' : ''}; ` +
    `${plural(rs.length, 'seed')}; corrections of ${plural(s.correctEpochs, 'epoch')} on ${count(d.correction)} images. The relative score is one choice among three (\`critdamp diagnose --metric\`).`,
    '',
  ];
  return lines.join('\n');
}
