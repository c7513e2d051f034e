/**
 * relu: y = max(x, 0); dx (+)= dy·[y > 0]. Kernels: relu_forward and relu_backward in
 * shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype } from './check';
import { elementwise } from './elementwise';

export const reluOp = defineOp({
  name: 'relu',
  forward(g: Graph, [x]: readonly [Tensor], _attrs: null): { y: Tensor; saved: { x: Tensor; y: Tensor } } {
    expectDtype('relu', 'input x', x, 'f32');
    const e = g.engine;
    const y = g.empty(x.shape);
    elementwise(e, 'relu_forward', x.size, { a: x, out: y });
    return { y, saved: { x, y } };
  },
  backward(g, { x, y }, dy) {
    const e = g.engine;
    const { grad, acc } = g.gradTarget(x);
    elementwise(e, 'relu_backward', x.size, { a: dy, b: y, out: grad }, acc);
  },
});

export function relu(g: Graph, x: Tensor): Tensor {
  return g.apply(reluOp, [x] as const, null);
}
