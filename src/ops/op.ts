/**
 * What an op is: a name, a forward that dispatches its kernels and says what the backward needs,
 * and a named backward rule. Graph.apply (src/autograd/graph.ts) runs the forward and records the
 * backward; the exhaustive registry (src/ops/registry.ts) adds each op's shader files, float64
 * reference and tolerances, so an op missing any of them does not compile.
 */
import type { Graph } from '../autograd/graph';
import type { Tensor } from '../tensor';

export type OpName = 'conv2d' | 'batch_norm' | 'relu' | 'add' | 'max_pool' | 'avg_pool' | 'linear' | 'cross_entropy';

export const OP_NAMES: readonly OpName[] = ['conv2d', 'batch_norm', 'relu', 'add', 'max_pool', 'avg_pool', 'linear', 'cross_entropy'];

export interface OpDef<I extends readonly Tensor[], A, S, N extends OpName = OpName> {
  name: N;
  /** Dispatches the forward kernels; `saved` is what backward needs (tensors owned by g). */
  forward(g: Graph, inputs: I, attrs: A): { y: Tensor; saved: S };
  /** Propagates dy (the output's gradient) to the inputs that require grad. */
  backward(g: Graph, saved: S, dy: Tensor): void;
}

/** Identity with inference: `export const conv2dOp = defineOp({ ... })`. */
export function defineOp<I extends readonly Tensor[], A, S, const N extends OpName>(def: OpDef<I, A, S, N>): OpDef<I, A, S, N> {
  return def;
}
