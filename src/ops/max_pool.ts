/**
 * max_pool: K×K window, stride, zero-free padding (padding never wins); the ImageNet stem's 3×3/2.
 * The forward saves each output's argmax; backward: each input gathers dy of the windows whose
 * argmax it is. Kernels: shaders/max_pool.wgsl.
 */
import type { Tensor } from '../tensor';
import type { Graph } from '../autograd/graph';
import { defineOp } from './op';
import { expectDtype, expectRank, ShapeError } from './check';
import { conv2dOutputSize } from './conv2d';
import { MAX_POOL } from '../../shaders/kernels';

export interface MaxPoolOptions { kernel?: number; stride?: number; pad?: number }

interface MaxPoolSaved { x: Tensor; argmax: Tensor; overrides: Record<string, number> }

export const maxPoolOp = defineOp({
  name: 'max_pool',
  forward(g: Graph, [x]: readonly [Tensor], opts: MaxPoolOptions): { y: Tensor; saved: MaxPoolSaved } {
    const K = opts.kernel ?? 3, stride = opts.stride ?? 2, pad = opts.pad ?? 1;
    expectRank('max_pool', 'input x', x, 4, 'NCHW');
    expectDtype('max_pool', 'input x', x, 'f32');
    if (pad * 2 > K) throw new ShapeError(`max_pool: pad ${pad} must be at most half the kernel ${K}`);
    const [N, C, H, W] = x.shape;
    const OH = conv2dOutputSize(H, K, stride, pad), OW = conv2dOutputSize(W, K, stride, pad);
    if (OH < 1 || OW < 1) throw new ShapeError(`max_pool: input x [${x.shape.join(', ')}] is smaller than the ${K}×${K} window`);
    const e = g.engine;
    const y = g.empty([N, C, OH, OW]);
    const argmax = g.empty([N, C, OH, OW], 'u32');
    const overrides = { H, W, OH, OW, K, STRIDE: stride, PAD: pad };
    e.run(MAX_POOL, 'forward', { params: { NC: N * C, acc: 0 }, overrides, bindings: { x, y, argmax }, invocations: y.size });
    return { y, saved: { x, argmax, overrides } };
  },
  backward(g, { x, argmax, overrides }, dy) {
    const e = g.engine;
    const { grad, acc } = g.gradTarget(x);
    e.run(MAX_POOL, 'backward', { params: { NC: x.shape[0] * x.shape[1], acc }, overrides, bindings: { argmax, dy, dx: grad }, invocations: x.size });
  },
});

export function maxPool(g: Graph, x: Tensor, opts: MaxPoolOptions = {}): Tensor {
  return g.apply(maxPoolOp, [x] as const, opts);
}
