// Test helpers for the data loaders: temp folders, and writers of the exact on-disk formats
// (CIFAR binary records, IDX files, ustar archives) with pixel values known in advance.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp folder; `cleanup` removes it. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `critdamp-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The pixel byte a generated record holds at (channel, y, x): distinct per file, record and place. */
export function pixel(file: number, record: number, ch: number, y: number, x: number): number {
  return (file * 37 + record * 11 + ch * 101 + y * 7 + x * 3) & 0xff;
}

/** CIFAR records: each the label bytes, then 3×32×32 planar pixels from pixel(file, i, …). */
export function cifarBytes(file: number, labels: number[][]): Uint8Array {
  const rec = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((lab, i) => {
    out.set(lab, i * rec);
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) out[i * rec + lab.length + ch * 1024 + y * 32 + x] = pixel(file, i, ch, y, x);
      }
    }
  });
  return out;
}

function u32be(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** An IDX file: magic, dims, then data. */
export function idxBytes(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const head = [...u32be(magic), ...dims.flatMap(u32be)];
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** n images of h×w whose pixel (i, y, x) is pixel(seed, i, 0, y, x). */
export function idxImages(seed: number, n: number, h: number, w: number): Uint8Array {
  const px = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(i * h + y) * w + x] = pixel(seed, i, 0, y, x);
  return idxBytes(0x803, [n, h, w], px);
}

const enc = new TextEncoder();

/** One 512-byte ustar header. */
function tarHeader(name: string, size: number, type: string, prefix = ''): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, text: string) => h.set(enc.encode(text), at);
  put(0, name.slice(0, 100));
  put(100, '0000644\0');
  put(108, '0000000\0');
  put(116, '0000000\0');
  put(124, size.toString(8).padStart(11, '0') + '\0');
  put(136, '14700000000\0');
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  put(345, prefix);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

export interface TarInput { name: string; data?: Uint8Array; type?: '0' | '5' | 'L-long' | 'prefix' }

/**
 * A tar archive. type '5' writes a directory; 'L-long' writes the name through a GNU long-name
 * record; 'prefix' splits the name into the ustar prefix and name fields.
 */
export function makeTar(files: TarInput[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const pad = (d: Uint8Array) => {
    const out = new Uint8Array(Math.ceil(d.length / 512) * 512);
    out.set(d);
    return out;
  };
  for (const f of files) {
    const data = f.data ?? new Uint8Array(0);
    if (f.type === '5') {
      blocks.push(tarHeader(f.name, 0, '5'));
    } else if (f.type === 'L-long') {
      const nameBytes = enc.encode(f.name + '\0');
      blocks.push(tarHeader('././@LongLink', nameBytes.length, 'L'), pad(nameBytes));
      blocks.push(tarHeader(f.name.slice(0, 99), data.length, '0'), pad(data));
    } else if (f.type === 'prefix') {
      const cut = f.name.lastIndexOf('/');
      blocks.push(tarHeader(f.name.slice(cut + 1), data.length, '0', f.name.slice(0, cut)), pad(data));
    } else {
      blocks.push(tarHeader(f.name, data.length, '0'), pad(data));
    }
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of blocks) { out.set(b, at); at += b.length; }
  return out;
}

/** Runs fn and returns the message it throws (async or not); fails if it does not throw. */
export async function errorOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, but none was thrown');
}
