/**
 * The engine: one device, its buffer pool and pipeline cache, and a command encoder that batches
 * dispatches until something needs the results. Per-dispatch uniforms go into one ring buffer,
 * 256 bytes a slot, uploaded once per submit: no buffer is created per dispatch.
 */
import { BufferPool } from './pool';
import { PipelineCache, ShaderCompileError } from './shader';
import { UNIFORM_BYTES, type EntryName, type Kernel, type Resource, type Run, type UniformViews } from './kernel';
import { adapterName, requestDevice, type AdapterDescription, type LimitsRequest } from './device';
import { planningDevice } from './plan_device';
import { Tensor, numel, type DType } from '../tensor';
import { ELEMENTWISE } from '../../shaders/kernels';
import type { Tuner } from './tune';

/**
 * Kernel policy, chosen per adapter: which variant of each op's kernels runs and with what tiles.
 * The engine holds it (`engine.kernels`) but knows none of it: each op adds its fields to this
 * interface (a module augmentation, e.g. src/ops/conv2d_policy.ts) and registers how an adapter
 * decides them (registerKernelPolicy). Only the dispatch default is the engine's own.
 */
export interface KernelConfig {
  /** Workgroup size of elementwise and reduction kernels: Run.wg's default. */
  wg: number;
}

/** What a policy may go by: the adapter's kind, its host's threads, its subgroup size. */
export type AdapterTraits = Pick<AdapterDescription, 'software' | 'hostCores' | 'subgroupSize'>;

const policies = new Map<string, (adapter: AdapterTraits) => Partial<KernelConfig>>();

/**
 * Registers an op's part of KernelConfig: `make` gives its fields for an adapter. Ops call it when
 * their module loads; engines made before that fill the part in on first use.
 */
export function registerKernelPolicy(op: string, make: (adapter: AdapterTraits) => Partial<KernelConfig>): void {
  policies.set(op, make);
}

/** The kernel policy of every registered op for an adapter (tests use it to give one adapter's kernels to another). */
export function defaultKernelConfig(adapter: AdapterTraits): KernelConfig {
  const config: Partial<KernelConfig> = { wg: 64 };
  for (const make of policies.values()) Object.assign(config, make(adapter));
  return config as KernelConfig;
}

/** A buffer the device cannot hold or bind (see Engine.checkLimits). */
export class DeviceLimitError extends Error {
  override name = 'DeviceLimitError';
}

/** What to change when an activation outgrows the device (the engine knows tensors, not models). */
const TENSOR_ADVICE = 'Use a smaller batch (--batch-size) or smaller feature maps (a ResNet\'s --stem imagenet runs its ' +
  'residual stages on maps 4× smaller on each side), or an adapter with larger limits.';

const SLOT = UNIFORM_BYTES;
const SLOTS = 4096;

/** Receives every dispatch while set (src/gpu/profile.ts times them per layer and op). */
export interface DispatchObserver {
  /** A compute pass descriptor for this dispatch alone (timestamp writes), or null to share the pass. */
  passFor(label: string): GPUComputePassDescriptor | null;
  /**
   * Called after the dispatch is recorded, with its pass already ended when passFor gave one;
   * `kernel` names the shader and entry point (`batch_norm_split.apply`), `shape` its launch.
   */
  dispatched(label: string, kernel: string, shape: DispatchShape): void;
}

/** A dispatch's launch and work, as the roofline plan counts them (src/gpu/roofline.ts). */
export interface DispatchShape {
  workgroups: number;
  /** Invocations a workgroup. */
  wg: number;
  /** Invocations asked for (the last workgroup may have idle ones). */
  invocations: number;
  /** Floating-point operations (Run.flops, else one per invocation). */
  flops: number;
  /** Bytes of every storage buffer bound: what the dispatch moves if it touches each once. */
  bytes: number;
}

export class Engine {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  /** Dispatches recorded since creation (benchmarks count them per step). */
  dispatches = 0;
  /**
   * This engine's kernel choices: each op's variants and tile sizes (see KernelConfig), and the
   * tile plans chosen per shape (keyed by shape; the engine is one adapter). Change `kernels`
   * before the first dispatch of a shape, or clear `plans` after.
   */
  get kernels(): KernelConfig {
    // Ops whose policy registered after this engine was made get their defaults now.
    if (this.policiesSeen !== policies.size) {
      this.kernelConfig = { ...defaultKernelConfig(this.traits), ...this.kernelConfig };
      this.policiesSeen = policies.size;
    }
    return this.kernelConfig;
  }

  set kernels(config: KernelConfig) {
    this.kernelConfig = config;
  }

  private kernelConfig: KernelConfig;
  private policiesSeen: number;
  private readonly traits: AdapterTraits;
  readonly plans = new Map<string, unknown>();
  /**
   * The autotuner (src/gpu/tune.ts), when enabled (enableTuning): shapes met for the first time are
   * queued for timing, and tuned plans land in `plans`. Null: the cost model decides alone.
   */
  tuner: Tuner | null = null;
  /** What is running now (`layer3.1.conv2:conv2d`), set by Graph.apply; the profiler reads it. */
  label = '';
  observer: DispatchObserver | null = null;

  /** Runs fn with its dispatches labelled `label` (the profiler groups time by label). */
  labelled<T>(label: string, fn: () => T): T {
    const prev = this.label;
    this.label = label;
    try {
      return fn();
    } finally {
      this.label = prev;
    }
  }
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniformBuffer: GPUBuffer;
  private uniformData = new ArrayBuffer(SLOT * SLOTS);
  private uniformViews: UniformViews = {
    u32: new Uint32Array(this.uniformData), i32: new Int32Array(this.uniformData), f32: new Float32Array(this.uniformData),
  };
  private slot = 0;
  private error: Error | null = null;
  private lost = false;
  private destroyed = false;

  private constructor(readonly device: GPUDevice, readonly info: AdapterDescription) {
    this.traits = { ...info, subgroupSize: device.features.has('subgroups') ? info.subgroupSize : null };
    this.kernelConfig = defaultKernelConfig(this.traits);
    this.policiesSeen = policies.size;
    this.pool = new BufferPool(device, (bytes) => this.fail(new Error(
      `critdamp: out of GPU memory allocating ${bytes} bytes (${this.pool.bytesInUse} in use); ` +
      'reduce the batch size or the model width')));
    this.pipelines = new PipelineCache(device, (e) => this.fail(e));
    // GPUBufferUsage.UNIFORM | COPY_DST, as numbers: an engine for planning exists before (or
    // without) any WebGPU implementation has installed the GPUBufferUsage global.
    this.uniformBuffer = device.createBuffer({ size: SLOT * SLOTS, usage: 0x40 | 0x8 });
    device.addEventListener('uncapturederror', (ev) => {
      // Ours to report (the next sync() throws it): not also printed by the implementation.
      ev.preventDefault();
      this.fail(new Error(`critdamp: WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`));
    });
    device.lost.then((info) => {
      if (this.destroyed) return;
      const err = new Error(`critdamp: the GPU device was lost (${info.reason}): ${info.message}. ` +
        'Saved checkpoints are intact; restart the run with --resume.');
      this.error = null;
      this.fail(err);
      this.lost = true;
      // Nothing may sync again after a loss, so say it now as well.
      console.error(err.message);
    });
  }

  /**
   * An engine on the best adapter offered. `limits`: 'adapter' (default) asks for the adapter's
   * largest buffers; 'default' keeps WebGPU's guaranteed limits (the test that every kernel runs
   * on any adapter).
   */
  static async create(options?: GPURequestAdapterOptions, opts: { limits?: LimitsRequest } = {}): Promise<Engine> {
    const h = await requestDevice(options, ['subgroups'], opts.limits);
    return new Engine(h.device, h.info);
  }

  /**
   * An engine over a device that runs nothing (src/gpu/plan_device.ts), with the kernels the
   * adapter `info` describes would get: recording a step on it lists the dispatches that adapter
   * would be given (the roofline plan, src/gpu/roofline.ts), without a GPU or the step's memory.
   */
  static forPlanning(info: AdapterDescription): Engine {
    return new Engine(planningDevice(), info);
  }

  get adapterName(): string {
    return adapterName(this.info);
  }

  /**
   * Keeps the first error for the next sync() to throw. A shader compile error takes precedence:
   * the validation errors that follow from an invalid module may arrive before it.
   */
  fail(e: Error): void {
    if (this.error && !(e instanceof ShaderCompileError && !(this.error instanceof ShaderCompileError))) return;
    this.error = e;
  }

  /** Throws the pending error, if any, once (a lost device keeps throwing). */
  check(): void {
    const e = this.error;
    if (!e) return;
    if (!this.lost) this.error = null;
    throw e;
  }

  // ---- tensors ----------------------------------------------------------------------------------

  /** A new pooled tensor; contents undefined unless `data` is given. */
  empty(shape: readonly number[], dtype: DType = 'f32', requiresGrad = false): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
    }
    const bytes = Math.max(4, numel(shape) * 4);
    this.checkLimits(`${this.label ? `${this.label} needs` : 'a'} tensor [${shape.join(', ')}] (${dtype})`, bytes, TENSOR_ADVICE);
    const t = new Tensor(this, shape, this.pool.acquire(bytes), 0, dtype, requiresGrad, true);
    return t;
  }

  /**
   * Throws a DeviceLimitError unless `bytes` fit in one buffer and one storage binding of this
   * device (every tensor is bound as storage): the message names `what`, its size, the limit and
   * `advice` (what to change). Checked before allocating, so nothing is left half made.
   */
  checkLimits(what: string, bytes: number, advice: string): void {
    const l = this.device.limits;
    const limits: [string, number][] = [['maxStorageBufferBindingSize', l.maxStorageBufferBindingSize], ['maxBufferSize', l.maxBufferSize]];
    for (const [name, limit] of limits) {
      if (bytes > limit) {
        throw new DeviceLimitError(`critdamp: ${what} takes ${bytes.toLocaleString('en-US')} bytes, more than this device's ` +
          `${name} of ${limit.toLocaleString('en-US')} bytes (${this.adapterName}). ${advice}`);
      }
    }
  }

  tensor(data: Float32Array | Uint32Array | readonly number[], shape: readonly number[], opts: { dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
    const dtype = opts.dtype ?? (data instanceof Uint32Array ? 'u32' : 'f32');
    if (data.length !== numel(shape)) throw new Error(`tensor: ${data.length} values do not fill shape [${shape.join(', ')}] (${numel(shape)})`);
    const t = this.empty(shape, dtype, opts.requiresGrad ?? false);
    this.upload(t, data);
    return t;
  }

  /** Writes values into a tensor, after all work recorded so far (so a reused buffer is safe). */
  upload(t: Tensor, data: Float32Array | Uint32Array | readonly number[]): void {
    const arr = data instanceof Float32Array || data instanceof Uint32Array ? data
      : t.dtype === 'u32' ? Uint32Array.from(data) : Float32Array.from(data);
    if (arr.length !== t.size) throw new Error(`upload: ${arr.length} values for a tensor of ${t.size}`);
    this.flush();
    this.device.queue.writeBuffer(t.buffer, t.offset, arr.buffer, arr.byteOffset, arr.byteLength);
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /** The encoder outside any compute pass, for copies and clears. */
  commandEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Records one dispatch of a kernel's entry point (shaders/kernels.ts): the uniform written by
   * field name into the next ring slot, the buffers bound by name, exactly those the entry uses.
   */
  run<K extends Kernel, E extends EntryName<K>>(k: K, entry: E, spec: Run<K, E>): void {
    if (spec.invocations <= 0) return;
    if (this.slot === SLOTS) this.flush();
    const wg = spec.wg ?? this.kernels.wg;
    k.checkWorkgroupSize(entry, wg, this.kernels.wg);
    const pipeline = this.pipelines.get(k.source, entry, { ...spec.overrides, WG: wg }, spec.consts);
    const entries = k.storageEntries(entry, spec.bindings as Readonly<Record<string, Resource>>);
    if (k.hasParams) {
      k.writeParams(spec.params, this.uniformViews, (this.slot * SLOT) / 4);
      entries.push({ binding: 0, resource: { buffer: this.uniformBuffer, offset: this.slot * SLOT, size: SLOT } });
      this.slot++;
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });

    const groups = Math.ceil(spec.invocations / wg);
    const maxDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxDim);
    const y = Math.ceil(groups / x);
    if (y > maxDim) throw new Error(`${k.name}: ${spec.invocations} invocations exceed the dispatch limit`);
    const own = this.observer?.passFor(this.label) ?? null;
    const pass = own ? this.commandEncoder().beginComputePass(own) : this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
    if (own) pass.end();
    this.dispatches++;
    if (this.observer) {
      let bytes = 0;
      for (const b of entries) if (b.binding !== 0) bytes += (b.resource as GPUBufferBinding).size ?? 0;
      this.observer.dispatched(this.label, `${k.name.replace(/\.wgsl$/, '')}.${entry}`,
        { workgroups: groups, wg, invocations: spec.invocations, flops: spec.flops ?? spec.invocations, bytes });
    }
  }

  /** Sets every value of t to `value` (ordered with the dispatches). */
  fill(t: Tensor, value: number): void {
    this.run(ELEMENTWISE, 'fill', { params: { n: t.size, acc: 0, C: 0, inner: 1, value }, bindings: { out: t }, invocations: t.size });
  }

  /** Zeroes a byte range with the encoder's clearBuffer (ordered with the dispatches). */
  clear(t: Tensor): void {
    this.commandEncoder().clearBuffer(t.buffer, t.offset, Math.ceil(t.bytes / 4) * 4);
  }

  copy(src: Tensor, dst: Tensor): void {
    if (src.size !== dst.size) throw new Error(`copy: ${src.size} values into ${dst.size}`);
    this.commandEncoder().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.slot > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformData, 0, this.slot * SLOT);
    this.slot = 0;
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
    }
  }

  /** Waits for all submitted work; throws the first error seen (compile, validation, loss). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  async readBuffer(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      this.commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.flush();
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch (e) {
        this.check();
        throw e;
      }
      this.check();
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      // Also when the map fails or a pending error is thrown: a caller that catches and reads
      // again (a retry loop, a UI) would otherwise leak one staging buffer per failed read.
      // destroy() unmaps; the slice above is a copy.
      staging.destroy();
    }
  }

  /** Releases the device (Dawn keeps Node alive while one is referenced). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.flush();
    this.pool.trim();
    this.device.destroy();
  }
}
