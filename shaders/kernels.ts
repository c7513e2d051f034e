/**
 * The interface of every shader in this folder: its uniform fields (`struct Params`, in WGSL
 * order), its storage bindings, and the bindings each entry point uses. Call sites dispatch
 * through these with engine.run, by name; test/gpu/kernels.test.ts checks each description against
 * the WGSL, so the two cannot drift apart.
 */
import { kernel, read, readWrite, type Kernel } from '../src/gpu/kernel';
import attribution from './attribution.wgsl';
import avgPool from './avg_pool.wgsl';
import batch from './batch.wgsl';
import batchNorm from './batch_norm.wgsl';
import batchNormSplit from './batch_norm_split.wgsl';
import batchNormChunked from './batch_norm_chunked.wgsl';
import conv2d from './conv2d.wgsl';
import conv2dDirect from './conv2d_direct.wgsl';
import conv2dDirectDw from './conv2d_direct_dw.wgsl';
import conv2dTiled from './conv2d_tiled.wgsl';
import crossEntropy from './cross_entropy.wgsl';
import elementwiseVec4 from './elementwise_vec4.wgsl';
import elementwise from './elementwise.wgsl';
import maxPool from './max_pool.wgsl';
import optimizer from './optimizer.wgsl';
import reduce from './reduce.wgsl';

export const AVG_POOL = kernel({ name: 'avg_pool.wgsl', code: avgPool }, {
  params: { NC: 'u32', HW: 'u32', acc: 'u32' },
  bindings: { x: read(1), y: readWrite(2), dy: read(3), dx: readWrite(4) },
  entries: { forward: ['x', 'y'], backward: ['dy', 'dx'] },
});

export const BATCH = kernel({ name: 'batch.wgsl', code: batch }, {
  params: {
    total: 'u32', C: 'u32', H: 'u32', W: 'u32',
    order_base: 'u32', pos_base: 'u32', pad: 'u32', flip: 'u32',
    seed: 'u32', epoch: 'u32',
  },
  bindings: {
    images: read(1, 'u32'), labels: read(2, 'u32'), order: read(3, 'u32'), norm: read(4),
    out: readWrite(5), labels_out: readWrite(6, 'u32'),
  },
  entries: { gather: ['images', 'labels', 'order', 'norm', 'out', 'labels_out'] },
});

export const BATCH_NORM = kernel({ name: 'batch_norm.wgsl', code: batchNorm }, {
  params: {
    N: 'u32', C: 'u32', HW: 'u32', update_running: 'u32',
    acc_dx: 'u32', acc_dgamma: 'u32', acc_dbeta: 'u32', need_dx: 'u32',
    eps: 'f32', momentum: 'f32', relu: 'u32',
  },
  bindings: {
    x: read(1), gamma: read(2), beta: read(3), y: readWrite(4), stats: readWrite(5),
    running_mean: readWrite(6), running_var: readWrite(7),
    dy: read(8), dx: readWrite(9), dgamma: readWrite(10), dbeta: readWrite(11),
  },
  entries: {
    forward_eval: ['x', 'gamma', 'beta', 'y', 'running_mean', 'running_var'],
    eval_stats: ['stats', 'running_mean', 'running_var'],
    backward_eval: ['x', 'gamma', 'y', 'stats', 'dy', 'dx', 'dgamma', 'dbeta'],
  },
  powerOfTwoWG: ['backward_eval'],
});

export const BATCH_NORM_SPLIT = kernel({ name: 'batch_norm_split.wgsl', code: batchNormSplit }, {
  params: BATCH_NORM.params,
  bindings: {
    x: read(1), gamma: read(2), beta: read(3), y: readWrite(4), stats: readWrite(5),
    running_mean: readWrite(6), running_var: readWrite(7),
    dy: read(8), dx: readWrite(9), dgamma: readWrite(10), dbeta: readWrite(11), part: readWrite(12), csum: readWrite(13),
  },
  entries: {
    plane_stats: ['x', 'part'],
    channel_stats: ['stats', 'running_mean', 'running_var', 'part'],
    apply: ['x', 'gamma', 'beta', 'y', 'stats'],
    plane_grads: ['x', 'y', 'stats', 'dy', 'part'],
    channel_grads: ['dgamma', 'dbeta', 'part', 'csum'],
    backward_apply: ['x', 'gamma', 'y', 'stats', 'dy', 'dx', 'csum'],
  },
});

export const BATCH_NORM_CHUNKED = kernel({ name: 'batch_norm_chunked.wgsl', code: batchNormChunked }, {
  params: {
    N: 'u32', update_running: 'u32', acc_dx: 'u32', acc_dgamma: 'u32',
    acc_dbeta: 'u32', eps: 'f32', momentum: 'f32', relu: 'u32',
  },
  // x, y, dy and dx are array<V>: vec4f or f32 by shape (the shader's header).
  bindings: {
    x: read(1, 'V'), gamma: read(2), beta: read(3), y: readWrite(4, 'V'), stats: readWrite(5),
    running_mean: readWrite(6), running_var: readWrite(7),
    dy: read(8, 'V'), dx: readWrite(9, 'V'), dgamma: readWrite(10), dbeta: readWrite(11),
    part: readWrite(12, 'vec2f'), csum: readWrite(13, 'vec2f'),
  },
  entries: {
    chunk_stats: ['x', 'part'],
    channel_stats: ['stats', 'running_mean', 'running_var', 'part'],
    apply: ['x', 'gamma', 'beta', 'y', 'stats'],
    chunk_grads: ['x', 'y', 'stats', 'dy', 'part'],
    channel_grads: ['stats', 'dgamma', 'dbeta', 'part', 'csum'],
    backward_apply: ['x', 'gamma', 'y', 'stats', 'dy', 'dx', 'csum'],
  },
  powerOfTwoWG: ['chunk_stats', 'chunk_grads'],
});

/** The uniform of conv2d.wgsl: every size of one convolution. */
const CONV_PARAMS = {
  N: 'u32', C: 'u32', H: 'u32', W: 'u32',
  O: 'u32', OH: 'u32', OW: 'u32', KH: 'u32',
  KW: 'u32', stride: 'u32', pad: 'u32', acc: 'u32',
} as const;

export const CONV2D = kernel({ name: 'conv2d.wgsl', code: conv2d }, {
  params: CONV_PARAMS,
  bindings: { x: read(1), w: read(2), y: readWrite(3), dy: read(4), dx: readWrite(5), dw: readWrite(6) },
  entries: { forward: ['x', 'w', 'y'], backward_data: ['w', 'dy', 'dx'], backward_weight: ['x', 'dy', 'dw'] },
});

// The GEMM and generated conv kernels each serve several products, so they name their buffers by
// role: two operands at bindings 1 and 2, the result `dst` at 3.
export const CONV2D_TILED = kernel({ name: 'conv2d_tiled.wgsl', code: conv2dTiled }, {
  params: { N: 'u32', acc: 'u32', k_split: 'u32' },
  bindings: { a: read(1, 'vec4f'), b: read(2), dst: readWrite(3) },
  entries: { forward: ['a', 'b', 'dst'], backward_data: ['a', 'b', 'dst'], backward_weight: ['a', 'b', 'dst'] },
});

export const CONV2D_DIRECT = kernel({ name: 'conv2d_direct.wgsl', code: conv2dDirect }, {
  params: {
    N: 'u32', K: 'u32', srcH: 'u32', srcW: 'u32',
    M: 'u32', dstH: 'u32', dstW: 'u32',
    gridH: 'u32', gridW: 'u32', dstStride: 'u32', phaseH: 'u32',
    phaseW: 'u32',
    inStride: 'u32', offH: 'i32', offW: 'i32',
    wOut: 'u32', wRed: 'u32',
  },
  bindings: { src: read(1), w: read(2), dst: readWrite(3) },
  entries: { output_tile: ['src', 'w', 'dst'] },
});

export const CONV2D_DIRECT_DW = kernel({ name: 'conv2d_direct_dw.wgsl', code: conv2dDirectDw }, {
  params: {
    N: 'u32', C: 'u32', H: 'u32', W: 'u32',
    O: 'u32', OH: 'u32', OW: 'u32', splits: 'u32',
    stepsPerSplit: 'u32',
  },
  bindings: { x: read(1), dy: read(2), dst: readWrite(3) },
  entries: { backward_weight: ['x', 'dy', 'dst'] },
});

export const CROSS_ENTROPY = kernel({ name: 'cross_entropy.wgsl', code: crossEntropy }, {
  params: { N: 'u32', K: 'u32', acc: 'u32', smoothing: 'f32', nan: 'f32' },
  bindings: {
    logits: read(1), labels: read(2, 'u32'), probs: readWrite(3), row_loss: readWrite(4),
    loss: readWrite(5), dloss: read(6), dlogits: readWrite(7),
  },
  entries: {
    forward_rows: ['logits', 'labels', 'probs', 'row_loss'],
    forward_mean: ['row_loss', 'loss'],
    backward: ['labels', 'probs', 'dloss', 'dlogits'],
  },
  powerOfTwoWG: ['forward_mean'],
});

export const ELEMENTWISE = kernel({ name: 'elementwise.wgsl', code: elementwise }, {
  params: { n: 'u32', acc: 'u32', C: 'u32', inner: 'u32', value: 'f32' },
  bindings: { a: read(1), b: read(2), out: readWrite(3) },
  entries: {
    relu_forward: ['a', 'out'],
    relu_backward: ['a', 'b', 'out'],
    add_forward: ['a', 'b', 'out'], add_relu_forward: ['a', 'b', 'out'],
    accumulate: ['a', 'out'],
    fill: ['out'],
    add_bias: ['b', 'out'],
  },
});

export const ELEMENTWISE_VEC4 = kernel({ name: 'elementwise_vec4.wgsl', code: elementwiseVec4 }, {
  params: { n: 'u32', acc: 'u32' },
  bindings: { a: read(1, 'vec4f'), b: read(2, 'vec4f'), out: readWrite(3, 'vec4f') },
  entries: {
    relu_forward: ['a', 'out'],
    relu_backward: ['a', 'b', 'out'],
    add_forward: ['a', 'b', 'out'], add_relu_forward: ['a', 'b', 'out'],
    accumulate: ['a', 'out'],
  },
});

export const MAX_POOL = kernel({ name: 'max_pool.wgsl', code: maxPool }, {
  params: { NC: 'u32', acc: 'u32' },
  bindings: { x: read(1), y: readWrite(2), argmax: readWrite(3, 'u32'), dy: read(4), dx: readWrite(5) },
  entries: { forward: ['x', 'y', 'argmax'], backward: ['argmax', 'dy', 'dx'], backward_gather: ['argmax', 'dy', 'dx'] },
});

export const OPTIMIZER = kernel({ name: 'optimizer.wgsl', code: optimizer }, {
  params: { n: 'u32', shift: 'u32', step: 'u32', flag: 'u32', lr: 'f32', mu: 'f32', c: 'f32', eps: 'f32' },
  bindings: {
    w: readWrite(1, 'vec4f'), grad: read(2, 'vec4f'), buf: readWrite(3, 'vec4f'), v: readWrite(4, 'vec4f'),
    segs: read(5, 'Segment'), groups: read(6, 'Group'), owner: read(7, 'u32'),
  },
  entries: {
    sgd_step: ['w', 'grad', 'buf', 'segs', 'groups', 'owner'],
    adam_step: ['w', 'grad', 'buf', 'v', 'segs', 'groups', 'owner'],
  },
});

export const REDUCE = kernel({ name: 'reduce.wgsl', code: reduce }, {
  params: { R: 'u32', C: 'u32', acc: 'u32', inner: 'u32' },
  bindings: { a: read(1), out: readWrite(2) },
  entries: { sum_rows: ['a', 'out'], sum_channels: ['a', 'out'] },
});

export const ATTRIBUTION = kernel({ name: 'attribution.wgsl', code: attribution }, {
  params: { segments: 'u32', base: 'u32' },
  bindings: { w: read(1), g: read(2), segs: read(3, 'u32'), out: readWrite(4) },
  entries: { segment_sums: ['w', 'g', 'segs', 'out'] },
  powerOfTwoWG: ['segment_sums'],
});

/** Every kernel, for the interface test and for compiling them all. */
export const KERNELS: readonly Kernel[] = [
  ATTRIBUTION, AVG_POOL, BATCH, BATCH_NORM, BATCH_NORM_CHUNKED, BATCH_NORM_SPLIT, CONV2D, CONV2D_TILED, CONV2D_DIRECT, CONV2D_DIRECT_DW,
  CROSS_ENTROPY, ELEMENTWISE, ELEMENTWISE_VEC4, MAX_POOL, OPTIMIZER, REDUCE,
];
