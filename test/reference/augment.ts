// Float64 CPU reference of the batch pipeline (shaders/batch.wgsl, src/data/batcher.ts): the
// epoch's order, the counter-based augmentation draws, and torchvision's
// RandomCrop(H×W, padding=pad) → RandomHorizontalFlip → ToTensor → Normalize, written from the
// definitions, not from the implementation (the hash is retyped here on purpose).
import { Rng } from '../../src/util/rng';
import type { Dataset } from '../../src/data/dataset';

/** lowbias32 (Chris Wellons): x ^= x>>16; x *= 0x7feb352d; x ^= x>>15; x *= 0x846ca68b; x ^= x>>16. */
export function lowbias32(v: number): number {
  let x = BigInt(v >>> 0);
  const M = 0xffffffffn;
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & M;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & M;
  x ^= x >> 16n;
  return Number(x);
}

/** The seed of epoch `epoch`'s shuffle. */
export function shuffleSeed(seed: number, epoch: number): number {
  return lowbias32((lowbias32(((seed >>> 0) ^ 0x85ebca6b) >>> 0) ^ epoch) >>> 0);
}

export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  return shuffle ? new Rng(shuffleSeed(seed, epoch)).permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
}

export interface Draws { dy: number; dx: number; flip: boolean }

/** The crop offsets in [0, 2·pad] and the flip of the sample at `pos` in the epoch. */
export function draws(seed: number, epoch: number, pos: number, pad: number, flip: boolean): Draws {
  const key = lowbias32((lowbias32(((seed >>> 0) ^ 0x9e3779b9) >>> 0) ^ epoch) >>> 0);
  const h = lowbias32((key ^ pos) >>> 0);
  const r = [0, 1, 2].map((j) => lowbias32((h + j) >>> 0));
  const span = 2 * pad + 1;
  return { dy: r[0] % span, dx: r[1] % span, flip: flip && r[2] >= 2 ** 31 };
}

export interface RefOptions {
  batchSize: number;
  shuffle: boolean;
  augment: { crop: number; flip: boolean } | null;
  mean: readonly number[];
  std: readonly number[];
  seed: number;
}

/** Batch i of an epoch: x [b, C, H, W] in float64, labels and dataset indices. */
export function referenceBatch(ds: Dataset, o: RefOptions, epoch: number, i: number): { x: Float64Array; labels: number[]; indices: number[]; draws: Draws[] } {
  const { n, c: C, h: H, w: W } = ds;
  const order = epochOrder(n, o.seed, epoch, o.shuffle);
  const start = i * o.batchSize, b = Math.min(o.batchSize, n - start);
  const pad = o.augment?.crop ?? 0, flip = o.augment?.flip ?? false;
  const x = new Float64Array(b * C * H * W);
  const indices: number[] = [], labels: number[] = [], all: Draws[] = [];
  for (let k = 0; k < b; k++) {
    const s = order[start + k];
    indices.push(s);
    labels.push(ds.labels[s]);
    const d = draws(o.seed, epoch, start + k, pad, flip);
    all.push(d);
    // Pad with zeros to (H + 2·pad)×(W + 2·pad), take the window at (dy, dx), then mirror it.
    const PH = H + 2 * pad, PW = W + 2 * pad;
    for (let ch = 0; ch < C; ch++) {
      const padded = new Float64Array(PH * PW);
      for (let yy = 0; yy < H; yy++) for (let xx = 0; xx < W; xx++) padded[(yy + pad) * PW + xx + pad] = ds.images[((s * C + ch) * H + yy) * W + xx];
      for (let y = 0; y < H; y++) {
        for (let xo = 0; xo < W; xo++) {
          const xc = d.flip ? W - 1 - xo : xo;
          const v = padded[(y + d.dy) * PW + xc + d.dx];
          x[((k * C + ch) * H + y) * W + xo] = (v / 255 - o.mean[ch]) / o.std[ch];
        }
      }
    }
  }
  return { x, labels, indices, draws: all };
}
