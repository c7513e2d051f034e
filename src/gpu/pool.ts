/**
 * A pool of storage buffers cached by size class, as tinygrad's and jax-js's allocators do: a
 * freed buffer goes back to a free list of its class and the next request of that class reuses it,
 * so a training step after the first allocates nothing. Classes are four per octave (a buffer is
 * at most 19% larger than asked for). Counters say what is in use and what is held.
 */
export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */

export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 4096) return b;
  const octave = 2 ** Math.floor(Math.log2(b));
  const step = octave / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  /** Bytes in buffers handed out and not yet released. */
  bytesInUse = 0;
  /** Bytes in every buffer the pool holds: in use plus cached. */
  bytesAllocated = 0;
  /** Buffers created over the pool's life (a steady training loop stops increasing it). */
  created = 0;
  /** The most bytes ever in use at once: the GPU memory high-water mark of the engine's tensors. */
  peakInUse = 0;

  constructor(private device: GPUDevice, private onOutOfMemory: (bytes: number) => void = () => {}) {}

  acquire(bytes: number): GPUBuffer {
    // Buffers come in size classes (so freed ones are reused); near the device's limit the class is
    // capped at maxBufferSize, which Engine.empty has checked `bytes` fits in.
    const size = Math.max(bytes, Math.min(sizeClass(bytes), this.device.limits.maxBufferSize));
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      this.device.pushErrorScope('out-of-memory');
      buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
      this.device.popErrorScope().then((err) => {
        if (err) {
          this.trim();
          this.onOutOfMemory(size);
        }
      });
      this.sizes.set(buffer, size);
      this.bytesAllocated += size;
      this.created++;
    }
    this.bytesInUse += size;
    if (this.bytesInUse > this.peakInUse) this.peakInUse = this.bytesInUse;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error('BufferPool.release: buffer was not acquired from this pool');
    this.bytesInUse -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** Destroys every cached (free) buffer: call on out-of-memory or to give memory back. */
  trim(): void {
    for (const [size, list] of this.free) {
      for (const b of list) b.destroy();
      this.bytesAllocated -= size * list.length;
    }
    this.free.clear();
  }
}
