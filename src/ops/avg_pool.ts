/**
 * avg_pool: global average pooling, [N,C,H,W] → [N,C]; dx = dy / (H·W). Kernels:
 * shaders/avg_pool.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank } from './check';
import { AVG_POOL } from '../../shaders/kernels';

export const avgPoolOp = defineOp({
  name: 'avg_pool',
  forward(g: Graph, [x]: readonly [Tensor], _attrs: null): { y: Tensor; saved: { x: Tensor } } {
    expectRank('avg_pool', 'input x', x, 4, 'NCHW');
    expectDtype('avg_pool', 'input x', x, 'f32');
    const [N, C, H, W] = x.shape;
    const e = g.engine;
    const y = g.empty([N, C]);
    e.run(AVG_POOL, 'forward', { params: { NC: N * C, HW: H * W, acc: 0 }, bindings: { x, y }, invocations: N * C });
    return { y, saved: { x } };
  },
  backward(g, { x }, dy) {
    const e = g.engine;
    const [N, C, H, W] = x.shape;
    const { grad, acc } = g.gradTarget(x);
    e.run(AVG_POOL, 'backward', { params: { NC: N * C, HW: H * W, acc }, bindings: { dy, dx: grad }, invocations: x.size });
  },
});

export function avgPool(g: Graph, x: Tensor): Tensor {
  return g.apply(avgPoolOp, [x] as const, null);
}
