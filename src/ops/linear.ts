/**
 * linear: y = x·Wᵀ + b, x [N,in], W [out,in] (PyTorch's layout), b [out].
 * The matrix product is conv2d's kernel at 1×1 spatial size (y[n,o] = Σ_c w[o,c]·x[n,c]), so its
 * forward and both backward products share one tested shader; the bias is added in place.
 *   dx = dy·W,  dW = dyᵀ·x,  db = Σ_n dy
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { ELEMENTWISE } from './elementwise';
import conv2dWgsl from '../../shaders/conv2d.wgsl';
import reduceWgsl from '../../shaders/reduce.wgsl';

const CONV: ShaderSource = { name: 'conv2d.wgsl', code: conv2dWgsl };
const REDUCE: ShaderSource = { name: 'reduce.wgsl', code: reduceWgsl };

export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  expectRank('linear', 'input x', x, 2, '[batch, features]');
  expectRank('linear', 'weight', w, 2, '[out, in]');
  expectDtype('linear', 'input x', x, 'f32');
  const [N, C] = x.shape;
  const [O, Cw] = w.shape;
  if (Cw !== C) throw new ShapeError(`linear: input x [${x.shape.join(', ')}] has ${C} features but weight [${w.shape.join(', ')}] expects ${Cw}`);
  if (b) expectShape('linear', 'bias', b, [O], `one per output of weight [${w.shape.join(', ')}]`);
  const e = x.engine, tape = e.tape, cfg = e.kernels.conv, wg = e.kernels.wg;
  const consts = { TM: cfg.TM, TN: cfg.TN };
  const params = (acc: number) => [N, C, 1, 1, O, 1, 1, 1, 1, 1, 0, acc];
  const tiles = (rows: number, cols: number) => Math.ceil(rows / cfg.TM) * Math.ceil(cols / cfg.TN);
  const y = tape.own(e.empty([N, O]));
  e.dispatch({ shader: CONV, entry: 'forward', consts, u32: params(0), bindings: { 1: x, 2: w, 3: y }, invocations: tiles(O, N), wg: cfg.WG });
  if (b) e.dispatch({ shader: ELEMENTWISE, entry: 'add_bias', u32: [N * O, 0, O, 1], f32: [0], bindings: { 2: b, 3: y }, invocations: N * O, wg });

  const inputs = b ? [x, w, b] : [x, w];
  if (tape.wants(inputs)) {
    tape.record('linear', inputs, y, () => {
      const dy = y.grad!;
      if (x.requiresGrad) {
        const { grad, acc } = tape.gradTarget(x);
        e.dispatch({ shader: CONV, entry: 'backward_data', consts, u32: params(acc), bindings: { 2: w, 4: dy, 5: grad }, invocations: tiles(C, N), wg: cfg.WG });
      }
      if (w.requiresGrad) {
        const { grad, acc } = tape.gradTarget(w);
        e.dispatch({ shader: CONV, entry: 'backward_weight', consts, u32: params(acc), bindings: { 1: x, 4: dy, 6: grad }, invocations: tiles(O, C), wg: cfg.WG });
      }
      if (b && b.requiresGrad) {
        const { grad, acc } = tape.gradTarget(b);
        e.dispatch({ shader: REDUCE, entry: 'sum_rows', u32: [N, O, acc], bindings: { 1: dy, 2: grad }, invocations: O, wg });
      }
    });
  }
  return y;
}
