/**
 * add: the residual sum y = a + b (same shapes); da (+)= dy, db (+)= dy. With `relu`, the block's
 * ReLU is fused in: y = max(a + b, 0), da (+)= dy·[y > 0], db (+)= dy·[y > 0], one pass over the
 * values instead of two (forward) or three (backward). Kernels: add_forward, add_relu_forward,
 * accumulate and relu_backward in shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectSameShape } from './check';
import { accumulateInto, elementwise } from './elementwise';

export interface AddOptions {
  /** Fuse a ReLU after the sum. */
  relu?: boolean;
}

export const addOp = defineOp({
  name: 'add',
  forward(g: Graph, [a, b]: readonly [Tensor, Tensor], attrs: AddOptions): { y: Tensor; saved: { a: Tensor; b: Tensor; y: Tensor; relu: boolean } } {
    expectSameShape('add', 'input a', a, 'input b', b);
    expectDtype('add', 'input a', a, 'f32');
    expectDtype('add', 'input b', b, 'f32');
    const e = g.engine, relu = attrs.relu === true;
    const y = g.empty(a.shape);
    elementwise(e, relu ? 'add_relu_forward' : 'add_forward', a.size, { a, b, out: y });
    return { y, saved: { a, b, y, relu } };
  },
  backward(g, { a, b, y, relu }, dy) {
    for (const t of [a, b]) {
      if (!t.requiresGrad) continue;
      if (!relu) {
        accumulateInto(g, dy, t);
        continue;
      }
      const { grad, acc } = g.gradTarget(t);
      elementwise(g.engine, 'relu_backward', t.size, { a: dy, b: y, out: grad }, acc);
    }
  },
});

/** y = a + b, or max(a + b, 0) with `relu`. */
export function add(g: Graph, a: Tensor, b: Tensor, opts: AddOptions = {}): Tensor {
  return g.apply(addOp, [a, b] as const, opts);
}
