/**
 * A tensor is a shape over a range of a GPU buffer (f32, or u32 for labels and indices), in
 * row-major order (NCHW for activations, OIHW for conv weights). It owns its buffer when it came
 * from the pool, or is a view (parameters and their gradients are views into one flat buffer).
 * `grad` is accumulated by backward rules: `gradValid` false means "zero", so zeroing gradients
 * costs no GPU work.
 */
import type { Engine } from './gpu/engine';

export type DType = 'f32' | 'u32';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly size: number;
  grad: Tensor | null = null;
  /** False: treat grad as zero (it holds stale values or none); the next gradient write overwrites. */
  gradValid = false;
  disposed = false;

  constructor(
    readonly engine: Engine,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
    /** Byte offset into buffer. */
    readonly offset: number,
    readonly dtype: DType,
    public requiresGrad: boolean,
    /** Whether dispose() returns the buffer to the pool (false for views). */
    private readonly pooled: boolean,
    /** Parameter name (torchvision's) or the op that made it. */
    public name = '',
  ) {
    this.size = numel(shape);
  }

  get bytes(): number {
    return this.size * 4;
  }

  binding(): GPUBufferBinding {
    this.live('used');
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.bytes) };
  }

  /**
   * Copies the values back to the CPU (waits for all submitted work). A disposed tensor's pooled
   * buffer may already hold another tensor's values, so reading one throws.
   */
  async read(): Promise<Float32Array> {
    this.live('read');
    const bytes = await this.engine.readBuffer(this.buffer, this.offset, this.bytes);
    return new Float32Array(bytes);
  }

  async readU32(): Promise<Uint32Array> {
    this.live('read');
    const bytes = await this.engine.readBuffer(this.buffer, this.offset, this.bytes);
    return new Uint32Array(bytes);
  }

  private live(what: string): void {
    if (this.disposed) {
      throw new Error(`tensor ${this.name || shapeStr(this.shape)} ${what} after dispose(): its buffer went back to the pool ` +
        'and may hold another tensor\'s values; read it before disposing it (or before disposing the Graph that made it)');
    }
  }

  /** Returns the buffer to the pool (views: only marks disposed). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pooled) this.engine.pool.release(this.buffer);
  }
}
