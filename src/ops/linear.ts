/**
 * linear: y = x·Wᵀ + b, x [N,in], W [out,in] (PyTorch's layout), b [out] or none. An input of
 * more dimensions, x [N, d1, d2, …], is read as [N, d1·d2·…] (nn.Flatten then nn.Linear: the
 * same memory, so an MLP takes images directly and its weights keep PyTorch's layout).
 * The matrix product is conv2d at 1×1 spatial size (y[n,o] = Σ_c w[o,c]·x[n,c]), so its forward
 * and both backward products go through conv2d's tested kernels; the bias is added in place
 * (add_bias in shaders/elementwise.wgsl) and its gradient is a column sum (shaders/reduce.wgsl).
 *   dx = dy·W,  dW = dyᵀ·x,  db = Σ_n dy
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, expectShape, ShapeError } from './check';
import { convBackward, convForward, type ConvGeometry } from './conv2d';
import { ELEMENTWISE, REDUCE } from '../../shaders/kernels';

interface LinearSaved { geom: ConvGeometry; x: Tensor; w: Tensor; b: Tensor | null }

export const linearOp = defineOp({
  name: 'linear',
  forward(g: Graph, inputs: readonly [Tensor, Tensor] | readonly [Tensor, Tensor, Tensor], _attrs: null): { y: Tensor; saved: LinearSaved } {
    const [x, w] = inputs, b = inputs[2] ?? null;
    if (x.shape.length < 2) throw new ShapeError(`linear: input x must be [batch, features] (or [batch, …], flattened), got shape [${x.shape.join(', ')}]`);
    expectRank('linear', 'weight', w, 2, '[out, in]');
    expectDtype('linear', 'input x', x, 'f32');
    const N = x.shape[0], C = x.size / Math.max(1, N);
    const [O, Cw] = w.shape;
    if (Cw !== C) throw new ShapeError(`linear: input x [${x.shape.join(', ')}] has ${C} features${x.shape.length > 2 ? ' (flattened)' : ''} but weight [${w.shape.join(', ')}] expects ${Cw}`);
    if (b) expectShape('linear', 'bias', b, [O], `one per output of weight [${w.shape.join(', ')}]`);
    const e = g.engine;
    const geom: ConvGeometry = { N, C, H: 1, W: 1, O, KH: 1, KW: 1, OH: 1, OW: 1, stride: 1, pad: 0 };
    const y = g.empty([N, O]);
    convForward(e, geom, x, w, y);
    if (b) e.run(ELEMENTWISE, 'add_bias', { params: { n: N * O, acc: 0, C: O, inner: 1, value: 0 }, bindings: { b, out: y }, invocations: N * O });
    return { y, saved: { geom, x, w, b } };
  },
  backward(g, { geom, x, w, b }, dy) {
    convBackward(g, geom, x, w, dy);
    if (b && b.requiresGrad) {
      const { grad, acc } = g.gradTarget(b);
      g.engine.run(REDUCE, 'sum_rows', { params: { R: geom.N, C: geom.O, acc, inner: 1 }, bindings: { a: dy, out: grad }, invocations: geom.O });
    }
  },
});

export function linear(g: Graph, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  return g.apply(linearOp, b ? ([x, w, b] as const) : ([x, w] as const), null);
}
