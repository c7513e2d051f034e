/**
 * relu: y = max(x, 0); dx (+)= dy·[y > 0]. Kernels: relu_forward and relu_backward in
 * shaders/elementwise.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype } from './check';
import { ELEMENTWISE } from './elementwise';

export const reluOp = defineOp({
  name: 'relu',
  forward(g: Graph, [x]: readonly [Tensor], _attrs: null): { y: Tensor; saved: { x: Tensor; y: Tensor } } {
    expectDtype('relu', 'input x', x, 'f32');
    const e = g.engine;
    const y = g.empty(x.shape);
    e.dispatch({ shader: ELEMENTWISE, entry: 'relu_forward', u32: [x.size, 0, 0, 1], f32: [0], bindings: { 1: x, 3: y }, invocations: x.size, wg: e.kernels.wg });
    return { y, saved: { x, y } };
  },
  backward(g, { x, y }, dy) {
    const e = g.engine;
    const { grad, acc } = g.gradTarget(x);
    e.dispatch({ shader: ELEMENTWISE, entry: 'relu_backward', u32: [x.size, acc, 0, 1], f32: [0],
      bindings: { 1: dy, 2: y, 3: grad }, invocations: x.size, wg: e.kernels.wg });
  },
});

export function relu(g: Graph, x: Tensor): Tensor {
  return g.apply(reluOp, [x] as const, null);
}
