/**
 * Node-only dataset loading: finds a dataset's files on disk (or downloads CIFAR when allowed),
 * reads them (gunzipping when they start with 1f 8b) and hands the bytes to the browser-safe
 * parsers. `loadDataset` is the one entry point the trainer and the CLI use.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, CIFAR100_TEST_FILES, CIFAR100_TRAIN_FILES, type NamedBytes, parseCifar,
} from './cifar';
import { type Dataset, type DatasetSplit, FASHION_MNIST_CLASSES, MNIST_CLASSES, isGzip } from './dataset';
import { type ArchiveSpec, CIFAR10_ARCHIVE, CIFAR100_ARCHIVE, type FetchLike, downloadArchive, gunzipNamed } from './download.node';
import { parseIdx } from './idx';
import { type FolderOptions, loadImageFolder } from './imagefolder.node';

export type DatasetName = 'cifar10' | 'cifar100' | 'fashion-mnist' | 'mnist' | 'folder';

export interface LoadOptions extends FolderOptions {
  /** Where the dataset is (or, with download, where it goes). Required for 'folder'. */
  dir?: string;
  /** CIFAR only: download the archive when the files are not found. */
  download?: boolean;
  /** Injectable fetch for the download (tests); defaults to global fetch. */
  fetch?: FetchLike;
  /** CIFAR-100 only: which label byte to use (default 'fine'). */
  labels?: 'fine' | 'coarse';
  /** Progress messages (default: stderr). */
  log?: (msg: string) => void;
}

/** Where Debian's dataset-* packages install. */
export const SYSTEM_DATA_DIR = '/usr/share/datasets';

/** Where downloads go when no dir is given: $CRITDAMP_DATA, else $XDG_CACHE_HOME/critdamp or ~/.cache/critdamp. */
export function defaultDataDir(): string {
  if (process.env.CRITDAMP_DATA) return resolve(process.env.CRITDAMP_DATA);
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'critdamp');
}

/**
 * Folders that may hold a dataset, in search order: the given dir (itself and its known
 * subfolders) and nothing else; without one, $CRITDAMP_DATA (itself and subfolders), then the
 * subfolders of the download cache and of /usr/share/datasets.
 */
export function candidateDirs(subfolders: readonly string[], dir?: string): string[] {
  const out: string[] = [];
  const add = (root: string, self: boolean) => {
    if (self) out.push(root);
    for (const s of subfolders) out.push(join(root, s));
  };
  if (dir !== undefined) {
    add(resolve(dir), true);
  } else {
    if (process.env.CRITDAMP_DATA) add(resolve(process.env.CRITDAMP_DATA), true);
    add(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'critdamp'), false);
    add(SYSTEM_DATA_DIR, false);
  }
  return [...new Set(out)];
}

const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };

/** Reads a file, gunzipping it when it starts with the gzip magic; errors name the file. */
export async function readDataFile(path: string): Promise<NamedBytes> {
  let bytes: Uint8Array;
  try {
    const buf = await readFile(path);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as Error).message})`);
  }
  return { name: path, bytes: isGzip(bytes) ? gunzipNamed(bytes, path) : bytes };
}

/** The first of `names` (each also tried with .gz) present in dir, or null. */
function findFile(dir: string, names: readonly string[]): string | null {
  for (const name of names) {
    for (const p of [join(dir, name), join(dir, name + '.gz')]) if (existsSync(p)) return p;
  }
  return null;
}

// ---- CIFAR ----------------------------------------------------------------------------------

interface CifarSpec { archive: ArchiveSpec; train: readonly string[]; test: readonly string[] }
const CIFAR: Record<'cifar10' | 'cifar100', CifarSpec> = {
  cifar10: { archive: CIFAR10_ARCHIVE, train: CIFAR10_TRAIN_FILES, test: CIFAR10_TEST_FILES },
  cifar100: { archive: CIFAR100_ARCHIVE, train: CIFAR100_TRAIN_FILES, test: CIFAR100_TEST_FILES },
};

/** CIFAR-10 or CIFAR-100 (binary version) from dir, which may be the batches folder or hold it. */
export async function loadCifar(which: 'cifar10' | 'cifar100', opts: LoadOptions = {}): Promise<DatasetSplit> {
  const spec = CIFAR[which];
  const all = [...spec.train, ...spec.test];
  const dirs = candidateDirs([spec.archive.folder], opts.dir);
  let found = dirs.find((d) => isDir(d) && all.some((f) => findFile(d, [f]) !== null));
  if (found === undefined) {
    if (!opts.download) {
      throw new Error(`${spec.archive.title} not found; looked for ${all.join(', ')} in: ${dirs.join(', ')}. ` +
        `Pass download: true (--download) to fetch ${spec.archive.url} into ` +
        `${join(opts.dir !== undefined ? resolve(opts.dir) : defaultDataDir(), spec.archive.folder)}, ` +
        `or place the binary files in a folder and pass it as dir (on the command line: --data-dir DIR).`);
    }
    found = await downloadArchive(spec.archive, opts.dir !== undefined ? resolve(opts.dir) : defaultDataDir(),
      { fetch: opts.fetch, log: opts.log });
  }
  const dir = found;
  const read = (names: readonly string[]) => Promise.all(names.map((f) => {
    const p = findFile(dir, [f]);
    if (p === null) throw new Error(`${join(dir, f)}: missing (the folder has other ${spec.archive.title} files, so this one is expected)`);
    return readDataFile(p);
  }));
  const variant = which === 'cifar10' ? 'cifar10' : opts.labels === 'coarse' ? 'cifar100-coarse' : 'cifar100-fine';
  const train = parseCifar(`${which}-train`, await read(spec.train), variant);
  const test = parseCifar(`${which}-test`, await read(spec.test), variant);
  return { train, test };
}

// ---- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------

const IDX_FILES = {
  trainImages: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'],
  trainLabels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'],
  testImages: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'],
  testLabels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'],
} as const;

const IDX_SETS = {
  'fashion-mnist': {
    title: 'Fashion-MNIST', classes: FASHION_MNIST_CLASSES, subfolders: ['fashion-mnist', 'FashionMNIST/raw', 'fashion_mnist'],
    hint: 'Install it with `apt-get install dataset-fashion-mnist` (it goes to /usr/share/datasets/fashion-mnist), or',
  },
  'mnist': {
    title: 'MNIST', classes: MNIST_CLASSES, subfolders: ['mnist', 'MNIST/raw'],
    hint: 'Download the four files from the MNIST site, and',
  },
} as const;

export type IdxFileKind = keyof typeof IDX_FILES;

/** Where the four IDX files of MNIST or Fashion-MNIST are (raw or gzipped), searched as loadDataset does. */
export function findIdxFiles(which: 'fashion-mnist' | 'mnist', where?: string): Record<IdxFileKind, string> {
  const set = IDX_SETS[which];
  const kinds = Object.keys(IDX_FILES) as (keyof typeof IDX_FILES)[];
  const dirs = candidateDirs(set.subfolders, where);
  const dir = dirs.find((d) => isDir(d) && kinds.some((k) => findFile(d, IDX_FILES[k]) !== null));
  if (dir === undefined) {
    throw new Error(`${set.title} not found; looked for ${IDX_FILES.trainImages[0]}[.gz] and the other IDX files in: ` +
      `${dirs.join(', ')}. ${set.hint} put the files in a folder and pass it as dir (on the command line: --data-dir DIR) or set CRITDAMP_DATA.`);
  }
  const paths = {} as Record<keyof typeof IDX_FILES, string>;
  for (const k of kinds) {
    const p = findFile(dir, IDX_FILES[k]);
    if (p === null) throw new Error(`${join(dir, IDX_FILES[k][0])}[.gz]: missing (${dir} holds other ${set.title} files)`);
    paths[k] = p;
  }
  return paths;
}

/** MNIST or Fashion-MNIST from the four IDX files (raw or gzipped). */
export async function loadIdxDataset(which: 'fashion-mnist' | 'mnist', opts: LoadOptions = {}): Promise<DatasetSplit> {
  const set = IDX_SETS[which];
  const paths = findIdxFiles(which, opts.dir);
  const [ti, tl, vi, vl] = await Promise.all(
    [paths.trainImages, paths.trainLabels, paths.testImages, paths.testLabels].map(readDataFile));
  const train = parseIdx(`${which}-train`, set.classes, ti, tl);
  const test = parseIdx(`${which}-test`, set.classes, vi, vl);
  return { train, test };
}

// ---- the entry point ------------------------------------------------------------------------

function checkSize(name: string, ds: Dataset, size: LoadOptions['size']): void {
  if (size === undefined) return;
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (h !== ds.h || w !== ds.w) {
    throw new Error(`loadDataset(${name}): size ${h}×${w} is not available; its images are ${ds.h}×${ds.w} ` +
      `(only 'folder' resizes)`);
  }
}

/** Loads a dataset's train and test splits. See LoadOptions for where each looks. */
export async function loadDataset(name: DatasetName, opts: LoadOptions = {}): Promise<DatasetSplit> {
  let split: DatasetSplit;
  switch (name) {
    case 'cifar10':
    case 'cifar100':
      split = await loadCifar(name, opts);
      break;
    case 'fashion-mnist':
    case 'mnist':
      split = await loadIdxDataset(name, opts);
      break;
    case 'folder':
      if (opts.dir === undefined) throw new Error(`the 'folder' dataset needs a folder of <class>/<image> files: pass it as dir (on the command line: --data-dir DIR)`);
      return loadImageFolder(opts.dir, opts);
    default:
      throw new Error(`unknown dataset ${JSON.stringify(name)}; expected cifar10, cifar100, fashion-mnist, mnist or folder`);
  }
  checkSize(name, split.train, opts.size);
  return split;
}

