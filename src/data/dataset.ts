/**
 * A labelled image dataset held in memory as uint8, the way it is stored on disk: images N×C×H×W
 * planar (NCHW), one label byte per image. Browser-safe: nothing here touches the file system.
 */
import { Rng } from '../util/rng';

export interface Dataset {
  name: string;
  /** N×C×H×W planar (NCHW), uint8. */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  c: number;
  h: number;
  w: number;
  classes: string[];
}

export interface DatasetSplit {
  train: Dataset;
  test: Dataset;
}

export const CIFAR10_CLASSES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

/** CIFAR-100 fine labels, in label order (alphabetical, as in the archive's fine_label_names.txt). */
export const CIFAR100_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

/** CIFAR-100 coarse labels (superclasses), in label order. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
  'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores',
  'large_man-made_outdoor_things', 'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores',
  'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees',
  'vehicles_1', 'vehicles_2',
];

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** What reports call a dataset, by its loader's name. */
const DATASET_LABELS: Record<string, string> = { 'fashion-mnist': 'Fashion-MNIST', mnist: 'MNIST', cifar10: 'CIFAR-10', cifar100: 'CIFAR-100', folder: 'an image folder' };
export const datasetLabel = (name: string): string => DATASET_LABELS[name] ?? name;

/**
 * Builds a Dataset after checking that the arrays agree with the shape and every label names a
 * class; `what` names the source (a file or the dataset) in the error.
 */
export function makeDataset(ds: Dataset, what = ds.name): Dataset {
  const { n, c, h, w } = ds;
  for (const [k, v] of [['n', n], ['c', c], ['h', h], ['w', w]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${what}: ${k} must be a non-negative integer, got ${v}`);
  }
  if (ds.images.length !== n * c * h * w) {
    throw new Error(`${what}: ${ds.images.length} pixel bytes, expected ${n}×${c}×${h}×${w} = ${n * c * h * w}`);
  }
  if (ds.labels.length !== n) throw new Error(`${what}: ${n} images but ${ds.labels.length} labels`);
  checkLabels(ds.labels, ds.classes.length, what);
  return ds;
}

/** Throws naming the first label ≥ numClasses (its index and value). */
export function checkLabels(labels: Uint8Array, numClasses: number, what: string, first = 0): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(`${what}: label ${labels[i]} of image ${first + i} is out of range 0..${numClasses - 1}`);
    }
  }
}

/**
 * The samples at `indices`, in that order; or, given a count, the first `count` samples, or with a
 * seed `count` samples drawn without replacement (a seeded permutation, so the same every run).
 */
export function subset(ds: Dataset, selection: ArrayLike<number> | number, seed?: number): Dataset {
  let indices: ArrayLike<number>;
  if (typeof selection === 'number') {
    if (!Number.isInteger(selection) || selection < 0 || selection > ds.n) {
      throw new Error(`subset(${ds.name}): count ${selection} is not in 0..${ds.n}`);
    }
    indices = seed === undefined ? Array.from({ length: selection }, (_, i) => i)
      : new Rng(seed).permutation(ds.n).subarray(0, selection);
  } else {
    indices = selection;
  }
  const stride = ds.c * ds.h * ds.w;
  const images = new Uint8Array(indices.length * stride);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new Error(`subset(${ds.name}): index ${i} at position ${k} is not in 0..${ds.n - 1}`);
    }
    images.set(ds.images.subarray(i * stride, (i + 1) * stride), k * stride);
    labels[k] = ds.labels[i];
  }
  return { ...ds, images, labels, n: indices.length, classes: ds.classes.slice() };
}

/** Joins datasets of the same shape and classes, in order. */
export function concat(name: string, parts: Dataset[]): Dataset {
  if (parts.length === 0) throw new Error(`concat(${name}): no datasets to join`);
  const { c, h, w, classes } = parts[0];
  let n = 0;
  for (const p of parts) {
    if (p.c !== c || p.h !== h || p.w !== w) {
      throw new Error(`concat(${name}): ${p.name} is ${p.c}×${p.h}×${p.w}, expected ${c}×${h}×${w}`);
    }
    n += p.n;
  }
  const images = new Uint8Array(n * c * h * w);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * c * h * w);
    labels.set(p.labels, at);
    at += p.n;
  }
  return { name, images, labels, n, c, h, w, classes: classes.slice() };
}

/**
 * Per-channel mean and (population) standard deviation of the pixels scaled to [0, 1], the
 * constants a normalization layer subtracts and divides by. Sums are exact integers in float64
 * (255² · 60000 · 1024 < 2⁵³).
 */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const plane = ds.h * ds.w;
  const count = ds.n * plane;
  const mean: number[] = [], std: number[] = [];
  for (let ch = 0; ch < ds.c; ch++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < ds.n; i++) {
      const base = (i * ds.c + ch) * plane;
      let t = 0, t2 = 0;
      for (let p = 0; p < plane; p++) {
        const v = ds.images[base + p];
        t += v;
        t2 += v * v;
      }
      s += t;
      s2 += t2;
    }
    const m = count > 0 ? s / count : 0;
    const variance = count > 0 ? Math.max(0, s2 / count - m * m) : 0;
    mean.push(m / 255);
    std.push(Math.sqrt(variance) / 255);
  }
  return { mean, std };
}

/** Images per class, indexed by label. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]]++;
  return counts;
}

/** True when bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A seeded, class-stratified split of a dataset's indices: from each class, round(fraction · its
 * count) images are held out (at least one when the class has two or more, so every class is
 * represented on both sides), chosen by a seeded permutation. Both lists are sorted. Used for the
 * validation split that chooses the problem layers and is never trained on.
 */
export function stratifiedSplit(ds: Pick<Dataset, 'labels' | 'n' | 'classes' | 'name'>, fraction: number, seed: number): { kept: number[]; held: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`validation split of ${ds.name}: the fraction must be in (0, 1), e.g. 0.1, got ${fraction}`);
  const byClass: number[][] = ds.classes.map(() => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]].push(i);
  const rng = new Rng(seed);
  const held: number[] = [];
  for (const members of byClass) {
    if (members.length === 0) continue;
    const want = members.length < 2 ? 0 : Math.min(members.length - 1, Math.max(1, Math.round(fraction * members.length)));
    const order = rng.permutation(members.length);
    for (let j = 0; j < want; j++) held.push(members[order[j]]);
  }
  held.sort((a, b) => a - b);
  if (held.length === 0) throw new RangeError(`validation split of ${ds.name}: ${ds.n} images leave none to hold out at ${fraction}; use more images`);
  const isHeld = new Uint8Array(ds.n);
  for (const i of held) isHeld[i] = 1;
  const kept: number[] = [];
  for (let i = 0; i < ds.n; i++) if (!isHeld[i]) kept.push(i);
  return { kept, held };
}

/** A set of indices in 0..n−1 as a base64 bitmap (bit i of byte i>>3): 7.5 kB for 60,000 images. */
export function encodeIndexSet(indices: readonly number[], n: number): string {
  const bytes = new Uint8Array(Math.ceil(n / 8));
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`index set: ${i} is not in 0..${n - 1}`);
    bytes[i >> 3] |= 1 << (i & 7);
  }
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The sorted indices of a bitmap written by encodeIndexSet; a bitmap of the wrong size is an error. */
export function decodeIndexSet(bitmap: string, n: number, what = 'index set'): number[] {
  let raw: string;
  try {
    raw = atob(bitmap);
  } catch {
    throw new Error(`${what}: not a base64 bitmap`);
  }
  if (raw.length !== Math.ceil(n / 8)) throw new Error(`${what}: a bitmap of ${raw.length} bytes does not cover ${n} images (${Math.ceil(n / 8)} bytes)`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if ((raw.charCodeAt(i >> 3) >> (i & 7)) & 1) out.push(i);
  return out;
}
