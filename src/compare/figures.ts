/**
 * The paper's three figures for a comparison, as SVG (browser-safe; the CLI adds PNGs):
 *   1. the learning rate α(t) of each method, and each method's momentum μ(t) with the unclamped
 *      critical curve μc = 1 − 2√α and the under- and overdamped zones shaded;
 *   2. test accuracy per epoch, mean over seeds with the seed spread (min to max) as a band, and
 *      the thresholds marked;
 *   3. the damping regime of every epoch of each method (red under, green critical, blue over).
 */
import { DEFAULT_DELTA } from '../schedule/regime';
import { lineChartSvg, regimeBarsSvg, PALETTE, REGIME_COLORS, type Series, type Zone } from '../report/plot';
import type { MethodSummary, RunResult } from './stats';

export interface FigureMethod { name: string; label: string; optimizer: string }

const pctFormat = (v: number) => `${Math.round(v * 100)}%`;

export function methodColors(methods: readonly FigureMethod[]): Map<string, string> {
  return new Map(methods.map((m, i) => [m.name, PALETTE[i % PALETTE.length]]));
}

/** The first seed's run of each method (schedules do not depend on the seed, bar an accuracy-switched hybrid). */
function firstRuns(methods: readonly FigureMethod[], runs: readonly RunResult[]): Map<string, RunResult> {
  const out = new Map<string, RunResult>();
  for (const m of methods) {
    const mine = runs.filter((r) => r.method === m.name).sort((a, b) => a.seed - b.seed);
    if (mine.length) out.set(m.name, mine[0]);
  }
  return out;
}

export function scheduleFigure(methods: readonly FigureMethod[], runs: readonly RunResult[], subtitle?: string): string {
  const colors = methodColors(methods), first = firstRuns(methods, runs);
  const lrSeries: Series[] = [], muSeries: Series[] = [];
  for (const m of methods) {
    const r = first.get(m.name);
    if (!r) continue;
    lrSeries.push({ label: m.label, color: colors.get(m.name)!, points: r.trajectory.map((p) => [p.t, p.lr]) });
    muSeries.push({ label: m.label + (m.optimizer === 'sgd' ? '' : ' (β1)'), color: colors.get(m.name)!, points: r.trajectory.map((p) => [p.t, p.mu]) });
  }
  // The critical curve and zones of the first SGD method's α(t) (the baseline's cosine, normally);
  // an SGD method with another learning-rate schedule (1cycle) gets its own μc, thin and dashed.
  const sgd = methods.filter((m) => m.optimizer === 'sgd' && first.has(m.name));
  const zones: Zone[] = [];
  const critical: Series[] = [];
  const seen: string[] = [];
  for (const m of sgd) {
    const r = first.get(m.name)!;
    const key = JSON.stringify(r.trajectory.map((p) => p.lr.toPrecision(6)));
    if (seen.includes(key)) continue;
    const muc = r.trajectory.map((p) => [p.t, p.muc] as const);
    if (seen.length === 0) {
      zones.push({ label: `underdamped (μ > μc + ${DEFAULT_DELTA})`, color: REGIME_COLORS.underdamped, upper: muc.map(([t]) => [t, 2]), lower: muc.map(([t, c]) => [t, c + DEFAULT_DELTA]) });
      zones.push({ label: `critical (|μ − μc| ≤ ${DEFAULT_DELTA})`, color: REGIME_COLORS.critical, upper: muc.map(([t, c]) => [t, c + DEFAULT_DELTA]), lower: muc.map(([t, c]) => [t, c - DEFAULT_DELTA]) });
      zones.push({ label: `overdamped (μ < μc − ${DEFAULT_DELTA})`, color: REGIME_COLORS.overdamped, upper: muc.map(([t, c]) => [t, c - DEFAULT_DELTA]), lower: muc.map(([t]) => [t, -2]) });
      critical.push({ label: 'μc = 1 − 2√α, unclamped', color: '#000000', dash: '7 4', width: 1.6, points: muc });
    } else {
      critical.push({ label: `μc of ${m.name}'s α`, color: colors.get(m.name)!, dash: '3 3', width: 1.2, points: muc });
    }
    seen.push(key);
  }
  const allMu = [...muSeries, ...critical].flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const muMin = Math.max(-0.2, Math.floor((Math.min(0.5, ...allMu) - 0.05) * 10) / 10);
  return lineChartSvg({
    title: 'Learning rate and momentum schedules',
    subtitle,
    panels: [
      { title: 'learning rate α(t)', x: { label: 'epoch', min: 0 }, y: { label: 'α (log scale)', log: true }, series: lrSeries, height: 240 },
      { title: 'momentum μ(t) against the critical curve', x: { label: 'epoch', min: 0 }, y: { label: 'μ', min: muMin, max: 1 }, series: [...muSeries, ...critical], zones, height: 320 },
    ],
  });
}

export function accuracyFigure(methods: readonly FigureMethod[], summaries: readonly MethodSummary[], thresholds: readonly number[], subtitle?: string): string {
  const colors = methodColors(methods);
  const series: Series[] = [];
  for (const m of methods) {
    const s = summaries.find((x) => x.method === m.name);
    if (!s) continue;
    series.push({ label: m.label, color: colors.get(m.name)!, markers: true,
      points: s.curve.map((c) => [c.epoch, c.mean]), band: s.seeds.length > 1 ? s.curve.map((c) => [c.epoch, c.min, c.max]) : undefined });
  }
  const lows = summaries.flatMap((s) => s.curve.map((c) => c.min));
  const lo = Math.max(0, Math.floor((Math.min(...lows, ...thresholds) - 0.02) * 20) / 20);
  return lineChartSvg({
    title: 'Test accuracy per epoch', subtitle,
    panels: [{ x: { label: 'epoch', min: 0, integer: true }, y: { label: 'test accuracy', min: lo, max: 1, format: pctFormat }, series,
      hlines: thresholds.map((t) => ({ y: t, label: `${pctFormat(t)} threshold` })), height: 380 }],
  });
}

export function regimeFigure(methods: readonly FigureMethod[], runs: readonly RunResult[], subtitle?: string): string {
  const first = firstRuns(methods, runs);
  return regimeBarsSvg(methods.filter((m) => first.has(m.name)).map((m) => ({ label: m.label, regimes: first.get(m.name)!.regime.perEpoch })),
    { title: 'Damping regime per epoch', subtitle });
}
