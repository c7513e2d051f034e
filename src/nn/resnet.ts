/**
 * ResNet-18 (BasicBlock, 4 stages × 2 blocks) with torchvision's parameter names, shapes and
 * layout, so checkpoints move both ways between critdamp and PyTorch. Channels are 64/128/256/512
 * times `width` (rounded, at least 1). Stems: 'cifar' (3×3 stride-1 conv, no max pool) and
 * 'imagenet' (7×7 stride-2 conv, 3×3/2 max pool). Layers are compositions of ops; each op records
 * its module path (`layer2.0.downsample.0`) on the graph it runs in.
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { Rng } from '../util/rng';
import { conv2d, batchNorm, relu, add, maxPool, avgPool, linear, ShapeError } from '../ops';
import { ParamStore, type ParamSpec } from './params';

export interface ResNetConfig {
  numClasses: number;
  inChannels: number;
  stem: 'cifar' | 'imagenet';
  width: number;
}

export const DEFAULT_CONFIG: ResNetConfig = { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 };

export function stageChannels(width: number): number[] {
  return [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * width)));
}

function validate(cfg: ResNetConfig): void {
  const bad = (what: string, v: unknown) => new Error(`resnet18: ${what}, got ${String(v)}`);
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 1) throw bad('numClasses must be an integer ≥ 1', cfg.numClasses);
  if (!Number.isInteger(cfg.inChannels) || cfg.inChannels < 1) throw bad('inChannels must be an integer ≥ 1', cfg.inChannels);
  if (cfg.stem !== 'cifar' && cfg.stem !== 'imagenet') throw bad("stem must be 'cifar' or 'imagenet'", cfg.stem);
  if (!(cfg.width > 0 && Number.isFinite(cfg.width))) throw bad('width must be a positive number', cfg.width);
}

/** Trainable parameters and BN buffers in torchvision's state_dict order. */
export function resnet18Specs(cfg: ResNetConfig): { params: ParamSpec[]; buffers: { name: string; shape: number[] }[] } {
  validate(cfg);
  const params: ParamSpec[] = [];
  const buffers: { name: string; shape: number[] }[] = [];
  const conv = (name: string, o: number, i: number, k: number) => params.push({ name: `${name}.weight`, shape: [o, i, k, k], kind: 'conv' });
  const bn = (name: string, c: number) => {
    params.push({ name: `${name}.weight`, shape: [c], kind: 'bn_weight' }, { name: `${name}.bias`, shape: [c], kind: 'bn_bias' });
    buffers.push({ name: `${name}.running_mean`, shape: [c] }, { name: `${name}.running_var`, shape: [c] });
  };
  const ch = stageChannels(cfg.width);
  conv('conv1', ch[0], cfg.inChannels, cfg.stem === 'cifar' ? 3 : 7);
  bn('bn1', ch[0]);
  let cin = ch[0];
  ch.forEach((c, s) => {
    for (let b = 0; b < 2; b++) {
      const name = `layer${s + 1}.${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      conv(`${name}.conv1`, c, cin, 3);
      bn(`${name}.bn1`, c);
      conv(`${name}.conv2`, c, c, 3);
      bn(`${name}.bn2`, c);
      if (stride !== 1 || cin !== c) {
        conv(`${name}.downsample.0`, c, cin, 1);
        bn(`${name}.downsample.1`, c);
      }
      cin = c;
    }
  });
  params.push({ name: 'fc.weight', shape: [cfg.numClasses, cin], kind: 'linear_weight' }, { name: 'fc.bias', shape: [cfg.numClasses], kind: 'linear_bias' });
  return { params, buffers };
}

/**
 * PyTorch's initialisation from a seeded generator: convs Kaiming normal (fan_out, ReLU gain:
 * std = √(2/(O·KH·KW))); BN weight 1, bias 0, running mean 0, var 1; Linear U(−1/√in, 1/√in) for
 * weight and bias (kaiming_uniform with a = √5). Same seed, same network, in Node and browsers.
 */
export function initResNet(store: ParamStore, seed: number): void {
  const rng = new Rng(seed);
  for (const s of store.specs) {
    const t = store.param(s.name);
    const v = new Float32Array(t.size);
    if (s.kind === 'conv') {
      const std = Math.sqrt(2 / (s.shape[0] * s.shape[2] * s.shape[3]));
      for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    } else if (s.kind === 'linear_weight' || s.kind === 'linear_bias') {
      const fanIn = store.param('fc.weight').shape[1];
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < v.length; i++) v[i] = (2 * rng.uniform() - 1) * bound;
    } else if (s.kind === 'bn_weight') {
      v.fill(1);
    }
    store.set(s.name, v);
  }
  for (const [name, t] of store.buffers) store.set(name, new Float32Array(t.size).fill(name.endsWith('running_var') ? 1 : 0));
  for (const bn of store.batchNorm.values()) bn.batchesTracked = 0;
}

export class ResNet18 {
  readonly store: ParamStore;
  readonly config: ResNetConfig;

  constructor(readonly engine: Engine, config: Partial<ResNetConfig> = {}, seed = 0) {
    this.config = { ...DEFAULT_CONFIG, ...config };
    const specs = resnet18Specs(this.config);
    this.store = new ParamStore(engine, specs.params, specs.buffers);
    initResNet(this.store, seed);
  }

  private conv(g: Graph, name: string, x: Tensor, stride: number, pad: number): Tensor {
    return g.scope(name, () => conv2d(g, x, this.store.param(`${name}.weight`), { stride, pad }));
  }

  /** BatchNorm2d `name`, with the ReLU that follows it fused in when `relu` (src/ops/batch_norm.ts). */
  private bn(g: Graph, name: string, x: Tensor, training: boolean, relu = false): Tensor {
    const s = this.store;
    return g.scope(name, () => batchNorm(g, x, s.param(`${name}.weight`), s.param(`${name}.bias`), s.bn(name), { training, relu }));
  }

  /**
   * torchvision's BasicBlock: one `relu` module applied after bn1 and after the residual add. Both
   * ReLUs are fused into the op before them (batch norm, the add): the same values in fewer passes.
   */
  private block(g: Graph, name: string, x: Tensor, stride: number, training: boolean): Tensor {
    let out = this.conv(g, `${name}.conv1`, x, stride, 1);
    out = this.bn(g, `${name}.bn1`, out, training, true);
    out = this.conv(g, `${name}.conv2`, out, 1, 1);
    out = this.bn(g, `${name}.bn2`, out, training);
    const shortcut = this.store.params.has(`${name}.downsample.0.weight`)
      ? this.bn(g, `${name}.downsample.1`, this.conv(g, `${name}.downsample.0`, x, stride, 0), training)
      : x;
    return g.scope(`${name}.relu`, () => add(g, out, shortcut, { relu: true }));
  }

  /**
   * Logits [N, numClasses] for images x [N, inChannels, H, W], recorded on g. Each op is tagged
   * with the torchvision module that computes it (`conv1`, `layer2.0.downsample.1`, `fc`).
   * Training mode uses batch statistics and updates each BN layer's running ones (unless that
   * layer is set to 'freeze'); eval mode uses the running statistics.
   */
  forward(g: Graph, x: Tensor, opts: { training: boolean }): Tensor {
    const cfg = this.config;
    if (x.shape.length !== 4 || x.shape[1] !== cfg.inChannels) {
      throw new ShapeError(`resnet18: input must be [N, ${cfg.inChannels}, H, W] (NCHW), got [${x.shape.join(', ')}]`);
    }
    const training = opts.training;
    let h = cfg.stem === 'cifar' ? this.conv(g, 'conv1', x, 1, 1) : this.conv(g, 'conv1', x, 2, 3);
    h = this.bn(g, 'bn1', h, training, true);
    if (cfg.stem === 'imagenet') h = g.scope('maxpool', () => maxPool(g, h, { kernel: 3, stride: 2, pad: 1 }));
    for (let s = 0; s < 4; s++) {
      for (let b = 0; b < 2; b++) h = this.block(g, `layer${s + 1}.${b}`, h, s > 0 && b === 0 ? 2 : 1, training);
    }
    h = g.scope('avgpool', () => avgPool(g, h));
    return g.scope('fc', () => linear(g, h, this.store.param('fc.weight'), this.store.param('fc.bias')));
  }

  destroy(): void {
    this.store.destroy();
  }
}
