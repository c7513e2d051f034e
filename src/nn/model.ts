/**
 * What a model is to critdamp (torchvision's and timm's idea of one): a module whose parameter
 * names are its module paths (`layer2.0.conv1.weight`, `features.4.bias`), held in one flat
 * ParamStore; a forward pass recorded on a Graph; the units attribution ranks (layers and groups);
 * and a serialisable config, `{ name, numClasses, inChannels, …options }`, from which the registry
 * (src/nn/registry.ts) builds it again. The Trainer, evaluate, attribute, correct, the controls,
 * Auto-RGN, the CLI and the page take any Model.
 *
 * `Module` is the convenient way to write one: declare the parameters in a ParamLayout (PyTorch's
 * shapes and state_dict names), write forward() with the layer helpers, and it gets PyTorch's
 * initialisation, its units and destroy(). docs/models.md has a complete example.
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { Rng } from '../util/rng';
import { conv2d, batchNorm, linear, type Conv2dOptions } from '../ops';
import { ParamStore, type ParamSpec } from './params';
import { firstComponent, unitsOf, type Granularity, type Unit } from './units';

/**
 * A model's description, as JSON: its registry name, the classes it tells apart, the channels of
 * its input, and its own options (ResNet: `width`, `stem`; VGG: `width`; MLP: `inputSize`,
 * `hidden`). A checkpoint records it, and createModel(engine, config) builds the model again.
 */
export type ModelConfig = { name: string; numClasses: number; inChannels: number; [option: string]: unknown };

/** A ModelConfig whose name may be left out: configs written before there were other models are ResNet-18s. */
export type ModelSpec = { name?: string; numClasses: number; inChannels: number; [option: string]: unknown };

export interface Model {
  readonly config: ModelConfig;
  /** Every parameter (torch-style names and kinds), its gradient and the BN statistics. */
  readonly store: ParamStore;
  /**
   * Logits [N, numClasses] for images x [N, inChannels, H, W], recorded on g. Training mode uses
   * batch statistics in BN and updates the running ones; eval mode uses the running statistics.
   */
  forward(g: Graph, x: Tensor, opts: { training: boolean }): Tensor;
  /** The units attribution ranks and correction retrains, with their parameter counts. */
  units(granularity: Granularity): Unit[];
  destroy(): void;
}

export interface BufferSpec { name: string; shape: number[] }

/**
 * A model's parameters and BN buffers, declared in PyTorch's module order with PyTorch's shapes:
 * conv weights [out, in, k, k] (+ bias [out]), BatchNorm2d weight/bias/running_mean/running_var
 * [c], Linear weight [out, in] (+ bias [out]).
 */
export class ParamLayout {
  readonly params: ParamSpec[] = [];
  readonly buffers: BufferSpec[] = [];

  /** nn.Conv2d(inC, out, k, bias=bias) at module path `name`. */
  conv(name: string, out: number, inC: number, k: number, opts: { bias?: boolean } = {}): this {
    this.params.push({ name: `${name}.weight`, shape: [out, inC, k, k], kind: 'conv' });
    if (opts.bias) this.params.push({ name: `${name}.bias`, shape: [out], kind: 'conv_bias' });
    return this;
  }

  /** nn.BatchNorm2d(c): weight, bias, and the running statistics as buffers. */
  bn(name: string, c: number): this {
    this.params.push({ name: `${name}.weight`, shape: [c], kind: 'bn_weight' }, { name: `${name}.bias`, shape: [c], kind: 'bn_bias' });
    this.buffers.push({ name: `${name}.running_mean`, shape: [c] }, { name: `${name}.running_var`, shape: [c] });
    return this;
  }

  /** nn.Linear(inF, out, bias=bias). */
  linear(name: string, out: number, inF: number, opts: { bias?: boolean } = {}): this {
    this.params.push({ name: `${name}.weight`, shape: [out, inF], kind: 'linear_weight' });
    if (opts.bias ?? true) this.params.push({ name: `${name}.bias`, shape: [out], kind: 'linear_bias' });
    return this;
  }
}

export interface InitOptions {
  /**
   * Linear layers: 'pytorch' (nn.Linear's default, U(±1/√fan_in) for weight and bias; ResNet,
   * MLP, VGG's small classifier) or 'normal' (N(0, 0.01²) weights and zero biases: torchvision's VGG with its 4096-wide classifier).
   */
  linear?: 'pytorch' | 'normal';
}

/**
 * torchvision's initialisation from a seeded generator, parameter by parameter in declaration
 * order: convs Kaiming normal (fan_out, ReLU gain: std = √(2/(O·KH·KW))) with zero biases; BN
 * weight 1, bias 0, running mean 0, var 1; Linear as `opts.linear` says. Same seed, same network,
 * in Node and browsers.
 */
export function initParams(store: ParamStore, seed: number, opts: InitOptions = {}): void {
  const rng = new Rng(seed);
  for (const s of store.specs) {
    const t = store.param(s.name);
    const v = new Float32Array(t.size);
    if (s.kind === 'conv') {
      const std = Math.sqrt(2 / (s.shape[0] * s.shape[2] * s.shape[3]));
      for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    } else if (s.kind === 'linear_weight' || s.kind === 'linear_bias') {
      if (opts.linear === 'normal') {
        if (s.kind === 'linear_weight') for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.01;
      } else {
        const fanIn = s.kind === 'linear_weight' ? s.shape[1] : store.param(s.name.replace(/\.bias$/, '.weight')).shape[1];
        const bound = 1 / Math.sqrt(fanIn);
        for (let i = 0; i < v.length; i++) v[i] = (2 * rng.uniform() - 1) * bound;
      }
    } else if (s.kind === 'bn_weight') {
      v.fill(1);
    }
    store.set(s.name, v);
  }
  for (const [name, t] of store.buffers) store.set(name, new Float32Array(t.size).fill(name.endsWith('running_var') ? 1 : 0));
  for (const bn of store.batchNorm.values()) bn.batchesTracked = 0;
}

/** Checks the fields every config has; `what` names the model in the error. */
export function checkBaseConfig(cfg: ModelSpec, what: string): void {
  const bad = (field: string, v: unknown) => new Error(`${what}: ${field}, got ${String(v)}`);
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 1) throw bad('numClasses must be an integer ≥ 1', cfg.numClasses);
  if (!Number.isInteger(cfg.inChannels) || cfg.inChannels < 1) throw bad('inChannels must be an integer ≥ 1', cfg.inChannels);
}

/**
 * A model written as PyTorch writes one: the parameters declared up front (a ParamLayout), a
 * forward pass made of ops, each recorded under its module path. Subclasses implement forward()
 * and may override groupOf() (which group a layer belongs to; default: its first path component).
 */
export abstract class Module implements Model {
  readonly store: ParamStore;

  constructor(readonly engine: Engine, readonly config: ModelConfig, layout: ParamLayout | { params: ParamSpec[]; buffers: BufferSpec[] }, seed = 0,
    init: (store: ParamStore, seed: number) => void = (s, r) => initParams(s, r)) {
    checkBaseConfig(config, config.name);
    this.store = new ParamStore(engine, layout.params, layout.buffers);
    init(this.store, seed);
  }

  abstract forward(g: Graph, x: Tensor, opts: { training: boolean }): Tensor;

  /** The group a layer (module path) belongs to. */
  protected groupOf(layer: string): string {
    return firstComponent(layer);
  }

  units(granularity: Granularity): Unit[] {
    return unitsOf(this.store.segments, granularity, (layer) => this.groupOf(layer));
  }

  /** Conv2d `name` (with its bias when it has one). */
  protected conv(g: Graph, name: string, x: Tensor, opts: Conv2dOptions = {}): Tensor {
    const s = this.store;
    return g.scope(name, () => conv2d(g, x, s.param(`${name}.weight`), opts, s.params.get(`${name}.bias`) ?? null));
  }

  /** BatchNorm2d `name`, with the ReLU that follows it fused in when `relu` (src/ops/batch_norm.ts). */
  protected bn(g: Graph, name: string, x: Tensor, training: boolean, relu = false): Tensor {
    const s = this.store;
    return g.scope(name, () => batchNorm(g, x, s.param(`${name}.weight`), s.param(`${name}.bias`), s.bn(name), { training, relu }));
  }

  /** Linear `name` (x [N, …] is flattened, as nn.Flatten then nn.Linear). */
  protected linear(g: Graph, name: string, x: Tensor): Tensor {
    const s = this.store;
    return g.scope(name, () => linear(g, x, s.param(`${name}.weight`), s.params.get(`${name}.bias`) ?? null));
  }

  destroy(): void {
    this.store.destroy();
  }
}
