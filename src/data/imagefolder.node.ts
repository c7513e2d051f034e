/**
 * Node-only: an image-folder dataset, root/<class>/<image>.png|jpg|jpeg|webp with classes sorted
 * by name (code-unit order, so the class → label mapping is the same on every machine). Images are
 * decoded and resized with sharp, a bounded number at a time, into NCHW uint8. The split comes from
 * root/train and root/test when both exist, else a seeded split stratified by class.
 */
import { availableParallelism } from 'node:os';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../util/rng';
import { type Dataset, type DatasetSplit, makeDataset } from './dataset';

export interface FolderOptions {
  /** Output size: one number for square, or [h, w] (default 32). */
  size?: number | [number, number];
  /** 3 for RGB (alpha dropped), 1 for grayscale (default 3). */
  channels?: 1 | 3;
  /** How the image fits the size: crop to fill (cover, default), letterbox on black (contain) or stretch (fill). */
  fit?: 'cover' | 'contain' | 'fill';
  /** Without train/ and test/ subfolders: the fraction of each class held out for test (default 0.2). */
  testFraction?: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Images decoded at once (default min(8, CPU count)). */
  concurrency?: number;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];

interface Item { path: string; label: number }
type Fit = NonNullable<FolderOptions['fit']>;

const sortNames = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function isDir(p: string): Promise<boolean> {
  try { return (await stat(p)).isDirectory(); } catch { return false; }
}

/** The class folders of root, sorted, hidden ones skipped. */
async function classFolders(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    throw new Error(`${root}: cannot read image folder (${(err as Error).message})`);
  }
  const out: string[] = [];
  for (const name of names.sort(sortNames)) {
    if (!name.startsWith('.') && await isDir(join(root, name))) out.push(name);
  }
  return out;
}

/** The image files of one class folder, sorted. */
async function imageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort(sortNames)) {
    if (name.startsWith('.') || !IMAGE_EXTENSIONS.includes(extname(name).toLowerCase())) continue;
    const s = await stat(join(dir, name)).catch(() => null);
    if (s?.isFile()) out.push(join(dir, name));
  }
  return out;
}

/** Items of root/<class>/ for the given class list; classes absent from root give none. */
async function listItems(root: string, classes: string[], requireEach: boolean): Promise<Item[]> {
  const items: Item[] = [];
  for (let label = 0; label < classes.length; label++) {
    const dir = join(root, classes[label]);
    if (!(await isDir(dir))) continue;
    const files = await imageFiles(dir);
    if (files.length === 0 && requireEach) {
      throw new Error(`${dir}: class folder holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
    }
    for (const path of files) items.push({ path, label });
  }
  return items;
}

/** Decodes one image to c×h×w planar bytes at `out`; errors name the file. */
async function decodeInto(item: Item, h: number, w: number, c: 1 | 3, fit: Fit, out: Uint8Array): Promise<void> {
  let result: { data: Uint8Array; info: { width: number; height: number; channels: number } };
  try {
    let img = sharp(item.path).autoOrient()
      .resize(w, h, { fit, background: { r: 0, g: 0, b: 0, alpha: 1 } })
      .removeAlpha();
    if (c === 1) img = img.grayscale();
    result = await img.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`${item.path}: unreadable image (${(err as Error).message})`);
  }
  const { data, info } = result;
  if (info.width !== w || info.height !== h || info.channels !== c) {
    throw new Error(`${item.path}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${w}×${h}×${c}`);
  }
  // sharp gives interleaved HWC; the dataset is planar CHW.
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) out[ch * plane + p] = data[p * c + ch];
  }
}

/** Decodes items into one dataset, at most `limit` images in flight. */
async function decodeAll(name: string, items: Item[], classes: string[], h: number, w: number, c: 1 | 3,
  fit: Fit, limit: number): Promise<Dataset> {
  const stride = c * h * w;
  const images = new Uint8Array(items.length * stride);
  const labels = new Uint8Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      labels[i] = items[i].label;
      try {
        await decodeInto(items[i], h, w, c, fit, images.subarray(i * stride, (i + 1) * stride));
      } catch (err) {
        next = items.length; // the other workers stop at their next image
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return makeDataset({ name, images, labels, n: items.length, c, h, w, classes: classes.slice() });
}

/** Per class, round(n·fraction) items chosen by a seeded shuffle go to test; file order is kept. */
function splitItems(items: Item[], numClasses: number, fraction: number, seed: number): { train: Item[]; test: Item[] } {
  const rng = new Rng(seed);
  const train: Item[] = [], test: Item[] = [];
  for (let label = 0; label < numClasses; label++) {
    const own = items.filter((it) => it.label === label);
    const held = new Set(rng.permutation(own.length).subarray(0, Math.round(own.length * fraction)));
    own.forEach((it, k) => (held.has(k) ? test : train).push(it));
  }
  return { train, test };
}

/** Loads root as an image-folder dataset; see FolderOptions. */
export async function loadImageFolder(root: string, opts: FolderOptions = {}): Promise<DatasetSplit> {
  const [h, w] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size ?? [32, 32];
  const c = opts.channels ?? 3;
  const fit: Fit = opts.fit ?? 'cover';
  const fraction = opts.testFraction ?? 0.2;
  const limit = opts.concurrency ?? Math.min(8, availableParallelism());
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new Error(`${root}: size must be positive integers, got ${h}×${w}`);
  if (c !== 1 && c !== 3) throw new Error(`${root}: channels must be 1 or 3, got ${c}`);
  if (!['cover', 'contain', 'fill'].includes(fit)) throw new Error(`${root}: fit must be cover, contain or fill, got ${fit}`);
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`${root}: testFraction must be in [0, 1), got ${fraction}`);
  if (!(Number.isInteger(limit) && limit >= 1)) throw new Error(`${root}: concurrency must be a positive integer, got ${limit}`);
  const name = 'folder';

  let train: Item[], test: Item[], classes: string[];
  const trainDir = join(root, 'train'), testDir = join(root, 'test');
  if (await isDir(trainDir) && await isDir(testDir)) {
    classes = await classFolders(trainDir);
    const extra = (await classFolders(testDir)).filter((k) => !classes.includes(k));
    if (extra.length > 0) throw new Error(`${testDir}: classes ${extra.join(', ')} are not in ${trainDir}`);
    train = await listItems(trainDir, classes, true);
    test = await listItems(testDir, classes, false);
  } else {
    classes = await classFolders(root);
    ({ train, test } = splitItems(await listItems(root, classes, true), classes.length, fraction, opts.seed ?? 0));
  }
  if (classes.length === 0) throw new Error(`${root}: no class folders; expected ${root}/<class>/<image>.png|jpg|jpeg|webp`);
  if (classes.length > 256) throw new Error(`${root}: ${classes.length} classes, but labels are one byte (at most 256)`);
  return {
    train: await decodeAll(`${name}-train`, train, classes, h, w, c, fit, limit),
    test: await decodeAll(`${name}-test`, test, classes, h, w, c, fit, limit),
  };
}
