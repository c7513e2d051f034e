// Float64 CPU reference of the whole ResNet-18 (torchvision's BasicBlock layout and state_dict
// names), forward and backward, built from the ops in ops.ts. Slow and plain on purpose: it is the
// ground truth for the GPU network, one training step at a time.
import {
  addForward, batchNormEvalForward, batchNormRunningUpdate, batchNormTrainBackward, batchNormTrainForward,
  conv2dBackward, conv2dForward, avgPoolBackward, avgPoolForward, linearBackward, linearForward,
  maxPoolBackward, maxPoolForward, reluBackward, reluForward, crossEntropyForwardBackward, type Shape4,
} from '../../src/reference/ops';
import { randomFloats } from '../util';

export interface ResNet18Config {
  numClasses: number;
  inChannels: number;
  /** 'cifar': conv 3×3 s1 p1 → bn → relu. 'imagenet': conv 7×7 s2 p3 → bn → relu → maxpool 3×3 s2 p1. */
  stem: 'cifar' | 'imagenet';
  /** Channel multiplier; 1 is the standard 64/128/256/512. */
  width: number;
}

/**
 * Channels of the four stages: max(1, round(64·2^i·width)), so width 1/8 gives 8/16/32/64 and a
 * very small width never reaches zero channels. The stem has the channels of layer1.
 */
export function resnet18Channels(width: number): [number, number, number, number] {
  return [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * width))) as [number, number, number, number];
}

interface BlockSpec { prefix: string; inC: number; outC: number; stride: number; downsample: boolean }

/** The eight BasicBlocks: layer1 stride 1, layers 2–4 stride 2 in their first block. */
function blockSpecs(cfg: ResNet18Config): BlockSpec[] {
  const ch = resnet18Channels(cfg.width), out: BlockSpec[] = [];
  let inC = ch[0];
  for (let stage = 0; stage < 4; stage++) {
    for (let b = 0; b < 2; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1, outC = ch[stage];
      out.push({ prefix: `layer${stage + 1}.${b}`, inC, outC, stride, downsample: stride !== 1 || inC !== outC });
      inC = outC;
    }
  }
  return out;
}

/** Trainable parameters in torchvision's state_dict order (module registration order). */
export function resnet18ParamShapes(cfg: ResNet18Config): [string, number[]][] {
  const ch = resnet18Channels(cfg.width), k = cfg.stem === 'cifar' ? 3 : 7;
  const bn = (name: string, c: number): [string, number[]][] => [[`${name}.weight`, [c]], [`${name}.bias`, [c]]];
  const out: [string, number[]][] = [['conv1.weight', [ch[0], cfg.inChannels, k, k]], ...bn('bn1', ch[0])];
  for (const b of blockSpecs(cfg)) {
    out.push([`${b.prefix}.conv1.weight`, [b.outC, b.inC, 3, 3]], ...bn(`${b.prefix}.bn1`, b.outC));
    out.push([`${b.prefix}.conv2.weight`, [b.outC, b.outC, 3, 3]], ...bn(`${b.prefix}.bn2`, b.outC));
    if (b.downsample) out.push([`${b.prefix}.downsample.0.weight`, [b.outC, b.inC, 1, 1]], ...bn(`${b.prefix}.downsample.1`, b.outC));
  }
  out.push(['fc.weight', [cfg.numClasses, ch[3]]], ['fc.bias', [cfg.numClasses]]);
  return out;
}

/** BN buffers (running_mean, running_var) in state_dict order; num_batches_tracked is left out. */
export function resnet18BufferShapes(cfg: ResNet18Config): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const [name, shape] of resnet18ParamShapes(cfg)) {
    if (name.endsWith('.bias') && name !== 'fc.bias') {
      const bn = name.slice(0, -'.bias'.length);
      out.push([`${bn}.running_mean`, shape], [`${bn}.running_var`, shape]);
    }
  }
  return out;
}

/**
 * Deterministic test values: conv and fc weights uniform with variance 2/fan_in (He, so activations
 * stay O(1) through 18 layers); BN γ = 1 ± 0.2 and β, fc bias ±0.2 (not 1 and 0, so their
 * gradients are tested in general position); running mean ±0.2, running var 1 ± 0.2 (so eval mode
 * is not the identity).
 */
export function resnet18RandomParams(cfg: ResNet18Config, seed = 1): { params: Map<string, Float64Array>; buffers: Map<string, Float64Array> } {
  const params = new Map<string, Float64Array>(), buffers = new Map<string, Float64Array>();
  const draw = (n: number, scale: number, offset = 0) => Float64Array.from(randomFloats(n, seed++, scale), (v) => v + offset);
  for (const [name, shape] of resnet18ParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape.length > 1) params.set(name, draw(n, Math.sqrt(6 / (n / shape[0])))); // uniform(±a) has variance a²/3
    else params.set(name, draw(n, 0.2, name.endsWith('.weight') ? 1 : 0));
  }
  for (const [name, [c]] of resnet18BufferShapes(cfg)) buffers.set(name, draw(c, 0.2, name.endsWith('_var') ? 1 : 0));
  return { params, buffers };
}

export interface ResNet18Options {
  train: boolean;
  labelSmoothing?: number;
  /** BN momentum for the running statistics (PyTorch default 0.1). */
  momentum?: number;
  /** BN epsilon (PyTorch default 1e-5). */
  eps?: number;
}

export interface ResNet18Result {
  logits: Float64Array;
  loss: number;
  /** Gradient of the mean loss for every trainable parameter (train mode only). */
  grads?: Map<string, Float64Array>;
  /** Running statistics after this step's update (train mode only); the inputs are not touched. */
  newBuffers?: Map<string, Float64Array>;
  /** Gradient of the mean loss with respect to the input x (train mode only). */
  dx?: Float64Array;
}

interface Act { data: Float64Array; shape: Shape4 }
interface BnCache { x: Act; mean: Float64Array; invstd: Float64Array }
interface BlockCache { x: Act; n1: BnCache; y1: Float64Array; r1: Act; n2: BnCache; nd?: BnCache; sum: Float64Array; y: Act }

/** Parameters, buffers and gradients of one call, with layer-level forward/backward helpers. */
class Net {
  readonly grads = new Map<string, Float64Array>();
  readonly newBuffers = new Map<string, Float64Array>();
  readonly shapes: Map<string, number[]>;

  constructor(cfg: ResNet18Config, readonly params: Map<string, Float64Array>, readonly buffers: Map<string, Float64Array>,
    readonly train: boolean, readonly eps: number, readonly momentum: number) {
    this.shapes = new Map([...resnet18ParamShapes(cfg), ...resnet18BufferShapes(cfg)]);
    for (const [name, shape] of this.shapes) {
      const v = (name.includes('.running_') ? buffers : params).get(name);
      const n = shape.reduce((a, b) => a * b, 1);
      if (!v) throw new Error(`resnet18Reference: missing ${name} [${shape}]`);
      if (v.length !== n) throw new Error(`resnet18Reference: ${name} has ${v.length} elements, expected [${shape}] = ${n}`);
    }
  }

  /** A parameter (checked present with the right size in the constructor). */
  p(name: string): Float64Array { return this.params.get(name)!; }

  conv(name: string, x: Act, stride: number, pad: number): Act {
    const w = this.p(`${name}.weight`), wShape = this.shapes.get(`${name}.weight`) as Shape4;
    const { y, shape } = conv2dForward(x.data, x.shape, w, wShape, { stride, pad });
    return { data: y, shape };
  }

  /** Returns dx; dw goes to grads[`${name}.weight`]. */
  convBack(name: string, x: Act, dy: Float64Array, stride: number, pad: number): Float64Array {
    const w = this.p(`${name}.weight`), wShape = this.shapes.get(`${name}.weight`) as Shape4;
    const { dx, dw } = conv2dBackward(x.data, x.shape, w, wShape, dy, { stride, pad });
    this.grads.set(`${name}.weight`, dw);
    return dx;
  }

  bn(name: string, x: Act): { y: Act; cache: BnCache } {
    const gamma = this.p(`${name}.weight`), beta = this.p(`${name}.bias`);
    const rm = this.buffers.get(`${name}.running_mean`)!, rv = this.buffers.get(`${name}.running_var`)!;
    if (!this.train) {
      const y = batchNormEvalForward(x.data, x.shape, gamma, beta, rm, rv, this.eps);
      return { y: { data: y, shape: x.shape }, cache: { x, mean: rm, invstd: new Float64Array(0) } };
    }
    const { y, mean, invstd, varUnbiased } = batchNormTrainForward(x.data, x.shape, gamma, beta, this.eps);
    const newMean = rm.slice(), newVar = rv.slice();
    batchNormRunningUpdate(newMean, newVar, mean, varUnbiased, this.momentum);
    this.newBuffers.set(`${name}.running_mean`, newMean);
    this.newBuffers.set(`${name}.running_var`, newVar);
    return { y: { data: y, shape: x.shape }, cache: { x, mean, invstd } };
  }

  bnBack(name: string, c: BnCache, dy: Float64Array): Float64Array {
    const gamma = this.p(`${name}.weight`);
    const { dx, dgamma, dbeta } = batchNormTrainBackward(c.x.data, c.x.shape, gamma, c.mean, c.invstd, dy);
    this.grads.set(`${name}.weight`, dgamma);
    this.grads.set(`${name}.bias`, dbeta);
    return dx;
  }

  /** conv → bn, the unit every conv in the network sits in. */
  convBn(conv: string, bn: string, x: Act, stride: number, pad: number): { h: Act; n: BnCache; y: Act } {
    const h = this.conv(conv, x, stride, pad);
    const { y, cache } = this.bn(bn, h);
    return { h, n: cache, y };
  }
}

const relu = (a: Act): Act => ({ data: reluForward(a.data), shape: a.shape });

/** y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = identity or bn(conv1×1(x)). */
function blockForward(net: Net, b: BlockSpec, x: Act): BlockCache {
  const c1 = net.convBn(`${b.prefix}.conv1`, `${b.prefix}.bn1`, x, b.stride, 1);
  const r1 = relu(c1.y);
  const c2 = net.convBn(`${b.prefix}.conv2`, `${b.prefix}.bn2`, r1, 1, 1);
  const ds = b.downsample ? net.convBn(`${b.prefix}.downsample.0`, `${b.prefix}.downsample.1`, x, b.stride, 0) : undefined;
  const sum = addForward(c2.y.data, ds ? ds.y.data : x.data);
  return { x, n1: c1.n, y1: c1.y.data, r1, n2: c2.n, nd: ds?.n, sum, y: { data: reluForward(sum), shape: c2.y.shape } };
}

/** Returns dx = d(main branch)/dx + d(shortcut)/dx; parameter gradients go to net.grads. */
function blockBackward(net: Net, b: BlockSpec, c: BlockCache, dy: Float64Array): Float64Array {
  const dsum = reluBackward(c.sum, dy);
  // main branch; the add passes dsum to both branches unchanged
  const dh2 = net.bnBack(`${b.prefix}.bn2`, c.n2, dsum);
  const dr1 = net.convBack(`${b.prefix}.conv2`, c.r1, dh2, 1, 1);
  const dn1 = reluBackward(c.y1, dr1);
  const dh1 = net.bnBack(`${b.prefix}.bn1`, c.n1, dn1);
  const dx = net.convBack(`${b.prefix}.conv1`, c.x, dh1, b.stride, 1);
  // shortcut
  if (b.downsample) {
    const dd = net.bnBack(`${b.prefix}.downsample.1`, c.nd!, dsum);
    const dxs = net.convBack(`${b.prefix}.downsample.0`, c.x, dd, b.stride, 0);
    for (let i = 0; i < dx.length; i++) dx[i] += dxs[i];
  } else {
    for (let i = 0; i < dx.length; i++) dx[i] += dsum[i];
  }
  return dx;
}

/**
 * One forward (and, in train mode, backward) pass of ResNet-18 on x [N, inChannels, H, W] with
 * integer labels. Train mode: BN on batch statistics, gradients of the mean loss for every
 * parameter, running statistics updated (in copies). Eval mode: BN on the running statistics.
 */
export function resnet18Reference(params: Map<string, Float64Array>, buffers: Map<string, Float64Array>, cfg: ResNet18Config,
  x: Float64Array, xShape: Shape4, labels: Int32Array, opts: ResNet18Options): ResNet18Result {
  const { train, labelSmoothing = 0, momentum = 0.1, eps = 1e-5 } = opts;
  if (xShape[1] !== cfg.inChannels) throw new Error(`resnet18Reference: x [${xShape}] has ${xShape[1]} channels, config says ${cfg.inChannels}`);
  if (labels.length !== xShape[0]) throw new Error(`resnet18Reference: ${labels.length} labels for a batch of ${xShape[0]}`);
  const net = new Net(cfg, params, buffers, train, eps, momentum);
  const specs = blockSpecs(cfg);
  const [stemStride, stemPad] = cfg.stem === 'imagenet' ? [2, 3] : [1, 1];

  // stem
  const x0: Act = { data: x, shape: xShape };
  const stem = net.convBn('conv1', 'bn1', x0, stemStride, stemPad);
  const stemRelu = relu(stem.y);
  const pool = cfg.stem === 'imagenet' ? maxPoolForward(stemRelu.data, stemRelu.shape, { k: 3, stride: 2, pad: 1 }) : undefined;
  let h: Act = pool ? { data: pool.y, shape: pool.shape } : stemRelu;

  // stages
  const caches: BlockCache[] = [];
  for (const b of specs) {
    const c = blockForward(net, b, h);
    caches.push(c);
    h = c.y;
  }

  // head
  const [N, C] = h.shape;
  const pooled = avgPoolForward(h.data, h.shape);
  const fcW = net.p('fc.weight'), fcB = net.p('fc.bias');
  const logits = linearForward(pooled, [N, C], fcW, fcB);
  const { loss, dlogits } = crossEntropyForwardBackward(logits, labels, labelSmoothing);
  if (!train) return { logits, loss };

  // backward, in reverse
  const fc = linearBackward(pooled, [N, C], fcW, dlogits);
  net.grads.set('fc.weight', fc.dw);
  net.grads.set('fc.bias', fc.db);
  let dh = avgPoolBackward(fc.dx, h.shape);
  for (let i = specs.length - 1; i >= 0; i--) dh = blockBackward(net, specs[i], caches[i], dh);
  if (pool) dh = maxPoolBackward(dh, pool.argmax, stemRelu.shape);
  const dstem = reluBackward(stem.y.data, dh);
  const dh0 = net.bnBack('bn1', stem.n, dstem);
  const dx = net.convBack('conv1', x0, dh0, stemStride, stemPad);

  // same order as resnet18ParamShapes, so a caller can walk both together
  const grads = new Map<string, Float64Array>();
  for (const [name] of resnet18ParamShapes(cfg)) grads.set(name, net.grads.get(name)!);
  return { logits, loss, grads, newBuffers: net.newBuffers, dx };
}
