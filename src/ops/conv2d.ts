/**
 * conv2d: 2-D convolution, x [N,C,H,W] ⊛ w [O,C,KH,KW] (+ b [O]) → y [N,O,OH,OW],
 * OH = ⌊(H + 2·pad − KH)/stride⌋ + 1. Backward: dx by backward_data, dw by backward_weight, db by
 * a per-channel sum, each only when its input requires a gradient.
 *   dx[n,c,ih,iw] = Σ_{o,kh,kw} w[o,c,kh,kw]·dy[n,o,(ih+pad−kh)/s,(iw+pad−kw)/s]   (where divisible)
 *   dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,o,oh,ow]·x[n,c,oh·s−pad+kh,ow·s−pad+kw]
 *   db[o]         = Σ_{n,oh,ow} dy[n,o,oh,ow]
 * The optional bias (VGG's convs have one, ResNet's do not) is added in place after the product
 * (add_bias in shaders/elementwise.wgsl) and its gradient is reduce.wgsl's sum_channels.
 * Three kernel families compute the same three products; engine.kernels.conv.variant picks one
 * (its policy per adapter: src/ops/conv2d_policy.ts):
 *   'direct'   (CPU rasterizers) shaders/conv2d_direct*.wgsl: unrolled register tiles that reuse
 *              each loaded input across the taps that overlap it (code generated here);
 *   'tiled'    (GPUs) shaders/conv2d_tiled.wgsl: implicit GEMM through workgroup-memory tiles,
 *              tiles and split-K chosen per shape (src/ops/conv2d_tiled.ts);
 *   'register' shaders/conv2d.wgsl: a generic register-tiled loop, the reference fallback.
 * linear (H = W = 1) goes through the same three functions.
 */
import type { Tensor } from '../tensor';
import type { Engine } from '../gpu/engine';
import type { EntryBindings, EntryName, ParamValues } from '../gpu/kernel';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { CONV2D, CONV2D_TILED, ELEMENTWISE, REDUCE } from '../../shaders/kernels';
import { directBackwardData, directBackwardWeight, directForward, validDirectPlan, DIRECT_SHADERS } from './conv2d_direct';
import { tiledBackwardData, tiledBackwardWeight, tiledForward, validTiledPlan } from './conv2d_tiled';
import './conv2d_policy';
import { Tuner, type TunerOptions } from '../gpu/tune';

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

/** Every size of one convolution. */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number; OH: number; OW: number;
  stride: number; pad: number;
}

export function conv2dOutputSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

interface ConvSaved { geom: ConvGeometry; x: Tensor; w: Tensor; b: Tensor | null }

export const conv2dOp = defineOp({
  name: 'conv2d',
  forward(g: Graph, inputs: readonly [Tensor, Tensor] | readonly [Tensor, Tensor, Tensor], opts: Conv2dOptions): { y: Tensor; saved: ConvSaved } {
    const [x, w] = inputs, b = inputs[2] ?? null;
    const geom = conv2dGeometry(x, w, opts);
    if (b) expectShape('conv2d', 'bias b', b, [geom.O], `one per output channel of weight w [${w.shape.join(', ')}]`);
    const y = g.empty([geom.N, geom.O, geom.OH, geom.OW]);
    convForward(g.engine, geom, x, w, y);
    if (b) {
      const n = y.size;
      g.engine.run(ELEMENTWISE, 'add_bias', { params: { n, acc: 0, C: geom.O, inner: geom.OH * geom.OW, value: 0 }, bindings: { b, out: y }, invocations: n });
    }
    return { y, saved: { geom, x, w, b } };
  },
  backward(g, { geom, x, w, b }, dy) {
    convBackward(g, geom, x, w, dy);
    if (b && b.requiresGrad) {
      const { grad, acc } = g.gradTarget(b);
      g.engine.run(REDUCE, 'sum_channels', { params: { R: geom.N, C: geom.O, acc, inner: geom.OH * geom.OW }, bindings: { a: dy, out: grad }, invocations: geom.O });
    }
  },
});

/** y = conv2d(x, w) + b: x [N,C,H,W], w [O,C,KH,KW], b [O] or none → [N,O,OH,OW]. */
export function conv2d(g: Graph, x: Tensor, w: Tensor, opts: Conv2dOptions = {}, b: Tensor | null = null): Tensor {
  return g.apply(conv2dOp, b ? ([x, w, b] as const) : ([x, w] as const), opts);
}

/** Checks the inputs and returns every size of the convolution. */
function conv2dGeometry(x: Tensor, w: Tensor, opts: Conv2dOptions): ConvGeometry {
  const stride = opts.stride ?? 1, pad = opts.pad ?? 0;
  expectRank('conv2d', 'input x', x, 4, 'NCHW');
  expectRank('conv2d', 'weight w', w, 4, 'OIHW');
  expectDtype('conv2d', 'input x', x, 'f32');
  const [N, C, H, W] = x.shape;
  const [O, Cw, KH, KW] = w.shape;
  if (Cw !== C) {
    throw new ShapeError(`conv2d: input x [${x.shape.join(', ')}] has ${C} channels but weight w [${w.shape.join(', ')}] expects ${Cw}`);
  }
  if (!(stride >= 1 && Number.isInteger(stride)) || !(pad >= 0 && Number.isInteger(pad))) {
    throw new ShapeError(`conv2d: stride ${stride} and pad ${pad} must be integers ≥ 1 and ≥ 0`);
  }
  const OH = conv2dOutputSize(H, KH, stride, pad), OW = conv2dOutputSize(W, KW, stride, pad);
  if (OH < 1 || OW < 1) {
    throw new ShapeError(`conv2d: input x [${x.shape.join(', ')}] is smaller than the ${KH}×${KW} kernel with pad ${pad}`);
  }
  return { N, C, H, W, O, KH, KW, OH, OW, stride, pad };
}

// ---- the three products, by variant ------------------------------------------------------------

const taps = (g: ConvGeometry) => g.KH * g.KW;
/** Params of conv2d.wgsl: the geometry, and whether to add into the result. */
const params = (g: ConvGeometry, acc: number): ParamValues<typeof CONV2D> => ({ ...g, acc });

/** The backward rule shared by conv2d and linear: dx and dw, each only when wanted. */
export function convBackward(gr: Graph, g: ConvGeometry, x: Tensor, w: Tensor, dy: Tensor): void {
  if (x.requiresGrad) {
    const { grad, acc } = gr.gradTarget(x);
    convBackwardData(gr.engine, g, w, dy, grad, acc);
  }
  if (w.requiresGrad) {
    const { grad, acc } = gr.gradTarget(w);
    convBackwardWeight(gr, g, x, dy, grad, acc);
  }
}

/** y = conv(x, w). */
export function convForward(e: Engine, g: ConvGeometry, x: Tensor, w: Tensor, y: Tensor): void {
  const cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directForward(e, g, x, w, y);
  if (cfg.variant === 'tiled') return tiledForward(e, g, x, w, y);
  registerDispatch(e, 'forward', g.O, g.N * g.OH * g.OW, g.C * taps(g), params(g, 0), { x, w, y });
}

/** dx (+)= convᵀ(dy, w). */
export function convBackwardData(e: Engine, g: ConvGeometry, w: Tensor, dy: Tensor, dx: Tensor, acc: number): void {
  const cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directBackwardData(e, g, w, dy, dx, acc);
  if (cfg.variant === 'tiled') return tiledBackwardData(e, g, w, dy, dx, acc);
  registerDispatch(e, 'backward_data', g.C, g.N * g.H * g.W, g.O * taps(g), params(g, acc), { w, dy, dx });
}

/** dw (+)= dy ⋆ x. */
export function convBackwardWeight(gr: Graph, g: ConvGeometry, x: Tensor, dy: Tensor, dw: Tensor, acc: number): void {
  const e = gr.engine, cfg = e.kernels.conv;
  if (cfg.variant === 'direct') return directBackwardWeight(gr, g, x, dy, dw, acc);
  if (cfg.variant === 'tiled') return tiledBackwardWeight(gr, g, x, dy, dw, acc);
  registerDispatch(e, 'backward_weight', g.O, g.C * taps(g), g.N * g.OH * g.OW, params(g, acc), { x, dy, dw });
}

/** The register kernel: one invocation per TM × TN tile of the rows × cols result (a sum of depth terms each). */
function registerDispatch<E extends EntryName<typeof CONV2D>>(e: Engine, entry: E, rows: number, cols: number, depth: number,
  params: ParamValues<typeof CONV2D>, bindings: EntryBindings<typeof CONV2D, E>): void {
  const r = e.kernels.conv.register;
  e.run(CONV2D, entry, { consts: { TM: r.TM, TN: r.TN }, params, bindings,
    invocations: Math.ceil(rows / r.TM) * Math.ceil(cols / r.TN), wg: r.WG, flops: 2 * rows * cols * depth });
}

export { conv2dDirectPlan, type OutputTile, type WeightTile } from './conv2d_direct';

/**
 * Turns on the kernel autotuner for this engine (src/gpu/tune.ts): plans cached for its adapter
 * are loaded from the store now; shapes met for the first time are timed at the next
 * `tuner.tunePending()` (the Trainer calls it once a step has finished). It tunes the 'direct'
 * kernels' tiles (CPU adapters; the same numbers as the cost model's choice) and, where the policy
 * allows and the adapter offers timestamp queries (GPUs), the 'tiled' kernels' tiles and split-K
 * factors (the same numbers to float32 rounding: other splits sum in another order).
 */
export async function enableTuning(e: Engine, options: TunerOptions): Promise<Tuner> {
  e.tuner = await Tuner.create(e, options, (id, key, plan) => validDirectPlan(id, key, plan) || validTiledPlan(id, key, plan));
  return e.tuner;
}

/** The shader files conv2d dispatches (which ones run depends on engine.kernels.conv.variant). */
export const CONV2D_SHADERS = [CONV2D, CONV2D_TILED, ...DIRECT_SHADERS];
