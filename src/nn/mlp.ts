/**
 * A small MLP: the image flattened, then Linear → ReLU per hidden layer, then a Linear to the
 * classes. Parameters `fc1`, `fc2`, … (nn.Linear's names and layout: weight [out, in]); each
 * layer is its own group. It takes one image size (config.inputSize), which its first layer's
 * width depends on.
 */
import type { Engine } from '../gpu/engine';
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';
import { relu, ShapeError } from '../ops';
import { Module, ParamLayout, checkBaseConfig } from './model';

export type MLPConfig = { numClasses: number; inChannels: number; inputSize: [number, number]; hidden: number[] };

export const MLP_HIDDEN = [256, 128];

function validate(cfg: MLPConfig): void {
  checkBaseConfig(cfg, 'mlp');
  const okSize = Array.isArray(cfg.inputSize) && cfg.inputSize.length === 2 && cfg.inputSize.every((v) => Number.isInteger(v) && v >= 1);
  if (!okSize) throw new Error(`mlp: inputSize must be [height, width] of positive integers, got ${JSON.stringify(cfg.inputSize)}`);
  if (!Array.isArray(cfg.hidden) || !cfg.hidden.every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`mlp: hidden must be a list of layer widths ≥ 1, got ${JSON.stringify(cfg.hidden)}`);
}

export function mlpSpecs(cfg: MLPConfig): ParamLayout {
  validate(cfg);
  const p = new ParamLayout();
  let inF = cfg.inChannels * cfg.inputSize[0] * cfg.inputSize[1];
  cfg.hidden.forEach((h, i) => {
    p.linear(`fc${i + 1}`, h, inF);
    inF = h;
  });
  return p.linear(`fc${cfg.hidden.length + 1}`, cfg.numClasses, inF);
}

export class MLP extends Module {
  declare readonly config: MLPConfig & { name: 'mlp' };

  constructor(engine: Engine, config: Partial<MLPConfig> & { numClasses: number; inChannels: number; inputSize: [number, number] }, seed = 0) {
    const cfg = { numClasses: config.numClasses, inChannels: config.inChannels, inputSize: config.inputSize, hidden: config.hidden ?? MLP_HIDDEN, name: 'mlp' as const };
    super(engine, cfg, mlpSpecs(cfg), seed);
  }

  forward(g: Graph, x: Tensor, _opts: { training: boolean }): Tensor {
    const { inChannels: c, inputSize: [h, w], hidden } = this.config;
    if (x.shape.length !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new ShapeError(`mlp: input must be [N, ${c}, ${h}, ${w}] (its config's inputSize), got [${x.shape.join(', ')}]`);
    }
    let y = x;
    for (let i = 1; i <= hidden.length; i++) {
      const z = this.linear(g, `fc${i}`, y);
      y = g.scope(`relu${i}`, () => relu(g, z));
    }
    return this.linear(g, `fc${hidden.length + 1}`, y);
  }
}
