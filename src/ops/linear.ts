/**
 * linear: y = x·Wᵀ + b, x [N,in], W [out,in] (PyTorch's layout), b [out].
 * The matrix product is conv2d at 1×1 spatial size (y[n,o] = Σ_c w[o,c]·x[n,c]), so its forward
 * and both backward products go through conv2d's tested kernels; the bias is added in place.
 *   dx = dy·W,  dW = dyᵀ·x,  db = Σ_n dy
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { ELEMENTWISE } from './elementwise';
import { convBackward, convForward, type ConvGeometry } from './conv2d';
import reduceWgsl from '../../shaders/reduce.wgsl';

const REDUCE: ShaderSource = { name: 'reduce.wgsl', code: reduceWgsl };

export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  expectRank('linear', 'input x', x, 2, '[batch, features]');
  expectRank('linear', 'weight', w, 2, '[out, in]');
  expectDtype('linear', 'input x', x, 'f32');
  const [N, C] = x.shape;
  const [O, Cw] = w.shape;
  if (Cw !== C) throw new ShapeError(`linear: input x [${x.shape.join(', ')}] has ${C} features but weight [${w.shape.join(', ')}] expects ${Cw}`);
  if (b) expectShape('linear', 'bias', b, [O], `one per output of weight [${w.shape.join(', ')}]`);
  const e = x.engine, tape = e.tape, wg = e.kernels.wg;
  const g: ConvGeometry = { N, C, H: 1, W: 1, O, KH: 1, KW: 1, OH: 1, OW: 1, stride: 1, pad: 0 };
  const y = tape.own(e.empty([N, O]));
  convForward(e, g, x, w, y);
  if (b) e.dispatch({ shader: ELEMENTWISE, entry: 'add_bias', u32: [N * O, 0, O, 1], f32: [0], bindings: { 2: b, 3: y }, invocations: N * O, wg });

  const inputs = b ? [x, w, b] : [x, w];
  if (tape.wants(inputs)) {
    tape.record('linear', inputs, y, () => {
      const dy = y.grad!;
      convBackward(g, x, w, dy);
      if (b && b.requiresGrad) {
        const { grad, acc } = tape.gradTarget(b);
        e.dispatch({ shader: REDUCE, entry: 'sum_rows', u32: [N, O, acc], bindings: { 1: dy, 2: grad }, invocations: O, wg });
      }
    });
  }
  return y;
}
