/**
 * Elementwise ops: relu and the residual add (shaders/elementwise.wgsl).
 *   relu  y = max(x, 0);  dx (+)= dy·[y > 0]
 *   add   y = a + b;      da (+)= dy, db (+)= dy
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectSameShape } from './check';
import elementwiseWgsl from '../../shaders/elementwise.wgsl';

export const ELEMENTWISE: ShaderSource = { name: 'elementwise.wgsl', code: elementwiseWgsl };

export function relu(x: Tensor): Tensor {
  expectDtype('relu', 'input x', x, 'f32');
  const e = x.engine, tape = e.tape, wg = e.kernels.wg;
  const y = tape.own(e.empty(x.shape));
  e.dispatch({ shader: ELEMENTWISE, entry: 'relu_forward', u32: [x.size, 0, 0, 1], f32: [0], bindings: { 1: x, 3: y }, invocations: x.size, wg });
  if (tape.wants([x])) {
    tape.record('relu', [x], y, () => {
      const { grad, acc } = tape.gradTarget(x);
      e.dispatch({ shader: ELEMENTWISE, entry: 'relu_backward', u32: [x.size, acc, 0, 1], f32: [0],
        bindings: { 1: y.grad!, 2: y, 3: grad }, invocations: x.size, wg });
    });
  }
  return y;
}

/** out (+)= src, elementwise: how a gradient passes unchanged to an input. */
export function accumulateInto(src: Tensor, t: Tensor): void {
  const e = src.engine;
  const { grad, acc } = e.tape.gradTarget(t);
  e.dispatch({ shader: ELEMENTWISE, entry: 'accumulate', u32: [src.size, acc, 0, 1], f32: [0],
    bindings: { 1: src, 3: grad }, invocations: src.size, wg: e.kernels.wg });
}

export function add(a: Tensor, b: Tensor): Tensor {
  expectSameShape('add', 'input a', a, 'input b', b);
  expectDtype('add', 'input a', a, 'f32');
  expectDtype('add', 'input b', b, 'f32');
  const e = a.engine, tape = e.tape;
  const y = tape.own(e.empty(a.shape));
  e.dispatch({ shader: ELEMENTWISE, entry: 'add_forward', u32: [a.size, 0, 0, 1], f32: [0],
    bindings: { 1: a, 2: b, 3: y }, invocations: a.size, wg: e.kernels.wg });
  if (tape.wants([a, b])) {
    tape.record('add', [a, b], y, () => {
      if (a.requiresGrad) accumulateInto(y.grad!, a);
      if (b.requiresGrad) accumulateInto(y.grad!, b);
    });
  }
  return y;
}
