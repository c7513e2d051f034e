/**
 * The validation split: images held out of a run's training data, never trained on, on which the
 * problem layers are chosen (so the test images that score a correction never choose it). A run
 * records its split as a HeldOut (fraction, seed and the exact images, as a bitmap), so a resumed
 * run, `diagnose`, `correct` and the page all use the same images. Browser-safe.
 */
import { decodeIndexSet, encodeIndexSet, stratifiedSplit, subset, type Dataset } from './dataset';

export interface HeldOut {
  /** The share asked for, per class (rounded per class, so the count is close to fraction · of). */
  fraction: number;
  seed: number;
  /** Images in the training data the split was made from (after any subset). */
  of: number;
  /** Images held out. */
  count: number;
  /** Which images: encodeIndexSet over `of` images. */
  bitmap: string;
}

/** Holds out a seeded, class-stratified share of `train`. */
export function makeHeldOut(train: Dataset, fraction: number, seed: number): HeldOut {
  const { held } = stratifiedSplit(train, fraction, seed);
  return { fraction, seed, of: train.n, count: held.length, bitmap: encodeIndexSet(held, train.n) };
}

/**
 * The training data without the held-out images, and the held-out images, from a recorded split.
 * A split recorded for other data (another size, or images that no longer match) is an error.
 */
export function applyHeldOut(train: Dataset, h: HeldOut): { train: Dataset; val: Dataset } {
  if (h.of !== train.n) throw new Error(`the run's validation split was made from ${h.of} training images, but the data now has ${train.n}: is it the same data (and subset)?`);
  const held = decodeIndexSet(h.bitmap, h.of, 'the run\'s validation split');
  if (held.length !== h.count) throw new Error(`the run's validation split lists ${held.length} images but records ${h.count}: the record is damaged`);
  const isHeld = new Uint8Array(train.n);
  for (const i of held) isHeld[i] = 1;
  const kept: number[] = [];
  for (let i = 0; i < train.n; i++) if (!isHeld[i]) kept.push(i);
  return { train: { ...subset(train, kept), name: train.name }, val: { ...subset(train, held), name: `${train.name} (validation)` } };
}

/** Where the problem layers are chosen: the held-out split (default), the training images, or the test images (leakage). */
export type DiagnoseOn = 'val' | 'train' | 'test';

export const DIAGNOSE_ON: readonly DiagnoseOn[] = ['val', 'train', 'test'];

export interface Selection {
  /** The images whose errors choose the layers. */
  data: Dataset;
  /** What was asked for, and what was used (a run without a held-out split falls back from val to train). */
  asked: DiagnoseOn;
  on: DiagnoseOn;
  /** True when the layers are chosen on the images a correction is scored on. */
  leakage: boolean;
  /** One sentence for the output and the reports. */
  note: string;
}

/**
 * The images that choose the layers. `val` uses the run's held-out split; a run without one falls
 * back to its training images (never the test images), and the note says so. `test` is allowed
 * but marked as leakage: the test images then both choose the layers and score the correction.
 */
export function selectionData(split: { train: Dataset; val: Dataset | null; test: Dataset }, asked: DiagnoseOn): Selection {
  if (!DIAGNOSE_ON.includes(asked)) throw new Error(`--diagnose-on: '${String(asked)}' is not ${DIAGNOSE_ON.join(', ')}`);
  if (asked === 'val' && split.val) {
    return { data: split.val, asked, on: 'val', leakage: false, note: `the ${split.val.n} held-out validation images (never trained on, not the test images)` };
  }
  if (asked === 'val' || asked === 'train') {
    const fallback = asked === 'val' ? 'this run held out no validation images (train with --val 0.1 to hold some out), so ' : '';
    return { data: split.train, asked, on: 'train', leakage: false, note: `${fallback}the ${split.train.n} training images (not the test images)` };
  }
  return { data: split.test, asked, on: 'test', leakage: true,
    note: `the ${split.test.n} test images: LEAKAGE, the same images then score the correction (use --diagnose-on val)` };
}
