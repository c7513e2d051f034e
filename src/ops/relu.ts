/**
 * relu: y = max(x, 0); dx (+)= dy·[y > 0]. Kernels: relu_forward and relu_backward in
 * shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype } from './check';
import { ELEMENTWISE } from '../../shaders/kernels';

export const reluOp = defineOp({
  name: 'relu',
  forward(g: Graph, [x]: readonly [Tensor], _attrs: null): { y: Tensor; saved: { x: Tensor; y: Tensor } } {
    expectDtype('relu', 'input x', x, 'f32');
    const e = g.engine;
    const y = g.empty(x.shape);
    e.run(ELEMENTWISE, 'relu_forward', { params: { n: x.size, acc: 0, C: 0, inner: 1, value: 0 }, bindings: { a: x, out: y }, invocations: x.size });
    return { y, saved: { x, y } };
  },
  backward(g, { x, y }, dy) {
    const e = g.engine;
    const { grad, acc } = g.gradTarget(x);
    e.run(ELEMENTWISE, 'relu_backward', { params: { n: x.size, acc, C: 0, inner: 1, value: 0 },
      bindings: { a: dy, b: y, out: grad }, invocations: x.size });
  },
});

export function relu(g: Graph, x: Tensor): Tensor {
  return g.apply(reluOp, [x] as const, null);
}
