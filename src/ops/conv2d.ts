/**
 * conv2d: 2-D convolution without bias, x [N,C,H,W] ⊛ w [O,C,KH,KW] → y [N,O,OH,OW],
 * OH = ⌊(H + 2·pad − KH)/stride⌋ + 1. Backward: dx by backward_data, dw by backward_weight
 * (shaders/conv2d.wgsl), each only when its input requires a gradient.
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, ShapeError } from './check';
import conv2dWgsl from '../../shaders/conv2d.wgsl';

const SHADER: ShaderSource = { name: 'conv2d.wgsl', code: conv2dWgsl };

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

export function conv2dOutputSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
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
  const e = x.engine, tape = e.tape;
  const y = tape.own(e.empty([N, O, OH, OW]));
  const cfg = e.kernels.conv;
  const consts = { TM: cfg.TM, TN: cfg.TN };
  const params = (acc: number) => [N, C, H, W, O, OH, OW, KH, KW, stride, pad, acc];
  const tiles = (rows: number, cols: number) => Math.ceil(rows / cfg.TM) * Math.ceil(cols / cfg.TN);

  e.dispatch({ shader: SHADER, entry: 'forward', consts, u32: params(0), bindings: { 1: x, 2: w, 3: y },
    invocations: tiles(O, N * OH * OW), wg: cfg.WG });

  if (tape.wants([x, w])) {
    tape.record('conv2d', [x, w], y, () => {
      const dy = y.grad!;
      if (x.requiresGrad) {
        const { grad, acc } = tape.gradTarget(x);
        e.dispatch({ shader: SHADER, entry: 'backward_data', consts, u32: params(acc), bindings: { 2: w, 4: dy, 5: grad },
          invocations: tiles(C, N * H * W), wg: cfg.WG });
      }
      if (w.requiresGrad) {
        const { grad, acc } = tape.gradTarget(w);
        e.dispatch({ shader: SHADER, entry: 'backward_weight', consts, u32: params(acc), bindings: { 1: x, 4: dy, 6: grad },
          invocations: tiles(O, C * KH * KW), wg: cfg.WG });
      }
    });
  }
  return y;
}
