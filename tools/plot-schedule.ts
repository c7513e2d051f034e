/**
 * Draws the paper's Figure 1 setting for critdamp's default schedule: cosine α(t) from 0.1 to 0
 * over 200 epochs (391 steps/epoch, CIFAR-10 at batch 128), and below it the physics momentum
 * (clamped to [0.5, 0.99]), the constant 0.9 baseline and the unclamped critical curve μc(t), over
 * the damping zones: red above μc + δ (underdamped), green within δ (critical), blue below μc − δ
 * (overdamped). Hand-written SVG, rasterized with sharp.
 *
 *   node tools/build.mjs && node build/tools/plot-schedule.mjs [out.png|out.svg]
 *
 * Default output: docs/schedule.png. An .svg path writes the SVG itself.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { DEFAULT_DELTA, TrainingSchedule, type ScheduleConfig } from '../src/schedule';

const EPOCHS = 200, STEPS_PER_EPOCH = 391, DELTA = DEFAULT_DELTA;
const base: Omit<ScheduleConfig, 'momentum'> = {
  epochs: EPOCHS, stepsPerEpoch: STEPS_PER_EPOCH, lr: { kind: 'cosine', lr: 0.1, min: 0 }, delta: DELTA,
};

const W = 1000, H = 700;
const M = { left: 80, right: 30 };
const TOP = { y: 70, h: 150, lo: 0, hi: 0.1 };      // α panel
const BOT = { y: 290, h: 300, lo: 0.3, hi: 1.0 };   // momentum panel
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const COLORS = {
  under: '#f4c7c3', critical: '#c8e6c9', over: '#c6dbef',
  lr: '#333333', physics: '#d95f02', constant: '#6a3d9a', muc: '#1b7837', grid: '#dddddd', axis: '#444444',
};

const plotW = W - M.left - M.right;
const x = (epoch: number) => M.left + (epoch / EPOCHS) * plotW;
const y = (panel: typeof TOP, v: number) => panel.y + panel.h - ((v - panel.lo) / (panel.hi - panel.lo)) * panel.h;
const f = (v: number) => v.toFixed(2);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(px: number, py: number, s: string,
  opts: { size?: number; anchor?: string; weight?: string; fill?: string; rotate?: boolean; halo?: boolean } = {}): string {
  const { size = 13, anchor = 'start', weight = 'normal', fill = COLORS.axis, rotate = false, halo = false } = opts;
  const tr = rotate ? ` transform="rotate(-90 ${f(px)} ${f(py)})"` : '';
  // A white halo keeps a label readable where it crosses a curve or a marker line.
  const h = halo ? ' stroke="white" stroke-width="3.5" stroke-opacity="0.85" paint-order="stroke"' : '';
  return `<text x="${f(px)}" y="${f(py)}" font-size="${size}" text-anchor="${anchor}" font-weight="${weight}" fill="${fill}"${h}${tr}>${esc(s)}</text>`;
}

function polyline(points: [number, number][], stroke: string, width: number, dash = ''): string {
  const d = points.map(([px, py]) => `${f(px)},${f(py)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${stroke}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''} stroke-linejoin="round"/>`;
}

function polygon(points: [number, number][], fill: string): string {
  return `<polygon points="${points.map(([px, py]) => `${f(px)},${f(py)}`).join(' ')}" fill="${fill}"/>`;
}

/** Axes box, grid, ticks and labels of one panel. */
function axes(panel: typeof TOP, yTicks: number[], yFmt: (v: number) => string, yLabel: string, clip: string): string {
  const out: string[] = [];
  for (const v of yTicks) {
    out.push(`<line x1="${x(0)}" x2="${x(EPOCHS)}" y1="${f(y(panel, v))}" y2="${f(y(panel, v))}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    out.push(`<line x1="${x(0) - 5}" x2="${x(0)}" y1="${f(y(panel, v))}" y2="${f(y(panel, v))}" stroke="${COLORS.axis}"/>`);
    out.push(text(x(0) - 9, y(panel, v) + 4, yFmt(v), { anchor: 'end', size: 12 }));
  }
  for (let e = 0; e <= EPOCHS; e += 25) {
    out.push(`<line x1="${f(x(e))}" x2="${f(x(e))}" y1="${panel.y + panel.h}" y2="${panel.y + panel.h + 5}" stroke="${COLORS.axis}"/>`);
    out.push(text(x(e), panel.y + panel.h + 19, String(e), { anchor: 'middle', size: 12 }));
  }
  out.push(`<rect x="${x(0)}" y="${panel.y}" width="${plotW}" height="${panel.h}" fill="none" stroke="${COLORS.axis}" stroke-width="1.2"/>`);
  out.push(text(24, panel.y + panel.h / 2, yLabel, { anchor: 'middle', size: 14, rotate: true }));
  out.push(`<clipPath id="${clip}"><rect x="${x(0)}" y="${panel.y}" width="${plotW}" height="${panel.h}"/></clipPath>`);
  return out.join('\n');
}

export function scheduleSvg(): string {
  const physics = new TrainingSchedule({ ...base, momentum: { kind: 'physics' } });
  const constant = new TrainingSchedule({ ...base, momentum: { kind: 'constant', mu: 0.9 } });
  const total = physics.totalSteps;
  const N = 1600; // samples along the run; the plot is ~900 px wide
  const pts = Array.from({ length: N + 1 }, (_, i) => physics.at(Math.min(total - 1, Math.round((i * total) / N))));
  const clampY = (v: number) => Math.min(BOT.hi, Math.max(BOT.lo, v));
  const px = pts.map((p) => x(p.epoch));

  // Zones, from the unclamped μc: underdamped above μc + δ, critical within δ, overdamped below.
  const upper = pts.map((p, i): [number, number] => [px[i], y(BOT, clampY(p.muCritical + DELTA))]);
  const lower = pts.map((p, i): [number, number] => [px[i], y(BOT, clampY(p.muCritical - DELTA))]);
  const top: [number, number][] = [[x(EPOCHS), BOT.y], [x(0), BOT.y]];
  const bottom: [number, number][] = [[x(EPOCHS), BOT.y + BOT.h], [x(0), BOT.y + BOT.h]];
  const zones = [
    polygon([...upper, ...top], COLORS.under),
    polygon([...lower, ...[...upper].reverse()], COLORS.critical),
    polygon([...lower, ...bottom], COLORS.over),
  ].join('\n');

  // Where the curves cross the lines the text talks about, found on the per-step schedule.
  const first = (s: TrainingSchedule, pred: (k: number) => boolean) => {
    for (let k = 0; k < total; k++) if (pred(k)) return s.at(k).epoch;
    return EPOCHS;
  };
  const clampEnds = first(physics, (k) => physics.at(k).momentum > 0.5);
  const reaches09 = first(physics, (k) => physics.at(k).momentum >= 0.9);
  const constUnder = first(constant, (k) => constant.at(k).regime !== 'underdamped');
  const marker = (epoch: number, label: string, dy: number) => [
    `<line x1="${f(x(epoch))}" x2="${f(x(epoch))}" y1="${BOT.y}" y2="${BOT.y + BOT.h}" stroke="${COLORS.axis}" stroke-width="1" stroke-dasharray="3 4"/>`,
    text(x(epoch) - 5, BOT.y + dy, label, { anchor: 'end', size: 12, halo: true }),
  ].join('\n');

  const lrLine = polyline(pts.map((p, i) => [px[i], y(TOP, p.lr)]), COLORS.lr, 2.2);
  // μc is drawn last and thinner so it stays visible where physics follows it exactly.
  const mucLine = polyline(pts.map((p, i) => [px[i], y(BOT, clampY(p.muCritical))]), COLORS.muc, 1.6, '7 5');
  const physLine = polyline(pts.map((p, i) => [px[i], y(BOT, p.momentum)]), COLORS.physics, 2.8);
  const constLine = polyline([[x(0), y(BOT, 0.9)], [x(EPOCHS), y(BOT, 0.9)]], COLORS.constant, 2.4);

  const pct = (e: number) => `${((100 * e) / EPOCHS).toFixed(1)}%`;
  const legendY = BOT.y + BOT.h + 48;
  const swatch = (lx: number, color: string, label: string, kind: 'line' | 'dash' | 'box') => {
    const mark = kind === 'box'
      ? `<rect x="${lx}" y="${legendY - 10}" width="22" height="12" fill="${color}" stroke="#999" stroke-width="0.5"/>`
      : `<line x1="${lx}" x2="${lx + 22}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="${kind === 'dash' ? 2 : 2.8}"${kind === 'dash' ? ' stroke-dasharray="7 5"' : ''}/>`;
    return mark + text(lx + 28, legendY, label, { size: 12.5 });
  };
  const legend = [
    swatch(x(0), COLORS.physics, 'physics μ = clamp(1 − 2√α, 0.5, 0.99)', 'line'),
    swatch(x(0) + 300, COLORS.constant, 'constant μ = 0.9', 'line'),
    swatch(x(0) + 450, COLORS.muc, 'μc = 1 − 2√α (unclamped)', 'dash'),
  ].join('\n');
  const legend2Y = legendY + 24;
  const zoneLegend = [
    [COLORS.under, 'underdamped  μ > μc + δ'], [COLORS.critical, 'critical  |μ − μc| ≤ δ'], [COLORS.over, 'overdamped  μ < μc − δ'],
  ].map(([c, l], i) => {
    const lx = x(0) + i * 230;
    return `<rect x="${lx}" y="${legend2Y - 10}" width="22" height="12" fill="${c}" stroke="#999" stroke-width="0.5"/>` +
      text(lx + 28, legend2Y, l, { size: 12.5 });
  }).join('\n');

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">
<rect width="${W}" height="${H}" fill="white"/>
${text(M.left, 30, 'Beta-scheduling under cosine annealing (α0 = 0.1 → 0 over 200 epochs, 391 steps/epoch)', { size: 17, weight: 'bold' })}
${text(M.left, 52, `Constant 0.9 is underdamped for ${pct(constUnder)} of training; physics μ leaves the 0.5 clamp at ${pct(clampEnds)} and reaches 0.9 at ${pct(reaches09)}.`, { size: 13 })}
${axes(TOP, [0, 0.025, 0.05, 0.075, 0.1], (v) => v.toFixed(3), 'learning rate α', 'clip-top')}
<g clip-path="url(#clip-top)">${lrLine}</g>
${text(x(EPOCHS) - 10, TOP.y + 22, 'α(t) = 0.05 (1 + cos πt/200)', { anchor: 'end', size: 13, fill: COLORS.lr })}
${axes(BOT, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], (v) => v.toFixed(1), 'momentum μ', 'clip-bot')}
<g clip-path="url(#clip-bot)">
${zones}
${[0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((v) => `<line x1="${x(0)}" x2="${x(EPOCHS)}" y1="${f(y(BOT, v))}" y2="${f(y(BOT, v))}" stroke="white" stroke-opacity="0.6" stroke-width="1"/>`).join('\n')}
${marker(clampEnds, `clamp ends ${pct(clampEnds)}`, 20)}
${marker(constUnder, `0.9 underdamped until ${pct(constUnder)}`, BOT.h - 36)}
${marker(reaches09, `physics reaches 0.9 at ${pct(reaches09)}`, BOT.h - 14)}
${constLine}
${physLine}
${mucLine}
</g>
${text(x(EPOCHS), BOT.y + BOT.h + 34, 'epoch', { anchor: 'end', size: 13 })}
${text(x(EPOCHS), TOP.y + TOP.h + 34, 'epoch', { anchor: 'end', size: 13 })}
${legend}
${zoneLegend}
${text(x(EPOCHS), legend2Y, `δ = ${DELTA}`, { anchor: 'end', size: 12.5 })}
</svg>`;
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = process.argv[2] ?? `${root}docs/schedule.png`;
  const svg = scheduleSvg();
  if (out.endsWith('.svg')) writeFileSync(out, svg);
  else await sharp(Buffer.from(svg), { density: 144 }).png({ compressionLevel: 9 }).toFile(out);
  console.log(`plot-schedule: wrote ${out}`);
}

await main();
