/**
 * Pooling: max_pool (K×K window, stride, padding; the ImageNet stem's 3×3/2) and avg_pool
 * (global average, [N,C,H,W] → [N,C]).
 *   max_pool  backward: each input gathers dy of the windows whose argmax it is
 *   avg_pool  backward: dx = dy / (H·W)
 */
import type { Tensor } from '../tensor';
import type { ShaderSource } from '../gpu/shader';
import { expectDtype, expectRank, ShapeError } from './check';
import { conv2dOutputSize } from './conv2d';
import maxPoolWgsl from '../../shaders/max_pool.wgsl';
import avgPoolWgsl from '../../shaders/avg_pool.wgsl';

const MAX_POOL: ShaderSource = { name: 'max_pool.wgsl', code: maxPoolWgsl };
const AVG_POOL: ShaderSource = { name: 'avg_pool.wgsl', code: avgPoolWgsl };

export function maxPool(x: Tensor, opts: { kernel?: number; stride?: number; pad?: number } = {}): Tensor {
  const K = opts.kernel ?? 3, stride = opts.stride ?? 2, pad = opts.pad ?? 1;
  expectRank('max_pool', 'input x', x, 4, 'NCHW');
  expectDtype('max_pool', 'input x', x, 'f32');
  if (pad * 2 > K) throw new ShapeError(`max_pool: pad ${pad} must be at most half the kernel ${K}`);
  const [N, C, H, W] = x.shape;
  const OH = conv2dOutputSize(H, K, stride, pad), OW = conv2dOutputSize(W, K, stride, pad);
  if (OH < 1 || OW < 1) throw new ShapeError(`max_pool: input x [${x.shape.join(', ')}] is smaller than the ${K}×${K} window`);
  const e = x.engine, tape = e.tape, wg = e.kernels.wg;
  const y = tape.own(e.empty([N, C, OH, OW]));
  const argmax = tape.own(e.empty([N, C, OH, OW], 'u32'));
  const params = (acc: number) => [N * C, H, W, OH, OW, K, stride, pad, acc];
  e.dispatch({ shader: MAX_POOL, entry: 'forward', u32: params(0), bindings: { 1: x, 2: y, 3: argmax }, invocations: y.size, wg });
  if (tape.wants([x])) {
    tape.record('max_pool', [x], y, () => {
      const { grad, acc } = tape.gradTarget(x);
      e.dispatch({ shader: MAX_POOL, entry: 'backward', u32: params(acc), bindings: { 3: argmax, 4: y.grad!, 5: grad }, invocations: x.size, wg });
    });
  }
  return y;
}

export function avgPool(x: Tensor): Tensor {
  expectRank('avg_pool', 'input x', x, 4, 'NCHW');
  expectDtype('avg_pool', 'input x', x, 'f32');
  const [N, C, H, W] = x.shape;
  const e = x.engine, tape = e.tape, wg = e.kernels.wg;
  const y = tape.own(e.empty([N, C]));
  e.dispatch({ shader: AVG_POOL, entry: 'forward', u32: [N * C, H * W, 0], bindings: { 1: x, 2: y }, invocations: N * C, wg });
  if (tape.wants([x])) {
    tape.record('avg_pool', [x], y, () => {
      const { grad, acc } = tape.gradTarget(x);
      e.dispatch({ shader: AVG_POOL, entry: 'backward', u32: [N * C, H * W, acc], bindings: { 3: y.grad!, 4: grad }, invocations: x.size, wg });
    });
  }
  return y;
}
