/**
 * Every op in one exhaustive table: its name (the key, used for the file names too:
 * src/ops/<name>.ts, test/ops/<name>.test.ts), the function users call, the definition with its
 * backward rule, the shader files it dispatches, its float64 reference (src/reference/ops.ts) and
 * the tolerances its tests hold the GPU to. An OpName without an entry, or an entry without a
 * backward or a reference, is a type error.
 *
 * Tolerances are elementwise, |gpu − ref| ≤ atol·max|ref| + rtol·|ref|: float32 sums of up to a few
 * hundred terms for the reductions, exact for the ops that only select or add two values.
 */
import type { Kernel } from '../gpu/kernel';
import type { Tensor } from '../tensor';
import * as ref from '../reference/ops';
import type { OpDef, OpName } from './op';
import { conv2d, conv2dOp, CONV2D_SHADERS } from './conv2d';
import { batchNorm, batchNormOp } from './batch_norm';
import { relu, reluOp } from './relu';
import { add, addOp } from './add';
import { maxPool, maxPoolOp } from './max_pool';
import { avgPool, avgPoolOp } from './avg_pool';
import { linear, linearOp } from './linear';
import { crossEntropy, crossEntropyOp } from './cross_entropy';
import { AVG_POOL, BATCH_NORM, BATCH_NORM_SPLIT, CROSS_ENTROPY, ELEMENTWISE, ELEMENTWISE_VEC4, MAX_POOL, REDUCE } from '../../shaders/kernels';

/** |gpu − ref| ≤ atol·max|ref| + rtol·|ref|, elementwise. */
export interface Tolerance { atol: number; rtol: number }

export interface OpEntry<K extends OpName = OpName> {
  /** What users call: conv2d(g, x, w, opts). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fn: (...args: any[]) => Tensor;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  def: OpDef<any, any, any, K>;
  shaders: readonly Kernel[];
  /** The float64 forward and backward of src/reference/ops.ts. */
  reference: { forward: (...args: never[]) => unknown; backward: (...args: never[]) => unknown };
  tolerance: { forward: Tolerance; backward: Tolerance };
}

const SUMS: Tolerance = { atol: 1e-5, rtol: 1e-4 };
const EXACT: Tolerance = { atol: 0, rtol: 0 };

export const OPS: { readonly [K in OpName]: OpEntry<K> } = {
  conv2d: { fn: conv2d, def: conv2dOp, shaders: [...CONV2D_SHADERS, ELEMENTWISE],
    reference: { forward: ref.conv2dForward, backward: ref.conv2dBackward }, tolerance: { forward: SUMS, backward: SUMS } },
  batch_norm: { fn: batchNorm, def: batchNormOp, shaders: [BATCH_NORM, BATCH_NORM_SPLIT],
    reference: { forward: ref.batchNormTrainForward, backward: ref.batchNormTrainBackward }, tolerance: { forward: SUMS, backward: SUMS } },
  relu: { fn: relu, def: reluOp, shaders: [ELEMENTWISE, ELEMENTWISE_VEC4],
    reference: { forward: ref.reluForward, backward: ref.reluBackward }, tolerance: { forward: EXACT, backward: EXACT } },
  add: { fn: add, def: addOp, shaders: [ELEMENTWISE, ELEMENTWISE_VEC4],
    reference: { forward: ref.addForward, backward: ref.addBackward }, tolerance: { forward: EXACT, backward: EXACT } },
  max_pool: { fn: maxPool, def: maxPoolOp, shaders: [MAX_POOL],
    reference: { forward: ref.maxPoolForward, backward: ref.maxPoolBackward }, tolerance: { forward: EXACT, backward: { atol: 1e-6, rtol: 1e-6 } } },
  avg_pool: { fn: avgPool, def: avgPoolOp, shaders: [AVG_POOL],
    reference: { forward: ref.avgPoolForward, backward: ref.avgPoolBackward }, tolerance: { forward: SUMS, backward: { atol: 1e-7, rtol: 1e-6 } } },
  linear: { fn: linear, def: linearOp, shaders: [...CONV2D_SHADERS, ELEMENTWISE, REDUCE],
    reference: { forward: ref.linearForward, backward: ref.linearBackward }, tolerance: { forward: SUMS, backward: SUMS } },
  cross_entropy: { fn: crossEntropy, def: crossEntropyOp, shaders: [CROSS_ENTROPY],
    reference: { forward: ref.crossEntropyForwardBackward, backward: ref.crossEntropyForwardBackward }, tolerance: { forward: SUMS, backward: SUMS } },
};

/** Elementwise bounds for comparing a GPU result against its float64 reference. */
export function bounds(tol: Tolerance, reference: ArrayLike<number>): { atol: number; rtol: number } {
  let m = 0;
  for (let i = 0; i < reference.length; i++) m = Math.max(m, Math.abs(reference[i]));
  return { atol: tol.atol * m, rtol: tol.rtol };
}
