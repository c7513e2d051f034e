// Float64 CPU references of the built-in models other than the hand-unrolled ResNet-18
// (test/reference/resnet.ts): ResNet-18/34/50, VGG-11/16 with BN (critdamp's small-input variant,
// src/nn/vgg.ts) and the MLP, each written from torchvision's module structure, not from src/nn.
// A small tape runs the reference ops (src/reference/ops.ts) forward and their backward in reverse,
// so every gradient of the mean loss comes out, with the BN running statistics after the step.
import {
  addForward, batchNormEvalForward, batchNormRunningUpdate, batchNormTrainBackward, batchNormTrainForward, conv2dBackward, conv2dForward,
  avgPoolBackward, avgPoolForward, linearBackward, linearForward, maxPoolBackward, maxPoolForward, reluBackward, reluForward,
  crossEntropyForwardBackward, type Shape4,
} from '../../src/reference/ops';
import { randomFloats } from '../util';

interface Act { data: Float64Array; shape: number[]; grad: Float64Array | null }

const act = (data: Float64Array, shape: number[]): Act => ({ data, shape, grad: null });
const shape4 = (a: Act) => a.shape as Shape4;

function accumulate(a: Act, d: Float64Array): void {
  if (!a.grad) a.grad = new Float64Array(a.data.length);
  for (let i = 0; i < d.length; i++) a.grad[i] += d[i];
}

export interface ReferenceResult {
  logits: Float64Array;
  loss: number;
  /** Gradient of the mean loss for every parameter (train mode). */
  grads: Map<string, Float64Array>;
  /** Running statistics after the step (train mode). */
  newBuffers: Map<string, Float64Array>;
}

/** The ops a model is made of, each recording its backward rule; grads accumulate (+=). */
export class Tape {
  readonly grads = new Map<string, Float64Array>();
  readonly newBuffers = new Map<string, Float64Array>();
  private readonly rules: (() => void)[] = [];

  constructor(readonly params: Map<string, Float64Array>, readonly buffers: Map<string, Float64Array>, readonly train: boolean,
    readonly shapes: Map<string, number[]>, readonly eps = 1e-5, readonly momentum = 0.1) {}

  private p(name: string): Float64Array {
    const v = this.params.get(name);
    if (!v) throw new Error(`reference: missing parameter ${name}`);
    return v;
  }

  private addGrad(name: string, d: Float64Array): void {
    const g = this.grads.get(name);
    if (!g) this.grads.set(name, Float64Array.from(d));
    else for (let i = 0; i < d.length; i++) g[i] += d[i];
  }

  /** nn.Conv2d: y = conv(x, w) (+ b[o] when `name.bias` exists). */
  conv(name: string, x: Act, stride: number, pad: number): Act {
    const w = this.p(`${name}.weight`), wShape = this.shapes.get(`${name}.weight`) as Shape4, b = this.params.get(`${name}.bias`);
    const { y, shape } = conv2dForward(x.data, shape4(x), w, wShape, { stride, pad });
    const inner = shape[2] * shape[3];
    if (b) for (let i = 0; i < y.length; i++) y[i] += b[Math.floor(i / inner) % shape[1]];
    const out = act(y, shape);
    this.rules.push(() => {
      const dy = out.grad!;
      const { dx, dw } = conv2dBackward(x.data, shape4(x), w, wShape, dy, { stride, pad });
      this.addGrad(`${name}.weight`, dw);
      if (b) {
        const db = new Float64Array(shape[1]);
        for (let i = 0; i < dy.length; i++) db[Math.floor(i / inner) % shape[1]] += dy[i];
        this.addGrad(`${name}.bias`, db);
      }
      accumulate(x, dx);
    });
    return out;
  }

  /** nn.BatchNorm2d: batch statistics and a running update in training, running statistics in eval. */
  bn(name: string, x: Act): Act {
    const gamma = this.p(`${name}.weight`), beta = this.p(`${name}.bias`);
    const rm = this.buffers.get(`${name}.running_mean`)!, rv = this.buffers.get(`${name}.running_var`)!;
    if (!this.train) return act(batchNormEvalForward(x.data, shape4(x), gamma, beta, rm, rv, this.eps), x.shape);
    const { y, mean, invstd, varUnbiased } = batchNormTrainForward(x.data, shape4(x), gamma, beta, this.eps);
    const m = rm.slice(), v = rv.slice();
    batchNormRunningUpdate(m, v, mean, varUnbiased, this.momentum);
    this.newBuffers.set(`${name}.running_mean`, m);
    this.newBuffers.set(`${name}.running_var`, v);
    const out = act(y, x.shape);
    this.rules.push(() => {
      const { dx, dgamma, dbeta } = batchNormTrainBackward(x.data, shape4(x), gamma, mean, invstd, out.grad!);
      this.addGrad(`${name}.weight`, dgamma);
      this.addGrad(`${name}.bias`, dbeta);
      accumulate(x, dx);
    });
    return out;
  }

  relu(x: Act): Act {
    const out = act(reluForward(x.data), x.shape);
    this.rules.push(() => accumulate(x, reluBackward(x.data, out.grad!)));
    return out;
  }

  add(a: Act, b: Act): Act {
    const out = act(addForward(a.data, b.data), a.shape);
    this.rules.push(() => { accumulate(a, out.grad!); accumulate(b, out.grad!); });
    return out;
  }

  maxPool(x: Act, k: number, stride: number, pad: number): Act {
    const r = maxPoolForward(x.data, shape4(x), { k, stride, pad });
    const out = act(r.y, r.shape);
    this.rules.push(() => accumulate(x, maxPoolBackward(out.grad!, r.argmax, shape4(x))));
    return out;
  }

  /** Global average pool, [N, C, H, W] → [N, C]. */
  avgPool(x: Act): Act {
    const out = act(avgPoolForward(x.data, shape4(x)), [x.shape[0], x.shape[1]]);
    this.rules.push(() => accumulate(x, avgPoolBackward(out.grad!, shape4(x))));
    return out;
  }

  /** nn.Flatten then nn.Linear. */
  linear(name: string, x: Act): Act {
    const w = this.p(`${name}.weight`), b = this.p(`${name}.bias`);
    const N = x.shape[0], IN = x.data.length / N;
    const out = act(linearForward(x.data, [N, IN], w, b), [N, b.length]);
    this.rules.push(() => {
      const r = linearBackward(x.data, [N, IN], w, out.grad!);
      this.addGrad(`${name}.weight`, r.dw);
      this.addGrad(`${name}.bias`, r.db);
      accumulate(x, r.dx);
    });
    return out;
  }

  /** Cross-entropy of the logits, then every backward rule in reverse. */
  finish(logits: Act, labels: Int32Array): ReferenceResult {
    const { loss, dlogits } = crossEntropyForwardBackward(logits.data, labels);
    if (this.train) {
      logits.grad = dlogits;
      for (let i = this.rules.length - 1; i >= 0; i--) this.rules[i]();
    }
    return { logits: logits.data, loss, grads: this.grads, newBuffers: this.newBuffers };
  }
}

/** Deterministic test values: He-scaled weights, BN γ = 1 ± 0.2, β and biases ±0.2, running mean ±0.2, var 1 ± 0.2. */
export function randomState(shapes: Map<string, number[]>, seed = 1): { params: Map<string, Float64Array>; buffers: Map<string, Float64Array> } {
  const params = new Map<string, Float64Array>(), buffers = new Map<string, Float64Array>();
  const draw = (n: number, scale: number, offset = 0) => Float64Array.from(randomFloats(n, seed++, scale), (v) => v + offset);
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const into = name.includes('.running_') ? buffers : params;
    if (shape.length > 1) into.set(name, draw(n, Math.sqrt(6 / (n / shape[0]))));
    else into.set(name, draw(n, 0.2, name.endsWith('.weight') || name.endsWith('_var') ? 1 : 0));
  }
  return { params, buffers };
}

// ---- the architectures, from torchvision ------------------------------------------------------------

export type RefResNetName = 'resnet18' | 'resnet34' | 'resnet50';
export interface RefResNetConfig { numClasses: number; inChannels: number; stem: 'cifar' | 'imagenet'; width: number }

const LAYERS: Record<RefResNetName, [number, number, number, number]> = { resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3], resnet50: [3, 4, 6, 3] };

/** torchvision's ResNet.forward with BasicBlock (18, 34) or Bottleneck (50), channels 64·2^i·width. */
export function resnetForward(t: Tape, name: RefResNetName, cfg: RefResNetConfig, x: Act): Act {
  const bottleneck = name === 'resnet50', exp = bottleneck ? 4 : 1;
  const ch = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * cfg.width)));
  let h = cfg.stem === 'imagenet' ? t.conv('conv1', x, 2, 3) : t.conv('conv1', x, 1, 1);
  h = t.relu(t.bn('bn1', h));
  if (cfg.stem === 'imagenet') h = t.maxPool(h, 3, 2, 1);
  let inplanes = ch[0];
  for (let s = 0; s < 4; s++) {
    for (let b = 0; b < LAYERS[name][s]; b++) {
      const p = `layer${s + 1}.${b}`, stride = s > 0 && b === 0 ? 2 : 1, planes = ch[s];
      let out: Act;
      if (bottleneck) {
        out = t.relu(t.bn(`${p}.bn1`, t.conv(`${p}.conv1`, h, 1, 0)));
        out = t.relu(t.bn(`${p}.bn2`, t.conv(`${p}.conv2`, out, stride, 1)));
        out = t.bn(`${p}.bn3`, t.conv(`${p}.conv3`, out, 1, 0));
      } else {
        out = t.relu(t.bn(`${p}.bn1`, t.conv(`${p}.conv1`, h, stride, 1)));
        out = t.bn(`${p}.bn2`, t.conv(`${p}.conv2`, out, 1, 1));
      }
      const identity = stride !== 1 || inplanes !== planes * exp ? t.bn(`${p}.downsample.1`, t.conv(`${p}.downsample.0`, h, stride, 0)) : h;
      h = t.relu(t.add(out, identity));
      inplanes = planes * exp;
    }
  }
  return t.linear('fc', t.avgPool(h));
}

/** torchvision's ResNet state_dict shapes (BN buffers included), from _make_layer's rules. */
export function resnetShapes(name: RefResNetName, cfg: RefResNetConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const bottleneck = name === 'resnet50', exp = bottleneck ? 4 : 1;
  const ch = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * cfg.width)));
  const conv = (n: string, o: number, i: number, k: number) => m.set(`${n}.weight`, [o, i, k, k]);
  const bn = (n: string, c: number) => { for (const f of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${n}.${f}`, [c]); };
  conv('conv1', ch[0], cfg.inChannels, cfg.stem === 'cifar' ? 3 : 7);
  bn('bn1', ch[0]);
  let inplanes = ch[0];
  for (let s = 0; s < 4; s++) {
    for (let b = 0; b < LAYERS[name][s]; b++) {
      const p = `layer${s + 1}.${b}`, stride = s > 0 && b === 0 ? 2 : 1, planes = ch[s];
      if (bottleneck) {
        conv(`${p}.conv1`, planes, inplanes, 1); bn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, planes, planes, 3); bn(`${p}.bn2`, planes);
        conv(`${p}.conv3`, planes * 4, planes, 1); bn(`${p}.bn3`, planes * 4);
      } else {
        conv(`${p}.conv1`, planes, inplanes, 3); bn(`${p}.bn1`, planes);
        conv(`${p}.conv2`, planes, planes, 3); bn(`${p}.bn2`, planes);
      }
      if (stride !== 1 || inplanes !== planes * exp) { conv(`${p}.downsample.0`, planes * exp, inplanes, 1); bn(`${p}.downsample.1`, planes * exp); }
      inplanes = planes * exp;
    }
  }
  m.set('fc.weight', [cfg.numClasses, inplanes]).set('fc.bias', [cfg.numClasses]);
  return m;
}

export type RefVGGName = 'vgg11_bn' | 'vgg16_bn';
export interface RefVGGConfig { numClasses: number; inChannels: number; width: number }
const CFGS: Record<RefVGGName, (number | 'M')[]> = {
  vgg11_bn: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16_bn: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

/**
 * torchvision's make_layers(cfg, batch_norm=True) without its last MaxPool2d, then a global average
 * pool and Linear–ReLU–Linear–ReLU–Linear (dropout left out) with 512·width hidden units.
 */
export function vggForward(t: Tape, name: RefVGGName, x: Act): Act {
  const cfg = CFGS[name];
  let h = x, i = 0;
  cfg.forEach((v, j) => {
    if (v === 'M') {
      if (j < cfg.length - 1) h = t.maxPool(h, 2, 2, 0);
      i += 1;
    } else {
      h = t.relu(t.bn(`features.${i + 1}`, t.conv(`features.${i}`, h, 1, 1)));
      i += 3;
    }
  });
  h = t.relu(t.linear('classifier.0', t.avgPool(h)));
  h = t.relu(t.linear('classifier.3', h));
  return t.linear('classifier.6', h);
}

export function vggShapes(name: RefVGGName, c: RefVGGConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  let i = 0, cin = c.inChannels;
  for (const v of CFGS[name]) {
    if (v === 'M') { i += 1; continue; }
    const o = Math.max(1, Math.round(v * c.width));
    m.set(`features.${i}.weight`, [o, cin, 3, 3]).set(`features.${i}.bias`, [o]);
    for (const f of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`features.${i + 1}.${f}`, [o]);
    cin = o;
    i += 3;
  }
  const hdn = Math.max(1, Math.round(512 * c.width));
  return m.set('classifier.0.weight', [hdn, cin]).set('classifier.0.bias', [hdn]).set('classifier.3.weight', [hdn, hdn]).set('classifier.3.bias', [hdn])
    .set('classifier.6.weight', [c.numClasses, hdn]).set('classifier.6.bias', [c.numClasses]);
}

/** Flatten, then Linear+ReLU per hidden layer, then Linear. */
export function mlpForward(t: Tape, hidden: number[], x: Act): Act {
  let h = x;
  hidden.forEach((_, i) => { h = t.relu(t.linear(`fc${i + 1}`, h)); });
  return t.linear(`fc${hidden.length + 1}`, h);
}

export function mlpShapes(c: { numClasses: number; inChannels: number; inputSize: [number, number]; hidden: number[] }): Map<string, number[]> {
  const m = new Map<string, number[]>();
  let inF = c.inChannels * c.inputSize[0] * c.inputSize[1];
  c.hidden.forEach((h, i) => { m.set(`fc${i + 1}.weight`, [h, inF]).set(`fc${i + 1}.bias`, [h]); inF = h; });
  return m.set(`fc${c.hidden.length + 1}.weight`, [c.numClasses, inF]).set(`fc${c.hidden.length + 1}.bias`, [c.numClasses]);
}

/** One float64 step of a model on x: logits, mean loss, every gradient and the new running statistics. */
export function referenceStep(forward: (t: Tape, x: Act) => Act, shapes: Map<string, number[]>, params: Map<string, Float64Array>, buffers: Map<string, Float64Array>,
  x: Float64Array, xShape: number[], labels: Int32Array, train = true): ReferenceResult {
  const t = new Tape(params, buffers, train, shapes);
  return t.finish(forward(t, act(x, xShape)), labels);
}
