/**
 * Plots as SVG text: line charts (one or more stacked panels sharing a width, each with its own
 * axes, series, shaded bands and zones, horizontal marker lines and a legend) and per-epoch regime
 * bars. Browser-safe: the CLI turns the SVG into PNG with sharp; the training page puts it in the
 * DOM. No layout engine: fixed margins, nice ticks (1, 2, 5 × 10^k, or decades on a log axis).
 */
import { REGIMES, type Regime } from '../schedule/regime';

export interface Axis {
  label: string;
  min?: number;
  max?: number;
  log?: boolean;
  /** Whole-number ticks only (epochs). */
  integer?: boolean;
  /** Tick label text (default: a short number). */
  format?: (v: number) => string;
}

export interface Series {
  label: string;
  color: string;
  /** [x, y] in data units; non-finite points break the line. */
  points: readonly (readonly [number, number])[];
  dash?: string;
  width?: number;
  /** A shaded band [x, lo, hi] drawn under the line (seed spread, say). */
  band?: readonly (readonly [number, number, number])[];
  markers?: boolean;
}

/** A filled region between two curves (zones past the plot's edge are clipped). */
export interface Zone {
  label: string;
  color: string;
  upper: readonly (readonly [number, number])[];
  lower: readonly (readonly [number, number])[];
}

export interface HLine { y: number; label: string; color?: string }

export interface Panel {
  title?: string;
  x: Axis;
  y: Axis;
  series: readonly Series[];
  zones?: readonly Zone[];
  hlines?: readonly HLine[];
  height?: number;
}

export const REGIME_COLORS: Record<Regime, string> = { underdamped: '#d64541', critical: '#2e9e4f', overdamped: '#3b6fd4' };
/** Distinct, colour-blind-friendly line colours (Okabe–Ito order), cycled by method. */
export const PALETTE = ['#7a7a7a', '#e69f00', '#56b4e9', '#009e73', '#cc79a7', '#0072b2', '#d55e00', '#999933'];

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function shortNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** About `count` round ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  for (let d = a; d <= b; d++) for (const m of mults) { const v = m * 10 ** d; if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v); }
  return out;
}

interface Scale { map(v: number): number; ticks: number[]; lo: number; hi: number }

function scale(axis: Axis, values: number[], from: number, to: number): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
  let lo = axis.min ?? (finite.length ? Math.min(...finite) : 0), hi = axis.max ?? (finite.length ? Math.max(...finite) : 1);
  if (hi <= lo) { const pad = axis.log ? lo : Math.abs(lo) * 0.1 || 1; lo -= axis.log ? lo / 2 : pad; hi += pad; }
  if (axis.log) {
    lo = axis.min ?? 10 ** Math.floor(Math.log10(lo));
    hi = axis.max ?? 10 ** Math.ceil(Math.log10(hi));
    const l0 = Math.log10(lo), l1 = Math.log10(hi);
    return { lo, hi, ticks: logTicks(lo, hi), map: (v) => from + ((Math.log10(Math.max(v, lo * 1e-3)) - l0) / (l1 - l0)) * (to - from) };
  }
  if (axis.min === undefined || axis.max === undefined) {
    const t = niceTicks(lo, hi);
    const step = t.length > 1 ? t[1] - t[0] : 1;
    if (axis.min === undefined) lo = Math.min(lo, t[0] > lo ? t[0] - step : t[0]);
    if (axis.max === undefined) hi = Math.max(hi, t[t.length - 1] < hi ? t[t.length - 1] + step : t[t.length - 1]);
  }
  const ticks = axis.integer ? niceTicks(lo, hi).filter(Number.isInteger) : niceTicks(lo, hi);
  return { lo, hi, ticks, map: (v) => from + ((v - lo) / (hi - lo)) * (to - from) };
}

const path = (pts: [number, number][]) => {
  let d = '', pen = false;
  for (const [x, y] of pts) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
};

const LEFT = 78, RIGHT = 250, GAP = 34;

let clipIds = 0;

function panelSvg(p: Panel, top: number, width: number): { svg: string; height: number } {
  const h = p.height ?? 300, titleH = p.title ? 22 : 0;
  const x0 = LEFT, x1 = width - RIGHT, y0 = top + titleH + h, y1 = top + titleH;
  const xs = [...p.series.flatMap((s) => s.points.map(([x]) => x)), ...(p.zones ?? []).flatMap((z) => z.upper.map(([x]) => x))];
  const ys = [...p.series.flatMap((s) => [...s.points.map(([, y]) => y), ...(s.band ?? []).flatMap(([, lo, hi]) => [lo, hi])]), ...(p.hlines ?? []).map((l) => l.y)];
  const sx = scale(p.x, xs, x0, x1), sy = scale(p.y, ys, y0, y1);
  const fx = p.x.format ?? shortNumber, fy = p.y.format ?? shortNumber;
  const clip = `clip${++clipIds}`;
  const out: string[] = [];
  if (p.title) out.push(`<text x="${x0}" y="${top + 15}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<clipPath id="${clip}"><rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clip})">`);
  for (const z of p.zones ?? []) {
    const pts = [...z.upper.map(([x, y]) => [sx.map(x), sy.map(Math.min(Math.max(y, sy.lo - (sy.hi - sy.lo)), sy.hi + (sy.hi - sy.lo)))] as [number, number]),
      ...[...z.lower].reverse().map(([x, y]) => [sx.map(x), sy.map(Math.min(Math.max(y, sy.lo - (sy.hi - sy.lo)), sy.hi + (sy.hi - sy.lo)))] as [number, number])];
    out.push(`<path d="${path(pts)}Z" fill="${z.color}" fill-opacity="0.13" stroke="none"/>`);
  }
  // Grid and ticks.
  for (const t of sy.ticks) out.push(`<line x1="${x0}" x2="${x1}" y1="${sy.map(t).toFixed(1)}" y2="${sy.map(t).toFixed(1)}" stroke="#e4e4e4"/>`);
  for (const t of sx.ticks) out.push(`<line x1="${sx.map(t).toFixed(1)}" x2="${sx.map(t).toFixed(1)}" y1="${y1}" y2="${y0}" stroke="#eeeeee"/>`);
  for (const s of p.series) {
    if (!s.band?.length) continue;
    const pts = [...s.band.map(([x, , hi]) => [sx.map(x), sy.map(hi)] as [number, number]), ...[...s.band].reverse().map(([x, lo]) => [sx.map(x), sy.map(lo)] as [number, number])];
    out.push(`<path d="${path(pts)}Z" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
  }
  for (const l of p.hlines ?? []) {
    const y = sy.map(l.y).toFixed(1);
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="${l.color ?? '#777'}" stroke-dasharray="6 4" stroke-width="1.2"/>`);
    out.push(`<text x="${x0 + 4}" y="${Number(y) - 4}" font-size="11" fill="${l.color ?? '#555'}">${esc(l.label)}</text>`);
  }
  for (const s of p.series) {
    const pts = s.points.map(([x, y]) => [sx.map(x), sy.map(y)] as [number, number]);
    out.push(`<path d="${path(pts)}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} stroke-linejoin="round"/>`);
    if (s.markers) for (const [x, y] of pts) if (Number.isFinite(x) && Number.isFinite(y)) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.6" fill="${s.color}"/>`);
  }
  out.push('</g>');
  // Axes, tick labels, axis titles.
  out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${h}" fill="none" stroke="#888"/>`);
  for (const t of sx.ticks) out.push(`<text x="${sx.map(t).toFixed(1)}" y="${y0 + 16}" font-size="11" text-anchor="middle" fill="#333">${esc(fx(t))}</text>`);
  for (const t of sy.ticks) out.push(`<text x="${x0 - 6}" y="${(sy.map(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#333">${esc(fy(t))}</text>`);
  out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 34}" font-size="12" text-anchor="middle" fill="#333">${esc(p.x.label)}</text>`);
  out.push(`<text transform="translate(${x0 - 56},${(y0 + y1) / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="#333">${esc(p.y.label)}</text>`);
  // Legend: series, then zones, then marker lines.
  let ly = y1 + 6;
  const lx = x1 + 16;
  const item = (swatch: string, label: string) => { out.push(swatch.replace(/LY/g, String(ly)) + `<text x="${lx + 30}" y="${ly + 4}" font-size="12" fill="#222">${esc(label)}</text>`); ly += 18; };
  for (const s of p.series) item(`<line x1="${lx}" x2="${lx + 24}" y1="LY" y2="LY" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`, s.label);
  for (const z of p.zones ?? []) item(`<rect x="${lx}" y="${ly - 6}" width="24" height="12" fill="${z.color}" fill-opacity="0.25"/>`, z.label);
  for (const l of p.hlines ?? []) item(`<line x1="${lx}" x2="${lx + 24}" y1="LY" y2="LY" stroke="${l.color ?? '#777'}" stroke-dasharray="6 4"/>`, l.label);
  return { svg: out.join('\n'), height: titleH + h + 44 };
}

function frame(width: number, height: number, title: string, subtitle: string | undefined, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="28" font-size="17" font-weight="bold">${esc(title)}</text>`,
    subtitle ? `<text x="20" y="48" font-size="13" fill="#555">${esc(subtitle)}</text>` : '',
    body, '</svg>',
  ].join('\n');
}

/** One or more panels stacked vertically, each with its own axes and legend. */
export function lineChartSvg(opts: { title: string; subtitle?: string; width?: number; panels: readonly Panel[] }): string {
  const width = opts.width ?? 1000;
  let top = opts.subtitle ? 64 : 44;
  const parts: string[] = [];
  for (const p of opts.panels) {
    const { svg, height } = panelSvg(p, top, width);
    parts.push(svg);
    top += height + GAP;
  }
  return frame(width, top - GAP + 8, opts.title, opts.subtitle, parts.join('\n'));
}

/** One row of coloured cells per method: the damping regime of each epoch (red under, green critical, blue over). */
export function regimeBarsSvg(rows: readonly { label: string; regimes: readonly Regime[] }[], opts: { title: string; subtitle?: string; width?: number }): string {
  const width = opts.width ?? 1000, rowH = 30, left = 230, right = 40;
  const top = (opts.subtitle ? 64 : 44) + 10;
  const n = Math.max(1, ...rows.map((r) => r.regimes.length));
  const cellW = (width - left - right) / n;
  const out: string[] = [];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 10}" y="${y + rowH / 2 + 4}" font-size="13" text-anchor="end" fill="#222">${esc(r.label)}</text>`);
    r.regimes.forEach((g, e) => out.push(`<rect x="${(left + e * cellW).toFixed(1)}" y="${y + 3}" width="${Math.max(0.5, cellW - (cellW > 4 ? 1 : 0)).toFixed(1)}" height="${rowH - 6}" fill="${REGIME_COLORS[g]}"><title>${esc(`${r.label}, epoch ${e + 1}: ${g}`)}</title></rect>`));
  });
  const axisY = top + rows.length * rowH + 4;
  for (const t of niceTicks(1, n, Math.min(10, n))) {
    if (!Number.isInteger(t) || t < 1 || t > n) continue;
    out.push(`<text x="${(left + (t - 0.5) * cellW).toFixed(1)}" y="${axisY + 12}" font-size="11" text-anchor="middle" fill="#333">${t}</text>`);
  }
  out.push(`<text x="${left + (width - left - right) / 2}" y="${axisY + 30}" font-size="12" text-anchor="middle" fill="#333">epoch</text>`);
  let lx = left;
  const ly = axisY + 52;
  for (const g of REGIMES) {
    out.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="14" fill="${REGIME_COLORS[g]}"/><text x="${lx + 20}" y="${ly + 1}" font-size="12" fill="#222">${g}</text>`);
    lx += 150;
  }
  return frame(width, ly + 16, opts.title, opts.subtitle, out.join('\n'));
}
