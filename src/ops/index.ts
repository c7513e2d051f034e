// Every op takes the Graph that records it first: conv2d(g, x, w, opts). The registry
// (./registry.ts) lists them with their backward rules, shaders, references and tolerances.
export { conv2d, conv2dOutputSize, type Conv2dOptions } from './conv2d';
export { batchNorm, type BatchNormOptions, type BatchNormState } from './batch_norm';
export { relu } from './relu';
export { add } from './add';
export { maxPool, type MaxPoolOptions } from './max_pool';
export { avgPool } from './avg_pool';
export { linear } from './linear';
export { crossEntropy, type CrossEntropyOptions } from './cross_entropy';
export { OPS, bounds, type OpEntry, type Tolerance } from './registry';
export { OP_NAMES, defineOp, type OpDef, type OpName } from './op';
export { checkOps, type OpCheck } from './selfcheck';
export { ShapeError } from './check';
