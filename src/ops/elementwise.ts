/**
 * The elementwise kernels: relu (src/ops/relu.ts), add (src/ops/add.ts), the bias add of linear,
 * fill, and `accumulate`, how a gradient passes unchanged to an input. Each runs from
 * shaders/elementwise_vec4.wgsl (four values per storage access) when every tensor's size and
 * offset allow it, else from the scalar shaders/elementwise.wgsl; the two give identical results.
 */
import type { Engine } from '../gpu/engine';
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { ELEMENTWISE, ELEMENTWISE_VEC4 } from '../../shaders/kernels';

type Entry = 'relu_forward' | 'relu_backward' | 'add_forward' | 'add_relu_forward' | 'accumulate';

/** Whether these tensors can be read as vec4s: a size that is a multiple of 4, and 16-byte offsets. */
function fitsVec4(n: number, ts: readonly Tensor[]): boolean {
  return n % 4 === 0 && ts.every((t) => t.offset % 16 === 0);
}

/** One elementwise entry over n values: a and b inputs (b unused by some), out written or (+)= with acc. */
export function elementwise(e: Engine, entry: Entry, n: number, io: { a: Tensor; b?: Tensor; out: Tensor }, acc = 0): void {
  const ts = [io.a, io.out, ...(io.b ? [io.b] : [])];
  if (fitsVec4(n, ts)) {
    e.run(ELEMENTWISE_VEC4, entry, { params: { n: n / 4, acc }, bindings: io as never, invocations: n / 4 });
  } else {
    e.run(ELEMENTWISE, entry, { params: { n, acc, C: 0, inner: 1, value: 0 }, bindings: io as never, invocations: n });
  }
}

/** grad(t) (+)= src, elementwise. */
export function accumulateInto(g: Graph, src: Tensor, t: Tensor): void {
  const { grad, acc } = g.gradTarget(t);
  elementwise(g.engine, 'accumulate', src.size, { a: src, out: grad }, acc);
}
