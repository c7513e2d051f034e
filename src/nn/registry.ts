/**
 * The models critdamp builds by name (timm's create_model): each entry says what it is, which
 * options it takes with their defaults, and how to build it from a config. Everything that needs
 * "a model of this description" — Trainer.create, a checkpoint being loaded, the controls' ablation
 * (a fresh copy at its initial weights), `--model` on the command line, the page — goes through
 * createModel(engine, config, seed). registerModel adds your own (docs/models.md).
 */
import type { Engine } from '../gpu/engine';
import type { Model, ModelConfig, ModelSpec } from './model';
import { ResNet, type ResNetName } from './resnet';
import { VGG, type VGGName } from './vgg';
import { MLP, MLP_HIDDEN } from './mlp';

/** What a config is made from: the data's classes, channels and image size. */
export interface ModelInput {
  numClasses: number;
  inChannels: number;
  /** [height, width] of the images. */
  inputSize: [number, number];
}

export interface ModelEntry {
  /** One line for --help and the docs. */
  about: string;
  /** What reports call it ("ResNet-18"); default: the registry name. */
  label?: string;
  /** Its options (beyond numClasses and inChannels) with their defaults; `inputSize` is filled from the data when listed. */
  options: Record<string, unknown>;
  /** Builds the model from a full config (name included), initialised from `seed`. */
  create(engine: Engine, config: ModelConfig, seed: number): Model;
}

const resnet = (name: ResNetName, about: string): ModelEntry => ({
  about, label: `ResNet-${name.slice(6)}`, options: { width: 1, stem: 'cifar' },
  create: (engine, config, seed) => new ResNet(engine, name, config as never, seed),
});
const vgg = (name: VGGName, about: string): ModelEntry => ({
  about, label: `VGG-${name.slice(3, -3)}-BN`, options: { width: 1 },
  create: (engine, config, seed) => new VGG(engine, name, config as never, seed),
});

const REGISTRY = new Map<string, ModelEntry>([
  ['resnet18', resnet('resnet18', 'ResNet-18 (BasicBlock ×[2,2,2,2]); width multiplies 64/128/256/512; stem cifar (3×3) or imagenet (7×7/2 + max pool)')],
  ['resnet34', resnet('resnet34', 'ResNet-34 (BasicBlock ×[3,4,6,3]); width and stem as resnet18')],
  ['resnet50', resnet('resnet50', 'ResNet-50 (Bottleneck ×[3,4,6,3], 4× expansion); width and stem as resnet18')],
  ['vgg11_bn', vgg('vgg11_bn', 'VGG-11 with batch norm; torchvision features (last pool left out), global average pool, classifier of 512·width hidden units')],
  ['vgg16_bn', vgg('vgg16_bn', 'VGG-16 with batch norm; as vgg11_bn')],
  ['mlp', { label: 'an MLP', about: `a small MLP: the image flattened, Linear+ReLU per hidden layer (default ${MLP_HIDDEN.join(', ')}), Linear to the classes`,
    options: { inputSize: null, hidden: MLP_HIDDEN }, create: (engine, config, seed) => new MLP(engine, config as never, seed) }],
]);

const widthText = (w: number) => (w >= 1 || !Number.isInteger(1 / w) ? String(w) : `1/${1 / w}`);

/**
 * What a report calls a model with these settings: its label, then the options it takes among
 * width, stem and hidden layers ("ResNet-18 width 1/8 (imagenet stem)", "VGG-11-BN width 1/8",
 * "an MLP with hidden layers of 256, 128").
 */
export function modelLabel(name: string | undefined, settings: { width?: number; stem?: string; hidden?: number[] } = {}): string {
  const n = name ?? 'resnet18';
  const entry = REGISTRY.get(n);
  const takes = entry?.options ?? {};
  const hidden = settings.hidden ?? (Array.isArray(takes.hidden) ? takes.hidden as number[] : null);
  return `${entry?.label ?? n}${'width' in takes && settings.width !== undefined ? ` width ${widthText(settings.width)}` : ''}${'stem' in takes && settings.stem ? ` (${settings.stem} stem)` : ''}` +
    `${'hidden' in takes && hidden ? ` with hidden layers of ${hidden.join(', ')}` : ''}`;
}

/** The built-in models' names (and any registered since), in registration order. */
export function modelNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Adds a model under `name` (an existing name is an error: unregister nothing by accident). */
export function registerModel(name: string, entry: ModelEntry): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`registerModel: '${name}' is not a model name (letters, digits, _ . -)`);
  if (REGISTRY.has(name)) throw new Error(`registerModel: a model named ${name} is already registered`);
  REGISTRY.set(name, entry);
}

export function modelEntry(name: string): ModelEntry {
  const e = REGISTRY.get(name);
  if (!e) throw new Error(`unknown model '${name}' (${modelNames().join(', ')}; your own: registerModel)`);
  return e;
}

/** The config as stored: its name filled in (configs from before the registry are ResNet-18s). */
export function modelConfig(spec: ModelSpec): ModelConfig {
  return { ...spec, name: spec.name ?? 'resnet18' };
}

/**
 * A full config for data of this shape: the model's defaults, then `options` (only those it
 * takes: an option it does not take is an error naming the ones it does).
 */
export function configFor(name: string, input: ModelInput, options: Record<string, unknown> = {}): ModelConfig {
  const entry = modelEntry(name);
  const unknown = Object.keys(options).filter((k) => !(k in entry.options));
  if (unknown.length) {
    throw new Error(`${name} takes no ${unknown.join(', ')} (its options: ${Object.keys(entry.options).join(', ') || 'none'})`);
  }
  const cfg: ModelConfig = { name, numClasses: input.numClasses, inChannels: input.inChannels, ...entry.options, ...options };
  if ('inputSize' in entry.options && (options.inputSize === undefined)) cfg.inputSize = [...input.inputSize];
  return cfg;
}

/**
 * A config for `name` from settings that may name options it does not take (a comparison's width
 * and stem, say): only the options the model has are passed on, so one preset serves every model.
 */
export function configFromSettings(name: string, input: ModelInput, settings: Record<string, unknown>): ModelConfig {
  const takes = modelEntry(name).options;
  return configFor(name, input, Object.fromEntries(Object.entries(settings).filter(([k, v]) => k in takes && v !== undefined)));
}

/** One line: `resnet18 (width 0.125, stem imagenet)`. */
export function describeModel(spec: ModelSpec): string {
  const { name, numClasses: _k, inChannels: _c, ...options } = modelConfig(spec);
  // In the order the registry lists the options (configs built in other ways keep their keys in any order).
  const order = Object.keys(REGISTRY.get(name)?.options ?? {});
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  const text = Object.entries(options).sort((a, b) => rank(a[0]) - rank(b[0])).map(([k, v]) => `${k} ${Array.isArray(v) ? JSON.stringify(v) : String(v)}`).join(', ');
  return text ? `${name} (${text})` : name;
}

/** Builds the model a config describes, initialised from `seed` (the same seed, the same weights). */
export function createModel(engine: Engine, spec: ModelSpec, seed = 0): Model {
  const config = modelConfig(spec);
  return modelEntry(config.name).create(engine, config, seed);
}

/** The same architecture at its initial weights for `seed` (the controls' ablation resets to these). */
export function freshCopy(engine: Engine, model: Model, seed: number): Model {
  return createModel(engine, model.config, seed);
}

/** Where a model's config and some data disagree, as readable lines (empty: they fit). */
export function inputMismatch(config: ModelSpec, data: { c: number; h: number; w: number; classes: readonly string[] }): string[] {
  const out: string[] = [];
  if (config.inChannels !== data.c) out.push(`the model takes ${config.inChannels}-channel images, the data has ${data.c} channel${data.c === 1 ? '' : 's'}`);
  if (data.classes.length > config.numClasses) out.push(`the model has ${config.numClasses} outputs, the data ${data.classes.length} classes`);
  const size = config.inputSize as [number, number] | undefined;
  if (Array.isArray(size) && (size[0] !== data.h || size[1] !== data.w)) out.push(`the model takes ${size[0]}×${size[1]} images, the data's are ${data.h}×${data.w}`);
  return out;
}
