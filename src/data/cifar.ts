/**
 * CIFAR-10 and CIFAR-100 "binary version" parsers (from bytes; browser-safe). A CIFAR-10 record is
 * 1 label byte then 3072 pixel bytes (3×32×32 planar R, G, B, rows top to bottom), which is
 * already one NCHW image; a CIFAR-100 record has a coarse and a fine label byte before the pixels.
 */
import {
  type Dataset, CIFAR10_CLASSES, CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES, concat, makeDataset,
} from './dataset';

export const CIFAR_PIXELS = 3 * 32 * 32;

/** The folder the archive unpacks to, and its files. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
export const CIFAR10_TRAIN_FILES: readonly string[] = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILES: readonly string[] = ['test_batch.bin'];
export const CIFAR100_FOLDER = 'cifar-100-binary';
export const CIFAR100_TRAIN_FILES: readonly string[] = ['train.bin'];
export const CIFAR100_TEST_FILES: readonly string[] = ['test.bin'];

export type CifarVariant = 'cifar10' | 'cifar100-fine' | 'cifar100-coarse';

/** A file's name (for errors) and its bytes. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

interface Layout { labelBytes: number; labelAt: number; classes: readonly string[] }

const LAYOUTS: Record<CifarVariant, Layout> = {
  'cifar10': { labelBytes: 1, labelAt: 0, classes: CIFAR10_CLASSES },
  'cifar100-coarse': { labelBytes: 2, labelAt: 0, classes: CIFAR100_COARSE_CLASSES },
  'cifar100-fine': { labelBytes: 2, labelAt: 1, classes: CIFAR100_CLASSES },
};

/** Parses one batch file; errors name the file, the record and what is wrong. */
export function parseCifarBatch(file: NamedBytes, variant: CifarVariant): Dataset {
  const { labelBytes, labelAt, classes } = LAYOUTS[variant];
  const record = labelBytes + CIFAR_PIXELS;
  const { name, bytes } = file;
  if (bytes.length === 0) throw new Error(`${name}: file is empty, expected ${record}-byte records`);
  if (bytes.length % record !== 0) {
    throw new Error(`${name}: size ${bytes.length} is not a multiple of the ${record}-byte record ` +
      `(${Math.floor(bytes.length / record)} whole records and ${bytes.length % record} bytes left over; ` +
      `truncated file, or not the binary version of ${variant === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'}?)`);
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * record;
    for (let k = 0; k < labelBytes; k++) {
      const limit = variant === 'cifar10' ? 10 : k === 0 ? 20 : 100;
      if (bytes[at + k] >= limit) {
        const which = variant === 'cifar10' ? 'label' : k === 0 ? 'coarse label' : 'fine label';
        throw new Error(`${name}: ${which} ${bytes[at + k]} of record ${i} (byte offset ${at + k}) is out of range 0..${limit - 1}`);
      }
    }
    labels[i] = bytes[at + labelAt];
    images.set(bytes.subarray(at + labelBytes, at + record), i * CIFAR_PIXELS);
  }
  return makeDataset({ name, images, labels, n, c: 3, h: 32, w: 32, classes: classes.slice() });
}

/** Parses and joins batch files, in the order given, into one dataset called `name`. */
export function parseCifar(name: string, files: NamedBytes[], variant: CifarVariant): Dataset {
  return concat(name, files.map((f) => parseCifarBatch(f, variant)));
}
