/**
 * A folder dropped on the training page as a dataset: one subfolder per class, images inside.
 * Images are decoded by the browser, scaled to one square size (the first image's, at most 64
 * pixels), kept grey when every image is grey, and split 80/20 into training and test sets with a
 * fixed seed. Errors name the folder or file and say what a usable folder looks like.
 */
import { makeDataset, Rng, type Dataset, type DatasetSplit } from '../src/index.browser';

const IMAGE = /\.(png|jpe?g|webp|gif|bmp)$/i;
const SHAPE = 'a folder with one subfolder per class, each holding images (PNG, JPEG, WebP, GIF, BMP)';

function readAll(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const out: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    const next = () => reader.readEntries((batch) => {
      if (batch.length === 0) return resolve(out);
      out.push(...batch);
      next();
    }, reject);
    next();
  });
}

const fileOf = (e: FileSystemFileEntry) => new Promise<File>((resolve, reject) => e.file(resolve, reject));

export async function loadDroppedFolder(dt: DataTransfer, progress: (s: string) => void = () => {}): Promise<DatasetSplit> {
  const entry = dt.items[0]?.webkitGetAsEntry();
  if (!entry || !entry.isDirectory) throw new Error(`drop a folder, not ${entry ? `the file ${entry.name}` : 'this'}: ${SHAPE}`);
  const root = entry as FileSystemDirectoryEntry;
  const classDirs = (await readAll(root)).filter((e): e is FileSystemDirectoryEntry => e.isDirectory);
  const folders: { name: string; files: File[] }[] = [];
  for (const d of classDirs) {
    const imgs = (await readAll(d)).filter((e): e is FileSystemFileEntry => e.isFile && IMAGE.test(e.name));
    folders.push({ name: d.name, files: await Promise.all(imgs.map(fileOf)) });
  }
  return imagesToDataset(root.name, folders, progress);
}

/**
 * Class folders of image files as a dataset: folders without images are left out; the classes are
 * the rest, sorted by name; the images are decoded, scaled to one square size and split 80/20.
 */
export async function imagesToDataset(rootName: string, folders: readonly { name: string; files: readonly File[] }[], progress: (s: string) => void = () => {}): Promise<DatasetSplit> {
  const files: { file: File; label: number }[] = [];
  const classes: string[] = [];
  for (const d of [...folders].sort((a, b) => a.name.localeCompare(b.name))) {
    const imgs = d.files.filter((f) => IMAGE.test(f.name));
    if (imgs.length === 0) continue;
    for (const f of [...imgs].sort((a, b) => a.name.localeCompare(b.name))) files.push({ file: f, label: classes.length });
    classes.push(d.name);
  }
  const root = { name: rootName };
  if (files.length === 0) throw new Error(`the dropped folder "${root.name}" has no images in class subfolders; expected ${SHAPE}`);
  if (classes.length < 2) throw new Error(`the dropped folder "${root.name}" has images for one class only (${classes[0]}); a classifier needs at least two class subfolders`);
  if (classes.length > 255) throw new Error(`the dropped folder "${root.name}" has ${classes.length} classes; at most 255 are supported`);

  let size = 0;
  const bitmaps: ImageBitmap[] = [];
  for (let i = 0; i < files.length; i++) {
    if (i % 50 === 0) progress(`decoding images: ${i}/${files.length}`);
    const f = files[i].file;
    try {
      bitmaps.push(await createImageBitmap(f));
    } catch {
      throw new Error(`${root.name}/${classes[files[i].label]}/${f.name} cannot be decoded as an image; remove it or convert it to PNG or JPEG`);
    }
    size ||= Math.min(64, Math.max(bitmaps[0].width, bitmaps[0].height));
  }
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const rgba = bitmaps.map((b) => {
    ctx.clearRect(0, 0, size, size);
    ctx.drawImage(b, 0, 0, size, size);
    b.close();
    return ctx.getImageData(0, 0, size, size).data;
  });
  const grey = rgba.every((d) => { for (let p = 0; p < d.length; p += 4) if (d[p] !== d[p + 1] || d[p] !== d[p + 2]) return false; return true; });
  const c = grey ? 1 : 3, hw = size * size;
  const images = new Uint8Array(files.length * c * hw), labels = new Uint8Array(files.length);
  rgba.forEach((d, n) => {
    labels[n] = files[n].label;
    for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) images[(n * c + k) * hw + p] = d[4 * p + k];
  });
  // A fixed 80/20 split, shuffled with a fixed seed so a reload gives the same split.
  const order = Array.from(new Rng(12345).permutation(files.length));
  const nTest = Math.max(1, Math.round(files.length * 0.2));
  const pick = (idx: number[], name: string): Dataset => {
    const im = new Uint8Array(idx.length * c * hw), lb = new Uint8Array(idx.length);
    idx.forEach((src, i) => { im.set(images.subarray(src * c * hw, (src + 1) * c * hw), i * c * hw); lb[i] = labels[src]; });
    return makeDataset({ name, images: im, labels: lb, n: idx.length, c, h: size, w: size, classes });
  };
  return { train: pick(order.slice(nTest), `${root.name}-train`), test: pick(order.slice(0, nTest), `${root.name}-test`) };
}
