// critdamp for browsers: navigator.gpu. Everything here runs in Node too (src/index.node.ts adds
// Dawn, the file system and the data loaders that read files).
export { Engine, type KernelConfig, type DispatchObserver } from './gpu/engine';
export { requestDevice, setGpuProvider, NoAdapterError, type GpuProvider } from './gpu/device';
export { ShaderCompileError } from './gpu/shader';
export { Tensor, type DType } from './tensor';
export { Graph, type OpRecord } from './autograd/graph';
export * from './ops';
export { Module, ParamLayout, initParams, checkBaseConfig, type Model, type ModelConfig, type ModelSpec, type BufferSpec, type InitOptions } from './nn/model';
export { createModel, registerModel, modelNames, modelEntry, modelConfig, configFor, freshCopy, inputMismatch, type ModelEntry, type ModelInput } from './nn/registry';
export { ResNet, ResNet18, resnetSpecs, resnet18Specs, initResNet, stageChannels, RESNET_ARCH, type ResNetConfig, type ResNetName } from './nn/resnet';
export { VGG, vggSpecs, vggHidden, VGG_CFGS, type VGGConfig, type VGGName } from './nn/vgg';
export { MLP, mlpSpecs, MLP_HIDDEN, type MLPConfig } from './nn/mlp';
export { ParamStore, type ParamSpec, type Segment } from './nn/params';
export { Optimizer, type OptimizerOptions, type OptimizerKind, type ParamGroup, type StepValues } from './optim/optimizer';
export * from './schedule';
export * from './data/index';
export { GpuBatcher } from './data/batcher';
export { encodeSafetensors, decodeSafetensors, toFloat32, SafetensorsError } from './io/safetensors';
export { encodeWeights, decodeWeights } from './io/weights';
export { Trainer, NonFiniteLossError, DivergenceError, DEFAULT_DIVERGENCE, type TrainerParts, type FitOptions, type TrainConfig, type TrainerHooks, type TrainerState, type StepRecord, type EpochRecord } from './train/trainer';
export { evaluate, type EvalResult } from './train/evaluate';
export { Rng } from './util/rng';
export * from './attribution';
export { pairedDifferences, pairedText, rankAmong, pooledRankP, signFlipP, signTestP, studentTQuantile, type Paired, type PairedOptions, type RankTest, type SignTest, type Direction } from './stats/paired';
export { enableTuning } from './ops/conv2d';
export { Tuner, memoryTuneStore, TUNE_VERSION, type TuneStore, type TuneJob, type TuneReport, type TunerOptions } from './gpu/tune';
export { indexedDbTuneStore } from './gpu/tune_idb';
export { Profiler, Profile, parseLabel, groupOf, type ProfileEntry, type ProfileRow, type ProfileMethod } from './gpu/profile';
