/**
 * Datasets kept on an engine's GPU, uploaded once and shared: every GpuBatcher over the same
 * Dataset object on the same engine (a run's training batches, each of its evaluations, a second
 * run in lockstep) reads one copy. Users take a reference with acquireResident() and give it back
 * with releaseResident(); the copy is freed when the last reference goes. A Trainer holds a
 * reference to its training and test sets for its whole life, so its evaluations upload nothing.
 *
 * Pixels are packed four to a u32 (little-endian), labels one per u32. The buffers are made
 * outside the pool at their exact size: the pool rounds up by as much as 19% (30 MB on CIFAR-10)
 * and would keep the memory cached after release.
 */
import type { Engine } from '../gpu/engine';
import { STORAGE_USAGE } from '../gpu/pool';
import { Tensor } from '../tensor';
import type { Dataset } from './dataset';

export interface ResidentDataset {
  /** ⌈n·c·h·w / 4⌉ u32 words of pixel bytes. */
  images: Tensor;
  /** n u32 labels. */
  labels: Tensor;
}

interface Entry extends ResidentDataset { users: number }

// Per engine, keyed by the Dataset object itself (a subset is a different object, a different copy).
const copies = new WeakMap<Engine, Map<Dataset, Entry>>();

/** The largest dataset kept on the GPU by default (1 GiB); larger ones are streamed per batch. */
export const DEFAULT_RESIDENT_BYTES = 2 ** 30;

/**
 * Whether a dataset is kept on the GPU: its copy fits one storage binding and one buffer of this
 * device, and the budget (default 1 GiB). GpuBatcher streams the ones that do not.
 */
export function fitsResident(engine: Engine, ds: Dataset, maxResidentBytes = DEFAULT_RESIDENT_BYTES): boolean {
  const pixels = Math.ceil((ds.n * ds.c * ds.h * ds.w) / 4) * 4;
  const limits = engine.device.limits;
  return pixels <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) && residentBytes(ds) <= maxResidentBytes;
}

/** Bytes the resident copy of a dataset takes. */
export function residentBytes(ds: Dataset): number {
  return Math.ceil((ds.n * ds.c * ds.h * ds.w) / 4) * 4 + ds.n * 4;
}

/** The dataset's GPU copy, uploaded on first use; pair every call with releaseResident(). */
export function acquireResident(engine: Engine, ds: Dataset): ResidentDataset {
  let map = copies.get(engine);
  if (!map) copies.set(engine, (map = new Map()));
  let entry = map.get(ds);
  if (!entry) {
    const words = Math.ceil((ds.n * ds.c * ds.h * ds.w) / 4);
    const images = exactTensor(engine, ds, words, `${ds.name}.images`);
    engine.upload(images, packBytes(ds.images, words));
    const labels = exactTensor(engine, ds, ds.n, `${ds.name}.labels`);
    engine.upload(labels, Uint32Array.from(ds.labels));
    map.set(ds, (entry = { images, labels, users: 0 }));
  }
  entry.users++;
  return { images: entry.images, labels: entry.labels };
}

/** Gives a reference back; the last one frees the copy (after the work that reads it is submitted). */
export function releaseResident(engine: Engine, ds: Dataset): void {
  const map = copies.get(engine), entry = map?.get(ds);
  if (!map || !entry) throw new Error(`releaseResident: ${ds.name} is not resident on this engine (released twice?)`);
  if (--entry.users > 0) return;
  map.delete(ds);
  engine.flush();
  for (const t of [entry.images, entry.labels]) {
    t.dispose();
    t.buffer.destroy();
  }
}

/** How many users hold the dataset's copy on this engine (0: not resident). */
export function residentUsers(engine: Engine, ds: Dataset): number {
  return copies.get(engine)?.get(ds)?.users ?? 0;
}

function exactTensor(engine: Engine, ds: Dataset, words: number, name: string): Tensor {
  const device = engine.device;
  device.pushErrorScope('out-of-memory');
  const buffer = device.createBuffer({ size: Math.max(4, words * 4), usage: STORAGE_USAGE, label: name });
  void device.popErrorScope().then((err) => {
    if (err) engine.fail(new Error(`critdamp: out of GPU memory keeping ${ds.name} on the GPU (${words * 4} bytes); pass a smaller maxResidentBytes to stream it`));
  });
  return new Tensor(engine, [words], buffer, 0, 'u32', false, false, name);
}

/** The pixel bytes as little-endian u32 words, zero-padded to `words`; no copy when aligned. */
function packBytes(bytes: Uint8Array, words: number): Uint32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.length === words * 4) return new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  const padded = new Uint8Array(words * 4);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}
