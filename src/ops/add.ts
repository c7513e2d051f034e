/**
 * add: the residual sum y = a + b (same shapes); da (+)= dy, db (+)= dy. Kernels: add_forward and
 * accumulate in shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectSameShape } from './check';
import { accumulateInto, elementwise } from './elementwise';

export const addOp = defineOp({
  name: 'add',
  forward(g: Graph, [a, b]: readonly [Tensor, Tensor], _attrs: null): { y: Tensor; saved: { a: Tensor; b: Tensor } } {
    expectSameShape('add', 'input a', a, 'input b', b);
    expectDtype('add', 'input a', a, 'f32');
    expectDtype('add', 'input b', b, 'f32');
    const e = g.engine;
    const y = g.empty(a.shape);
    elementwise(e, 'add_forward', a.size, { a, b, out: y });
    return { y, saved: { a, b } };
  },
  backward(g, { a, b }, dy) {
    if (a.requiresGrad) accumulateInto(g, dy, a);
    if (b.requiresGrad) accumulateInto(g, dy, b);
  },
});

export function add(g: Graph, a: Tensor, b: Tensor): Tensor {
  return g.apply(addOp, [a, b] as const, null);
}
