/**
 * VGG-11 and VGG-16 with batch norm, under torchvision's vgg11_bn / vgg16_bn names
 * (torchvision/models/vgg.py): `features` is the same Sequential (Conv2d 3×3 pad 1 with bias,
 * BatchNorm2d, ReLU; MaxPool2d 2×2/2 between stages), so `features.0.weight`, `features.1.running_mean`
 * and the rest keep torchvision's indices; `classifier.0`, `.3`, `.6` are its three Linear layers.
 *
 * Sized for small images (28×28, 32×32), it differs from torchvision's in three documented ways:
 * - the last max pool is left out (five would take 28×28 below 1×1; four leave 1×1 or 2×2), so
 *   `features` ends at its last ReLU (the pool has no parameters: the names do not change);
 * - `avgpool` is a global average pool (AdaptiveAvgPool2d(1)) instead of AdaptiveAvgPool2d(7), so
 *   the classifier takes C channels, not C·7·7;
 * - the classifier's hidden layers have 512·width units instead of 4096, and no dropout (critdamp
 *   has no dropout op; torchvision's Dropout layers sit at indices 2 and 5, between the same ReLUs).
 * Its classifier starts from nn.Linear's default initialisation (torchvision's VGG uses N(0, 0.01²)).
 * Channels are torchvision's (64 … 512) times `width`, rounded, at least 1. tools/critdamp_torch.py
 * builds the PyTorch module with these changes (from torchvision's own VGG class at width 1).
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { relu, maxPool, avgPool, ShapeError } from '../ops';
import { Module, ParamLayout, checkBaseConfig, initParams } from './model';

export type VGGName = 'vgg11_bn' | 'vgg16_bn';

export type VGGConfig = { numClasses: number; inChannels: number; width: number };

/** torchvision's cfgs 'A' (VGG-11) and 'D' (VGG-16): conv widths, 'M' for a max pool. */
export const VGG_CFGS: Record<VGGName, readonly (number | 'M')[]> = {
  vgg11_bn: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16_bn: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

type Step = { kind: 'conv'; index: number; out: number; cin: number; block: number } | { kind: 'pool'; index: number };

/** The features Sequential: each conv at its torchvision index (its BN at index + 1), each pool; the last pool dropped. */
function plan(name: VGGName, cfg: VGGConfig): { steps: Step[]; channels: number } {
  const steps: Step[] = [];
  let index = 0, cin = cfg.inChannels, block = 1;
  for (const v of VGG_CFGS[name]) {
    if (v === 'M') {
      steps.push({ kind: 'pool', index });
      index += 1;
      block += 1;
    } else {
      const out = Math.max(1, Math.round(v * cfg.width));
      steps.push({ kind: 'conv', index, out, cin, block });
      index += 3;
      cin = out;
    }
  }
  steps.pop(); // the last max pool (see the header)
  return { steps, channels: cin };
}

function validate(name: VGGName, cfg: VGGConfig): void {
  if (!(name in VGG_CFGS)) throw new Error(`vgg: unknown model '${name}' (${Object.keys(VGG_CFGS).join(', ')})`);
  checkBaseConfig(cfg, name);
  if (!(typeof cfg.width === 'number' && cfg.width > 0 && Number.isFinite(cfg.width))) throw new Error(`${name}: width must be a positive number, got ${String(cfg.width)}`);
}

/** The classifier's hidden units: 512·width (torchvision: 4096). */
export function vggHidden(width: number): number {
  return Math.max(1, Math.round(512 * width));
}

export function vggSpecs(name: VGGName, cfg: VGGConfig): ParamLayout {
  validate(name, cfg);
  const p = new ParamLayout();
  const { steps, channels } = plan(name, cfg);
  for (const s of steps) if (s.kind === 'conv') p.conv(`features.${s.index}`, s.out, s.cin, 3, { bias: true }).bn(`features.${s.index + 1}`, s.out);
  const h = vggHidden(cfg.width);
  return p.linear('classifier.0', h, channels).linear('classifier.3', h, h).linear('classifier.6', cfg.numClasses, h);
}

export class VGG extends Module {
  declare readonly config: VGGConfig & { name: VGGName };
  private readonly steps: Step[];
  /** Group of each features module: the conv stage it is in (block1 … block5). */
  private readonly blockOf = new Map<string, string>();

  constructor(engine: Engine, name: VGGName, config: Partial<VGGConfig> = {}, seed = 0) {
    const cfg = { numClasses: config.numClasses ?? 10, inChannels: config.inChannels ?? 3, width: config.width ?? 1, name };
    // torchvision's VGG._initialize_weights for the convs (Kaiming normal, zero biases) and BN; the
    // classifier as nn.Linear's default, U(±1/√fan_in): torchvision's N(0, 0.01²) suits its 4096-wide
    // layers, but through three 512·width-wide ones it leaves the logits ~10⁻⁵ and the first steps without a gradient.
    super(engine, cfg, vggSpecs(name, cfg), seed, (store, s) => initParams(store, s, { linear: 'pytorch' }));
    this.steps = plan(name, cfg).steps;
    for (const s of this.steps) {
      if (s.kind !== 'conv') continue;
      this.blockOf.set(`features.${s.index}`, `block${s.block}`);
      this.blockOf.set(`features.${s.index + 1}`, `block${s.block}`);
    }
  }

  /** Groups: the conv stages between pools (block1 … block5, conv and BN), and the classifier. */
  protected override groupOf(layer: string): string {
    return this.blockOf.get(layer) ?? layer.split('.')[0];
  }

  forward(g: Graph, x: Tensor, opts: { training: boolean }): Tensor {
    const cfg = this.config;
    if (x.shape.length !== 4 || x.shape[1] !== cfg.inChannels) {
      throw new ShapeError(`${cfg.name}: input must be [N, ${cfg.inChannels}, H, W] (NCHW), got [${x.shape.join(', ')}]`);
    }
    let h = x;
    for (const s of this.steps) {
      if (s.kind === 'conv') {
        h = this.bn(g, `features.${s.index + 1}`, this.conv(g, `features.${s.index}`, h, { pad: 1 }), opts.training, true);
      } else {
        if (h.shape[2] < 2 || h.shape[3] < 2) {
          throw new ShapeError(`${cfg.name}: the input [${x.shape.join(', ')}] is too small: features.${s.index} (max pool 2×2/2) meets a ${h.shape[2]}×${h.shape[3]} map; give images of at least 16×16`);
        }
        h = g.scope(`features.${s.index}`, () => maxPool(g, h, { kernel: 2, stride: 2, pad: 0 }));
      }
    }
    h = g.scope('avgpool', () => avgPool(g, h));
    for (const [fc, act] of [['classifier.0', 'classifier.1'], ['classifier.3', 'classifier.4']]) {
      const z = this.linear(g, fc, h);
      h = g.scope(act, () => relu(g, z));
    }
    return this.linear(g, 'classifier.6', h);
  }
}
