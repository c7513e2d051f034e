/**
 * The direct kernels' passes (src/ops/conv2d_direct.ts): how each product of a convolution becomes
 * output passes over a grid of results, with the taps that reach it; the stride phases of dx; the
 * kernel rows and columns that reach the input; a dw tile's split-K ranges. Pure geometry, shared
 * by the cost model, the code generators and the dispatch.
 */
import type { ParamValues } from '../gpu/kernel';
import type { ConvGeometry } from './conv2d';
import type { OutputTile, WeightTile } from './conv2d_direct_model';
import type { CONV2D_DIRECT } from '../../shaders/kernels';

export const taps = (g: ConvGeometry) => g.KH * g.KW;

/** A kernel tap of a pass: its index t in the weights, and its row and column offsets in the patch. */
export interface Tap { t: number; du: number; dv: number }

export function usedPatch(TR: number, TQ: number, step: number, tapList: Tap[]): { rows: number[]; cols: number[]; cells: [number, number][] } {
  const cells = new Map<number, [number, number]>();
  for (const tp of tapList) {
    for (let r = 0; r < TR; r++) for (let q = 0; q < TQ; q++) {
      const u = r * step + tp.du, v = q * step + tp.dv;
      cells.set(u * 4096 + v, [u, v]);
    }
  }
  const list = [...cells.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { rows: [...new Set(list.map((c) => c[0]))], cols: [...new Set(list.map((c) => c[1]))].sort((a, b) => a - b), cells: list };
}

/**
 * A tap list as a grid the kernel-row loop can walk: rows of the same columns in the same order, one
 * patch row apart, whose tap indices move by tRow a row. null when the list is not such a grid.
 */
export function tapRows(tapList: Tap[]): { first: Tap[]; rows: number; tRow: number } | null {
  if (tapList.length === 0) return null;
  const du0 = tapList[0].du, first = tapList.filter((t) => t.du === du0), rows = tapList.length / first.length;
  if (!Number.isInteger(rows) || rows < 2) return null;
  const tRow = tapList[first.length].t - tapList[0].t;
  const grid = tapList.every((tp, i) => {
    const k = Math.floor(i / first.length), f = first[i % first.length];
    return tp.du === du0 + k && tp.dv === f.dv && tp.t === f.t + k * tRow;
  });
  return grid ? { first, rows, tRow } : null;
}


/** Params of conv2d_direct.wgsl, and whether to add into dst. */
export type OutputPass = ParamValues<typeof CONV2D_DIRECT> & { acc: number };

/**
 * The taps that read inside the source for at least one result of the grid. The others only ever
 * read padding (a 3×3 conv with pad 1 on a 1×1 map, as in layer4 of a 28×28 imagenet-stem run,
 * has 8 of them): dropping them removes work, not terms, since each would add exactly 0.
 */
export function liveTaps(pass: Pick<OutputPass, 'gridH' | 'gridW' | 'inStride' | 'offH' | 'offW' | 'srcH' | 'srcW'>, tapList: Tap[]): Tap[] {
  const s = pass.inStride;
  return tapList.filter((t) => reachesSource(pass.offH + t.du, s, pass.gridH, pass.srcH) && reachesSource(pass.offW + t.dv, s, pass.gridW, pass.srcW));
}

/** Whether any of the positions first, first + stride, … (count of them) lies in [0, size). */
export function reachesSource(first: number, stride: number, count: number, size: number): boolean {
  for (let i = 0, at = first; i < count && at < size; i++, at += stride) if (at >= 0) return true;
  return false;
}

/** Result tiles of one channel block. */
export const resultTiles = (N: number, gridH: number, gridW: number, t: OutputTile) => Math.ceil(N / t.TN) * Math.ceil(gridH / t.TR) * Math.ceil(gridW / t.TQ);

export function forwardTaps(g: ConvGeometry): Tap[] {
  const out: Tap[] = [];
  for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) out.push({ t: kh * g.KW + kw, du: kh, dv: kw });
  return out;
}

export function forwardPass(g: ConvGeometry): OutputPass {
  return {
    N: g.N, K: g.C, srcH: g.H, srcW: g.W, M: g.O, dstH: g.OH, dstW: g.OW, acc: 0, gridH: g.OH, gridW: g.OW,
    dstStride: 1, phaseH: 0, phaseW: 0, inStride: g.stride, offH: -g.pad, offW: -g.pad, wOut: g.C * taps(g), wRed: taps(g),
  };
}

/** Kernel indices k that reach input phase ph, with the dy offset d = (ph + pad − k)/s of each. */
export function phaseTaps(K: number, s: number, pad: number, ph: number): { k: number; d: number }[] {
  const out: { k: number; d: number }[] = [];
  for (let k = 0; k < K; k++) if ((((ph + pad - k) % s) + s) % s === 0) out.push({ k, d: (ph + pad - k) / s });
  return out;
}

/** One phase (ih mod s, iw mod s) of dx: its grid, the taps that reach it and their dy offsets. */
export interface DataPhase { ph: number; pw: number; gridH: number; gridW: number; offH: number; offW: number; tapList: Tap[] }

export function dataPhases(g: ConvGeometry): DataPhase[] {
  const s = g.stride, out: DataPhase[] = [];
  for (let ph = 0; ph < s; ph++) for (let pw = 0; pw < s; pw++) {
    const th = phaseTaps(g.KH, s, g.pad, ph), tw = phaseTaps(g.KW, s, g.pad, pw);
    const offH = th.length ? Math.min(...th.map((t) => t.d)) : 0, offW = tw.length ? Math.min(...tw.map((t) => t.d)) : 0;
    const tapList: Tap[] = [];
    for (const a of th) for (const b of tw) tapList.push({ t: a.k * g.KW + b.k, du: a.d - offH, dv: b.d - offW });
    tapList.sort((a, b) => a.du - b.du || a.dv - b.dv);
    out.push({ ph, pw, gridH: Math.ceil((g.H - ph) / s), gridW: Math.ceil((g.W - pw) / s), offH, offW, tapList });
  }
  return out;
}

/**
 * Kernel rows and columns that read inside x for some output position (as liveTaps): the others
 * only meet padding, their dw is 0, and nothing is loaded or summed for them.
 */
export function liveKernel(g: ConvGeometry): { khs: number[]; kws: number[] } {
  const live = (K: number, out: number, size: number) => Array.from({ length: K }, (_, k) => k).filter((k) => reachesSource(k - g.pad, g.stride, out, size));
  return { khs: live(g.KH, g.OH, g.H), kws: live(g.KW, g.OW, g.W) };
}

/** Input rows or columns (relative to the step's first) that n output rows or columns touch through kernel indices ks. */
export const span = (n: number, s: number, ks: number[]) =>
  [...new Set(Array.from({ length: n }, (_, q) => ks.map((k) => q * s + k)).flat())].sort((a, b) => a - b);

/** Split-K ranges of a dw tile: how many, and steps in each. */
export function weightSplits(g: ConvGeometry, tile: WeightTile): { splits: number; per: number } {
  const steps = g.N * Math.ceil(g.OH / tile.R) * Math.ceil(g.OW / tile.Q);
  const per = Math.ceil(steps / tile.splits);
  return { splits: Math.ceil(steps / per), per };
}
