/**
 * shaders/elementwise.wgsl holds the small elementwise kernels: relu (src/ops/relu.ts), add
 * (src/ops/add.ts), the bias add of linear, fill, and `accumulate`, how a gradient passes
 * unchanged to an input.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { ELEMENTWISE } from '../../shaders/kernels';

/** grad(t) (+)= src, elementwise. */
export function accumulateInto(g: Graph, src: Tensor, t: Tensor): void {
  const e = g.engine;
  const { grad, acc } = g.gradTarget(t);
  e.run(ELEMENTWISE, 'accumulate', { params: { n: src.size, acc, C: 0, inner: 1, value: 0 },
    bindings: { a: src, out: grad }, invocations: src.size });
}
