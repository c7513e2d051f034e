/**
 * Flat parameter storage (llm.c's layout): every trainable parameter is a view into one buffer,
 * every gradient a view at the same offset into a second, so an optimizer step over all of them is
 * one pass. BN running statistics live in a third. Each tensor starts at a multiple of the
 * device's storage-offset alignment (256 bytes), so any one can be bound on its own.
 */
import type { Engine } from '../gpu/engine';
import { STORAGE_USAGE } from '../gpu/pool';
import { Tensor, numel, shapeStr } from '../tensor';
import type { BatchNormState } from '../ops/batch_norm';

export type ParamKind = 'conv' | 'conv_bias' | 'linear_weight' | 'linear_bias' | 'bn_weight' | 'bn_bias';

export interface ParamSpec {
  name: string;
  shape: number[];
  kind: ParamKind;
}

export interface Segment {
  name: string;
  kind: ParamKind;
  /** Offset and length in floats within the flat buffers. */
  offset: number;
  length: number;
}

function layout(align: number, specs: { name: string; shape: number[] }[]): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let at = 0;
  for (const s of specs) {
    offsets.push(at);
    at += Math.ceil(Math.max(1, numel(s.shape)) / align) * align;
  }
  return { offsets, total: Math.max(at, align) };
}

export class ParamStore {
  readonly params = new Map<string, Tensor>();
  readonly buffers = new Map<string, Tensor>();
  readonly segments: Segment[] = [];
  /** Floats in the flat parameter (and gradient) buffer, padding included. */
  readonly length: number;
  /** Every tensor's offset is a multiple of this many floats (the storage-offset alignment, a power of two ≥ 8). */
  readonly align: number;
  readonly data: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly stats: GPUBuffer;
  /**
   * Each BN layer's state by module path (`layer1.0.bn1`): running statistics (views into
   * `stats`), its own num_batches_tracked, and whether training updates them.
   */
  readonly batchNorm = new Map<string, BatchNormState>();

  constructor(readonly engine: Engine, readonly specs: ParamSpec[], bufferSpecs: { name: string; shape: number[] }[]) {
    const names = new Set<string>();
    for (const s of [...specs, ...bufferSpecs]) {
      if (names.has(s.name)) throw new Error(`ParamStore: duplicate name ${s.name}`);
      names.add(s.name);
    }
    this.align = engine.device.limits.minStorageBufferOffsetAlignment / 4;
    const p = layout(this.align, specs);
    const b = layout(this.align, bufferSpecs);
    this.length = p.total;
    const device = engine.device;
    // The optimizer binds all weights (and gradients, and moments) as one storage buffer each.
    engine.checkLimits(`the model's ${specs.length} parameter tensors (${p.total.toLocaleString('en-US')} floats, one buffer)`, p.total * 4,
      'Use a narrower model (a smaller width), or an adapter with larger limits.');
    this.data = device.createBuffer({ size: p.total * 4, usage: STORAGE_USAGE });
    this.grads = device.createBuffer({ size: p.total * 4, usage: STORAGE_USAGE });
    this.stats = device.createBuffer({ size: b.total * 4, usage: STORAGE_USAGE });
    specs.forEach((s, i) => {
      const t = new Tensor(engine, s.shape, this.data, p.offsets[i] * 4, 'f32', true, false, s.name);
      t.grad = new Tensor(engine, s.shape, this.grads, p.offsets[i] * 4, 'f32', false, false, `${s.name}.grad`);
      this.params.set(s.name, t);
      this.segments.push({ name: s.name, kind: s.kind, offset: p.offsets[i], length: numel(s.shape) });
    });
    bufferSpecs.forEach((s, i) => {
      this.buffers.set(s.name, new Tensor(engine, s.shape, this.stats, b.offsets[i] * 4, 'f32', false, false, s.name));
    });
    for (const name of this.buffers.keys()) {
      if (!name.endsWith('.running_mean')) continue;
      const layer = name.slice(0, -'.running_mean'.length);
      this.batchNorm.set(layer, { runningMean: this.buffer(name), runningVar: this.buffer(`${layer}.running_var`), batchesTracked: 0, running: 'update' });
    }
  }

  /** One BN layer's state (running statistics, batch count, update or freeze). */
  bn(layer: string): BatchNormState {
    const s = this.batchNorm.get(layer);
    if (!s) throw new Error(`no batch norm layer named ${layer} (${[...this.batchNorm.keys()].slice(0, 4).join(', ')}, …)`);
    return s;
  }

  /**
   * What training steps do with the running statistics of every BN layer whose path matches:
   * 'update' (the default) moves them, 'freeze' keeps them bit-identical, 'eval' normalises with
   * them (see BatchNormState). Independent of whether the layer's weights train (setFrozen).
   * Returns the layers it set.
   */
  setBatchNormRunning(match: (layer: string) => boolean, running: BatchNormState['running']): string[] {
    const hit: string[] = [];
    for (const [layer, s] of this.batchNorm) {
      if (match(layer)) {
        s.running = running;
        hit.push(layer);
      }
    }
    return hit;
  }

  param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`no parameter named ${name}`);
    return t;
  }

  buffer(name: string): Tensor {
    const t = this.buffers.get(name);
    if (!t) throw new Error(`no buffer named ${name}`);
    return t;
  }

  /** Trainable parameter count (padding excluded). */
  get count(): number {
    let n = 0;
    for (const s of this.segments) n += s.length;
    return n;
  }

  /** Marks every gradient zero (no GPU work: the next write overwrites). */
  zeroGrad(): void {
    for (const t of this.params.values()) t.gradValid = false;
  }

  /**
   * After backward: a parameter that wants a gradient but got none this step gets zeros, so a
   * flat optimizer pass never reads a stale gradient.
   */
  finishGrads(): void {
    for (const t of this.params.values()) {
      if (t.requiresGrad && !t.gradValid) {
        this.engine.clear(t.grad!);
        t.gradValid = true;
      }
    }
  }

  /** Freezes (requiresGrad = false) every parameter whose name matches; returns their names. */
  setFrozen(match: (name: string) => boolean, frozen = true): string[] {
    const hit: string[] = [];
    for (const [name, t] of this.params) {
      if (match(name)) {
        t.requiresGrad = !frozen;
        hit.push(name);
      }
    }
    return hit;
  }

  /** Writes values into a parameter or buffer by name, checking the shape. */
  set(name: string, data: Float32Array, shape?: readonly number[]): void {
    const t = this.params.get(name) ?? this.buffers.get(name);
    if (!t) throw new Error(`no parameter or buffer named ${name}`);
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
      throw new Error(`${name}: shape ${shapeStr(shape)} does not match the model's ${shapeStr(t.shape)}`);
    }
    if (data.length !== t.size) throw new Error(`${name}: ${data.length} values for ${t.size}`);
    this.engine.upload(t, data);
  }

  /** Every parameter and buffer, read back, in declaration order. */
  async read(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    const [pAll, bAll] = await Promise.all([
      this.engine.readBuffer(this.data, 0, this.length * 4),
      this.engine.readBuffer(this.stats, 0, this.stats.size),
    ]);
    for (const t of this.params.values()) out.set(t.name, { shape: [...t.shape], data: new Float32Array(pAll, t.offset, t.size).slice() });
    for (const t of this.buffers.values()) out.set(t.name, { shape: [...t.shape], data: new Float32Array(bAll, t.offset, t.size).slice() });
    return out;
  }

  /** Every gradient, read back. */
  async readGrads(): Promise<Map<string, Float32Array>> {
    const all = await this.engine.readBuffer(this.grads, 0, this.length * 4);
    const out = new Map<string, Float32Array>();
    for (const t of this.params.values()) out.set(t.name, new Float32Array(all, t.offset, t.size).slice());
    return out;
  }

  /** Frees the buffers, after submitting the work recorded so far that may still use them. */
  destroy(): void {
    this.engine.flush();
    this.data.destroy();
    this.grads.destroy();
    this.stats.destroy();
  }
}
