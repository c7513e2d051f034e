/**
 * avg_pool: global average pooling, [N,C,H,W] → [N,C]; dx = dy / (H·W). Kernels:
 * shaders/avg_pool.wgsl.
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank } from './check';
import avgPoolWgsl from '../../shaders/avg_pool.wgsl';

export const AVG_POOL_SHADER: ShaderSource = { name: 'avg_pool.wgsl', code: avgPoolWgsl };

export const avgPoolOp = defineOp({
  name: 'avg_pool',
  forward(g: Graph, [x]: readonly [Tensor], _attrs: null): { y: Tensor; saved: { x: Tensor } } {
    expectRank('avg_pool', 'input x', x, 4, 'NCHW');
    expectDtype('avg_pool', 'input x', x, 'f32');
    const [N, C, H, W] = x.shape;
    const e = g.engine;
    const y = g.empty([N, C]);
    e.dispatch({ shader: AVG_POOL_SHADER, entry: 'forward', u32: [N * C, H * W, 0], bindings: { 1: x, 2: y }, invocations: N * C, wg: e.kernels.wg });
    return { y, saved: { x } };
  },
  backward(g, { x }, dy) {
    const e = g.engine;
    const [N, C, H, W] = x.shape;
    const { grad, acc } = g.gradTarget(x);
    e.dispatch({ shader: AVG_POOL_SHADER, entry: 'backward', u32: [N * C, H * W, acc], bindings: { 3: dy, 4: grad }, invocations: x.size, wg: e.kernels.wg });
  },
});

export function avgPool(g: Graph, x: Tensor): Tensor {
  return g.apply(avgPoolOp, [x] as const, null);
}
