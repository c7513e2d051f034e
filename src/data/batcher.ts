/**
 * GpuBatcher: batches for training and evaluation made on the GPU (shaders/batch.wgsl). The
 * dataset's uint8 pixels go to the GPU once per engine, shared by every batcher over the same
 * Dataset (src/data/resident.ts), four to a u32, with the labels as u32; each epoch's
 * order is one upload; each batch is one dispatch that gathers, crops, flips and normalises, with
 * its augmentation drawn on the GPU from a counter-based hash of (seed, epoch, position), so a
 * step costs no CPU work and no upload, and the same seed gives the same batches on any machine.
 *
 * A dataset too large to keep on the GPU (more than min(maxStorageBufferBindingSize,
 * maxResidentBytes ?? 1 GiB)) is streamed instead: per batch the CPU gathers that batch's images
 * and labels, in the same order, into staging buffers and the same kernel reads them through an
 * identity order. The hash depends on the position in the epoch only, so both paths agree exactly.
 *
 * The returned tensors belong to the Graph passed to batch(): disposing the step's graph frees
 * them, so an epoch allocates nothing after its first batch.
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { Rng } from '../util/rng';
import type { Dataset } from './dataset';
import { acquireResident, fitsResident, releaseResident, DEFAULT_RESIDENT_BYTES } from './resident';
import { BATCH } from '../../shaders/kernels';

export interface AugmentOptions {
  /** Zero padding in pixels for the random crop (torchvision RandomCrop(H, padding=crop)); 0 = off. */
  crop: number;
  /** Random horizontal flip with probability 1/2. */
  flip: boolean;
}

export interface BatcherOptions {
  batchSize: number;
  shuffle: boolean;
  /** null: no augmentation (evaluation). Training on CIFAR uses { crop: 4, flip: true }. */
  augment: AugmentOptions | null;
  /** Per channel, on pixels scaled to [0, 1]: x = (v/255 − mean) / std. */
  mean: readonly number[];
  std: readonly number[];
  seed: number;
  /** Skip the last partial batch (training); default false (evaluation sees every sample). */
  dropLast?: boolean;
  /** Largest dataset kept on the GPU, in bytes (default 1 GiB); larger ones are streamed. */
  maxResidentBytes?: number;
}

export interface Batch {
  /** f32 [B, C, H, W], normalised and augmented. */
  x: Tensor;
  /** u32 [B]. */
  labels: Tensor;
  /** The dataset index of each sample, in batch order. */
  indices: number[];
}

/** Chris Wellons' lowbias32, the hash batch.wgsl uses (Math.imul wraps as WGSL's u32 multiply). */
export function lowbias32(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The seed of an epoch's shuffle: new Rng(mix(seed, epoch)).permutation(n). */
export function mix(seed: number, epoch: number): number {
  return lowbias32(lowbias32((seed ^ 0x85ebca6b) >>> 0) ^ epoch);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class GpuBatcher {
  readonly batchSize: number;
  /** True when the whole dataset lives on the GPU; false when batches are streamed. */
  readonly resident: boolean;
  private readonly pad: number;
  private readonly flip: boolean;
  private readonly seed: number;
  private readonly dropLast: boolean;
  private readonly stride: number;
  private order: Uint32Array;
  private current = -1;
  private norm: Tensor;
  // Resident path: the dataset and the epoch's order.
  private images: Tensor | null = null;
  private labels: Tensor | null = null;
  private orderT: Tensor | null = null;
  // Streaming path: staging for one batch, and the identity order the kernel reads it through.
  private stageBytes: Uint8Array | null = null;
  private stageWords: Uint32Array | null = null;
  private stageLabels: Uint32Array | null = null;
  private stageImagesT: Tensor | null = null;
  private stageLabelsT: Tensor | null = null;
  private identityT: Tensor | null = null;
  private destroyed = false;

  constructor(readonly engine: Engine, readonly dataset: Dataset, readonly opts: BatcherOptions) {
    const { n, c, h, w } = dataset;
    const what = `GpuBatcher(${dataset.name})`;
    const B = opts.batchSize;
    if (!Number.isInteger(B) || B < 1 || B > n) throw new Error(`${what}: batchSize ${B} is not an integer in 1..${n} (the dataset's size)`);
    if (opts.mean.length !== c) throw new Error(`${what}: mean has ${opts.mean.length} values [${opts.mean.join(', ')}], the images have ${c} channels`);
    if (opts.std.length !== c) throw new Error(`${what}: std has ${opts.std.length} values [${opts.std.join(', ')}], the images have ${c} channels`);
    opts.mean.forEach((m, ch) => {
      if (!Number.isFinite(m)) throw new Error(`${what}: mean[${ch}] = ${m} is not finite`);
    });
    opts.std.forEach((s, ch) => {
      if (!(s > 0) || !Number.isFinite(s)) throw new Error(`${what}: std[${ch}] = ${s} must be positive and finite`);
    });
    const crop = opts.augment?.crop ?? 0;
    if (!Number.isInteger(crop) || crop < 0) throw new Error(`${what}: crop padding ${crop} is not a non-negative integer`);
    if (!Number.isInteger(opts.seed)) throw new Error(`${what}: seed ${opts.seed} is not an integer`);
    const budget = opts.maxResidentBytes ?? DEFAULT_RESIDENT_BYTES;
    if (!(budget >= 0)) throw new Error(`${what}: maxResidentBytes ${budget} is not a non-negative number`);
    if (!LITTLE_ENDIAN) throw new Error(`${what}: packing pixels into u32 assumes a little-endian host`);

    this.batchSize = B;
    this.pad = crop;
    this.flip = opts.augment?.flip ?? false;
    this.seed = opts.seed >>> 0;
    this.dropLast = opts.dropLast ?? false;
    this.stride = c * h * w;
    this.order = Uint32Array.from({ length: n }, (_, i) => i);

    const scaleShift = new Float32Array(2 * c);
    for (let ch = 0; ch < c; ch++) {
      scaleShift[ch] = 1 / (255 * opts.std[ch]);
      scaleShift[c + ch] = -opts.mean[ch] / opts.std[ch];
    }
    this.norm = engine.tensor(scaleShift, [2 * c]);

    this.resident = fitsResident(engine, dataset, budget);
    if (this.resident) {
      // One copy per engine and dataset, shared with every other batcher over it (resident.ts).
      ({ images: this.images, labels: this.labels } = acquireResident(engine, dataset));
      this.orderT = engine.empty([n], 'u32');
      engine.upload(this.orderT, this.order);
    } else {
      const stageWords = Math.ceil((B * this.stride) / 4);
      this.stageBytes = new Uint8Array(stageWords * 4);
      this.stageWords = new Uint32Array(this.stageBytes.buffer);
      this.stageLabels = new Uint32Array(B);
      this.stageImagesT = engine.empty([stageWords], 'u32');
      this.stageLabelsT = engine.empty([B], 'u32');
      this.identityT = engine.tensor(Uint32Array.from({ length: B }, (_, i) => i), [B]);
    }
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.n, B = this.batchSize;
    return this.dropLast ? Math.floor(n / B) : Math.ceil(n / B);
  }

  /** The epoch startEpoch() began, or −1 before the first. */
  get epoch(): number {
    return this.current;
  }

  /** Bytes of the dataset kept on the GPU (0 when streaming). */
  get residentBytes(): number {
    return this.resident ? this.images!.bytes + this.labels!.bytes : 0;
  }

  /** Sets the epoch's order (seeded permutation, or identity without shuffle): one upload. */
  startEpoch(epoch: number): void {
    this.alive();
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 2 ** 32) throw new Error(`GpuBatcher.startEpoch: epoch ${epoch} is not an integer in 0..2^32−1`);
    this.current = epoch;
    if (!this.opts.shuffle) return;
    this.order = new Rng(mix(this.seed, epoch)).permutation(this.dataset.n);
    if (this.orderT) this.engine.upload(this.orderT, this.order);
  }

  /**
   * The i-th batch of the current epoch, owned by g: one dispatch (plus two staging uploads when
   * streaming).
   */
  batch(i: number, g: Graph): Batch {
    this.alive();
    if (this.current < 0) throw new Error('GpuBatcher.batch: call startEpoch(epoch) first');
    const count = this.batchesPerEpoch;
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new Error(`GpuBatcher.batch: batch ${i} is not in 0..${count - 1} (${count} per epoch)`);
    const { n, c, h, w } = this.dataset;
    const start = i * this.batchSize;
    const b = Math.min(this.batchSize, n - start);
    const indices = Array.from(this.order.subarray(start, start + b));

    let images = this.images, labels = this.labels, order = this.orderT, orderBase = start;
    if (!this.resident) {
      const ds = this.dataset, stride = this.stride;
      for (let k = 0; k < b; k++) {
        const s = indices[k];
        this.stageBytes!.set(ds.images.subarray(s * stride, (s + 1) * stride), k * stride);
        this.stageLabels![k] = ds.labels[s];
      }
      this.engine.upload(this.stageImagesT!, this.stageWords!);
      this.engine.upload(this.stageLabelsT!, this.stageLabels!);
      images = this.stageImagesT;
      labels = this.stageLabelsT;
      order = this.identityT;
      orderBase = 0;
    }

    const e = this.engine;
    const x = g.empty([b, c, h, w]);
    const y = g.empty([b], 'u32');
    x.name = 'input';
    y.name = 'labels';
    e.labelled('data:batch', () => e.run(BATCH, 'gather', {
      params: {
        total: b * this.stride, C: c, H: h, W: w, order_base: orderBase, pos_base: start,
        pad: this.pad, flip: this.flip ? 1 : 0, seed: this.seed, epoch: this.current,
      },
      bindings: { images: images!, labels: labels!, order: order!, norm: this.norm, out: x, labels_out: y },
      invocations: b * this.stride,
    }));
    return { x, labels: y, indices };
  }

  /** Frees the GPU copies (dataset, order, staging). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of [this.norm, this.orderT, this.stageImagesT, this.stageLabelsT, this.identityT]) t?.dispose();
    if (this.images) releaseResident(this.engine, this.dataset);
    this.images = this.labels = null;
  }

  private alive(): void {
    if (this.destroyed) throw new Error(`GpuBatcher(${this.dataset.name}) used after destroy()`);
  }
}
