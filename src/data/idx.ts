/**
 * IDX parsers (the MNIST / Fashion-MNIST format), from already-decompressed bytes; browser-safe.
 * Header: a big-endian u32 magic 0x000008DD (0x08 = unsigned byte, DD = number of dimensions),
 * then DD big-endian u32 sizes, then the data. Images are 0x00000803 (N, H, W), labels 0x00000801 (N).
 */
import { type Dataset, checkLabels, isGzip, makeDataset } from './dataset';
import type { NamedBytes } from './cifar';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const hex = (v: number) => '0x' + v.toString(16).padStart(8, '0');

/** Reads and checks the header: magic and dims; returns the dims and where the data starts. */
function header(file: NamedBytes, magic: number, what: string): { dims: number[]; start: number } {
  const { name, bytes } = file;
  if (isGzip(bytes)) throw new Error(`${name}: data is still gzip-compressed; decompress it before parsing`);
  const start = 4 + 4 * (magic & 0xff);
  const short = () => new Error(`${name}: ${bytes.length} bytes is too short for an IDX ${what} header (${start} bytes); truncated file?`);
  if (bytes.length < 4) throw short();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic) {
    const known = got === IDX_IMAGES_MAGIC ? ' (that is an images file)' : got === IDX_LABELS_MAGIC ? ' (that is a labels file)' : '';
    throw new Error(`${name}: magic ${hex(got)}, expected ${hex(magic)} (${what})${known}`);
  }
  if (bytes.length < start) throw short();
  const dims: number[] = [];
  for (let d = 0; d < (magic & 0xff); d++) dims.push(view.getUint32(4 + 4 * d, false));
  return { dims, start };
}

/** Parses an IDX3 u8 images file into NCHW bytes with c = 1. */
export function parseIdxImages(file: NamedBytes): { n: number; h: number; w: number; pixels: Uint8Array } {
  const { dims: [n, h, w], start } = header(file, IDX_IMAGES_MAGIC, 'images');
  const expected = n * h * w;
  const held = file.bytes.length - start;
  if (held !== expected) {
    throw new Error(`${file.name}: header says ${n} images of ${h}×${w} but file holds ${held} bytes of pixels ` +
      `(expected ${expected})${held < expected ? '; truncated file?' : ''}`);
  }
  return { n, h, w, pixels: file.bytes.slice(start) };
}

/** Parses an IDX1 u8 labels file; every label must be below numClasses. */
export function parseIdxLabels(file: NamedBytes, numClasses: number): Uint8Array {
  const { dims: [n], start } = header(file, IDX_LABELS_MAGIC, 'labels');
  const held = file.bytes.length - start;
  if (held !== n) {
    throw new Error(`${file.name}: header says ${n} labels but file holds ${held} bytes of labels` +
      `${held < n ? '; truncated file?' : ''}`);
  }
  const labels = file.bytes.slice(start);
  checkLabels(labels, numClasses, file.name);
  return labels;
}

/** A dataset from an images file and its labels file. */
export function parseIdx(name: string, classes: readonly string[], images: NamedBytes, labels: NamedBytes): Dataset {
  const img = parseIdxImages(images);
  const lab = parseIdxLabels(labels, classes.length);
  if (lab.length !== img.n) {
    throw new Error(`${images.name} holds ${img.n} images but ${labels.name} holds ${lab.length} labels`);
  }
  return makeDataset({ name, images: img.pixels, labels: lab, n: img.n, c: 1, h: img.h, w: img.w, classes: classes.slice() });
}
