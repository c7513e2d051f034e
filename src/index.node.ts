// critdamp for Node: registers Dawn (the `webgpu` package, with SwiftShader found by itself when
// there is no GPU), and adds the loaders and checkpoints that use the file system.
import './gpu/node';
export * from './index.browser';
export * from './data/index.node';
export { saveCheckpoint, loadCheckpoint, loadCheckpointModel, loadWeightsFile, findCheckpoint, saveWeights, loadWeights, writeFileAtomic } from './io/checkpoint.node';
export { fileTuneStore, defaultTunePath } from './io/tune.node';
export { main as cli } from './cli/main';
