/**
 * ResNet-18, -34 (BasicBlock) and -50 (Bottleneck) with torchvision's parameter names, shapes and
 * layout (torchvision/models/resnet.py, v1.5: the stride sits on the 3×3 conv), so checkpoints move
 * both ways between critdamp and PyTorch. Stage channels are 64/128/256/512 times `width` (rounded,
 * at least 1); a Bottleneck's output is 4× its stage's. Stems: 'cifar' (3×3 stride-1 conv, no max
 * pool) and 'imagenet' (7×7 stride-2 conv, 3×3/2 max pool). Layers are compositions of ops; each op
 * records its module path (`layer2.0.downsample.0`) on the graph it runs in.
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { add, maxPool, avgPool, ShapeError } from '../ops';
import type { ParamStore } from './params';
import { Module, ParamLayout, checkBaseConfig, initParams } from './model';

/** A ResNet's options: classes, input channels, stem and channel multiplier. */
export type ResNetConfig = {
  numClasses: number;
  inChannels: number;
  stem: 'cifar' | 'imagenet';
  width: number;
};

export type ResNetName = 'resnet18' | 'resnet34' | 'resnet50';

/** Blocks per stage and the block type, as torchvision's resnet18/34/50 constructors pass them. */
export const RESNET_ARCH: Record<ResNetName, { block: 'basic' | 'bottleneck'; layers: [number, number, number, number] }> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
};

export const DEFAULT_CONFIG: ResNetConfig = { numClasses: 10, inChannels: 3, stem: 'cifar', width: 1 };

export function stageChannels(width: number): number[] {
  return [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * width)));
}

function validate(name: string, cfg: ResNetConfig): void {
  const bad = (what: string, v: unknown) => new Error(`${name}: ${what}, got ${String(v)}`);
  checkBaseConfig(cfg, name);
  if (cfg.stem !== 'cifar' && cfg.stem !== 'imagenet') throw bad("stem must be 'cifar' or 'imagenet'", cfg.stem);
  if (!(typeof cfg.width === 'number' && cfg.width > 0 && Number.isFinite(cfg.width))) throw bad('width must be a positive number', cfg.width);
}

interface BlockPlan { name: string; cin: number; planes: number; stride: number; downsample: boolean }

/** Every block of the network: its module path, input channels, stage channels, stride and shortcut. */
function blocks(name: ResNetName, cfg: ResNetConfig): BlockPlan[] {
  const { block, layers } = RESNET_ARCH[name];
  const expansion = block === 'bottleneck' ? 4 : 1;
  const ch = stageChannels(cfg.width);
  const out: BlockPlan[] = [];
  let cin = ch[0];
  ch.forEach((planes, s) => {
    for (let b = 0; b < layers[s]; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      out.push({ name: `layer${s + 1}.${b}`, cin, planes, stride, downsample: stride !== 1 || cin !== planes * expansion });
      cin = planes * expansion;
    }
  });
  return out;
}

/** Trainable parameters and BN buffers in torchvision's state_dict order. */
export function resnetSpecs(name: ResNetName, cfg: ResNetConfig): ParamLayout {
  if (!(name in RESNET_ARCH)) throw new Error(`resnet: unknown depth '${name}' (${Object.keys(RESNET_ARCH).join(', ')})`);
  validate(name, cfg);
  const bottleneck = RESNET_ARCH[name].block === 'bottleneck';
  const p = new ParamLayout();
  const ch = stageChannels(cfg.width);
  p.conv('conv1', ch[0], cfg.inChannels, cfg.stem === 'cifar' ? 3 : 7).bn('bn1', ch[0]);
  let cout = ch[0];
  for (const b of blocks(name, cfg)) {
    if (bottleneck) {
      cout = 4 * b.planes;
      p.conv(`${b.name}.conv1`, b.planes, b.cin, 1).bn(`${b.name}.bn1`, b.planes);
      p.conv(`${b.name}.conv2`, b.planes, b.planes, 3).bn(`${b.name}.bn2`, b.planes);
      p.conv(`${b.name}.conv3`, cout, b.planes, 1).bn(`${b.name}.bn3`, cout);
    } else {
      cout = b.planes;
      p.conv(`${b.name}.conv1`, cout, b.cin, 3).bn(`${b.name}.bn1`, cout);
      p.conv(`${b.name}.conv2`, cout, cout, 3).bn(`${b.name}.bn2`, cout);
    }
    if (b.downsample) p.conv(`${b.name}.downsample.0`, cout, b.cin, 1).bn(`${b.name}.downsample.1`, cout);
  }
  return p.linear('fc', cfg.numClasses, cout);
}

/** ResNet-18's parameters and buffers (resnetSpecs('resnet18', cfg)). */
export function resnet18Specs(cfg: ResNetConfig): ParamLayout {
  return resnetSpecs('resnet18', cfg);
}

/**
 * PyTorch's initialisation from a seeded generator: convs Kaiming normal (fan_out, ReLU gain:
 * std = √(2/(O·KH·KW))); BN weight 1, bias 0, running mean 0, var 1; Linear U(−1/√in, 1/√in) for
 * weight and bias (kaiming_uniform with a = √5). Same seed, same network, in Node and browsers.
 */
export function initResNet(store: ParamStore, seed: number): void {
  initParams(store, seed, { linear: 'pytorch' });
}

/** ResNet-18/34/50 (src/nn/registry.ts builds them by name). */
export class ResNet extends Module {
  declare readonly config: ResNetConfig & { name: ResNetName };
  private readonly plan: BlockPlan[];
  private readonly bottleneck: boolean;

  constructor(engine: Engine, name: ResNetName, config: Partial<ResNetConfig> = {}, seed = 0) {
    const cfg = { ...DEFAULT_CONFIG, ...pick(config), name };
    super(engine, cfg, resnetSpecs(name, cfg), seed, initResNet);
    this.plan = blocks(name, cfg);
    this.bottleneck = RESNET_ARCH[name].block === 'bottleneck';
  }

  /**
   * torchvision's BasicBlock: one `relu` module applied after bn1 and after the residual add. Both
   * ReLUs are fused into the op before them (batch norm, the add): the same values in fewer passes.
   * Bottleneck: conv1 (1×1) → bn1+relu → conv2 (3×3, the stride) → bn2+relu → conv3 (1×1) → bn3,
   * then the add and relu.
   */
  private block(g: Graph, b: BlockPlan, x: Tensor, training: boolean): Tensor {
    const n = b.name;
    let out = this.conv(g, `${n}.conv1`, x, this.bottleneck ? { stride: 1, pad: 0 } : { stride: b.stride, pad: 1 });
    out = this.bn(g, `${n}.bn1`, out, training, true);
    out = this.conv(g, `${n}.conv2`, out, { stride: this.bottleneck ? b.stride : 1, pad: 1 });
    out = this.bn(g, `${n}.bn2`, out, training, this.bottleneck);
    if (this.bottleneck) out = this.bn(g, `${n}.bn3`, this.conv(g, `${n}.conv3`, out, { stride: 1, pad: 0 }), training);
    const shortcut = b.downsample
      ? this.bn(g, `${n}.downsample.1`, this.conv(g, `${n}.downsample.0`, x, { stride: b.stride, pad: 0 }), training)
      : x;
    return g.scope(`${n}.relu`, () => add(g, out, shortcut, { relu: true }));
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
      throw new ShapeError(`${cfg.name}: input must be [N, ${cfg.inChannels}, H, W] (NCHW), got [${x.shape.join(', ')}]`);
    }
    const training = opts.training;
    let h = cfg.stem === 'cifar' ? this.conv(g, 'conv1', x, { stride: 1, pad: 1 }) : this.conv(g, 'conv1', x, { stride: 2, pad: 3 });
    h = this.bn(g, 'bn1', h, training, true);
    if (cfg.stem === 'imagenet') h = g.scope('maxpool', () => maxPool(g, h, { kernel: 3, stride: 2, pad: 1 }));
    for (const b of this.plan) h = this.block(g, b, h, training);
    h = g.scope('avgpool', () => avgPool(g, h));
    return this.linear(g, 'fc', h);
  }
}

/** The ResNet options of a config that may carry others (a ModelConfig's name, say). */
function pick(c: Partial<ResNetConfig> & { [k: string]: unknown }): Partial<ResNetConfig> {
  const out: Partial<ResNetConfig> = {};
  for (const k of ['numClasses', 'inChannels', 'stem', 'width'] as const) if (c[k] !== undefined) (out as Record<string, unknown>)[k] = c[k];
  return out;
}

/** ResNet-18 (BasicBlock, 4 stages × 2 blocks): `new ResNet18(engine, config, seed)`. */
export class ResNet18 extends ResNet {
  constructor(engine: Engine, config: Partial<ResNetConfig> & { name?: string } = {}, seed = 0) {
    if (config.name !== undefined && config.name !== 'resnet18') throw new Error(`ResNet18: the config is for ${config.name}; build it with createModel(engine, config)`);
    super(engine, 'resnet18', config, seed);
  }
}
