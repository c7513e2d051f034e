/**
 * shaders/elementwise.wgsl holds the small elementwise kernels: relu (src/ops/relu.ts), add
 * (src/ops/add.ts), the bias add of linear, fill, and `accumulate`, how a gradient passes
 * unchanged to an input.
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import type { Graph } from '../autograd/graph';
import elementwiseWgsl from '../../shaders/elementwise.wgsl';

export const ELEMENTWISE: ShaderSource = { name: 'elementwise.wgsl', code: elementwiseWgsl };

/** grad(t) (+)= src, elementwise. */
export function accumulateInto(g: Graph, src: Tensor, t: Tensor): void {
  const e = g.engine;
  const { grad, acc } = g.gradTarget(t);
  e.dispatch({ shader: ELEMENTWISE, entry: 'accumulate', u32: [src.size, acc, 0, 1], f32: [0],
    bindings: { 1: src, 3: grad }, invocations: src.size, wg: e.kernels.wg });
}
