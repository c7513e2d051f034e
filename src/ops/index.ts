// Every op, keyed by the name its tape records carry: an op missing here is a type error.
import type { OpName } from '../autograd/tape';
import { conv2d } from './conv2d';
import { batchNorm } from './batch_norm';
import { relu, add } from './elementwise';
import { maxPool, avgPool } from './pool';
import { linear } from './linear';
import { crossEntropy } from './cross_entropy';

export const OPS = {
  conv2d,
  batch_norm: batchNorm,
  relu,
  add,
  max_pool: maxPool,
  avg_pool: avgPool,
  linear,
  cross_entropy: crossEntropy,
} satisfies Record<OpName, (...args: never[]) => unknown>;

export { conv2d, batchNorm, relu, add, maxPool, avgPool, linear, crossEntropy };
export { ShapeError } from './check';
