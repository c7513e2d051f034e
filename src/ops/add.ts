/**
 * add: the residual sum y = a + b (same shapes); da (+)= dy, db (+)= dy. Kernels: add_forward and
 * accumulate in shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectSameShape } from './check';
import { accumulateInto } from './elementwise';
import { ELEMENTWISE } from '../../shaders/kernels';

export const addOp = defineOp({
  name: 'add',
  forward(g: Graph, [a, b]: readonly [Tensor, Tensor], _attrs: null): { y: Tensor; saved: { a: Tensor; b: Tensor } } {
    expectSameShape('add', 'input a', a, 'input b', b);
    expectDtype('add', 'input a', a, 'f32');
    expectDtype('add', 'input b', b, 'f32');
    const e = g.engine;
    const y = g.empty(a.shape);
    e.run(ELEMENTWISE, 'add_forward', { params: { n: a.size, acc: 0, C: 0, inner: 1, value: 0 },
      bindings: { a, b, out: y }, invocations: a.size });
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
