/**
 * Model weights as safetensors with torchvision's names: every parameter, the BN running
 * statistics, and `num_batches_tracked` (int64, as PyTorch stores it), so a state_dict read from the
 * file loads into the matching PyTorch module with load_state_dict(strict=True), and back
 * (tools/critdamp_torch.py builds that module from the file; README says which are torchvision's
 * own classes). Browser-safe: bytes in, bytes out.
 *
 * Self-describing: the header's metadata holds, under the key `critdamp`, a JSON "model card": the
 * model's registry name and config, the input channels and size, the normalisation mean/std and
 * the class names. modelFromWeights rebuilds the model from the file alone.
 */
import type { Engine } from '../gpu/engine';
import type { ParamStore } from '../nn/params';
import type { Model, ModelConfig, ModelSpec } from '../nn/model';
import { createModel, modelConfig } from '../nn/registry';
import { decodeSafetensors, encodeSafetensors, toFloat32, type SafeInput } from './safetensors';

/** What using a model needs beyond its weights. */
export interface ModelCard {
  model: ModelConfig;
  /** The images it was trained on: channels and size. */
  input: { channels: number; height: number; width: number };
  /** Per-channel normalisation: x' = (x/255 − mean) / std. */
  mean: number[];
  std: number[];
  classes: string[];
}

/** The metadata key the card sits under. */
export const CARD_KEY = 'critdamp';

/** A card's metadata entries, for encodeWeights. */
export function cardMetadata(card: ModelCard): Record<string, string> {
  return { [CARD_KEY]: JSON.stringify({ ...card, model: modelConfig(card.model) }) };
}

/** The card in a file's metadata, checked; null when the file has none (weights from other tools, or older critdamp). */
export function readCard(metadata: Record<string, string>, source: string): ModelCard | null {
  const raw = metadata[CARD_KEY];
  if (raw === undefined) return null;
  let c: ModelCard;
  try {
    c = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${source}: the '${CARD_KEY}' metadata is not JSON (${(e as Error).message})`);
  }
  const bad = (what: string) => new Error(`${source}: the '${CARD_KEY}' metadata is damaged: ${what}`);
  const nums = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (typeof c !== 'object' || c === null) throw bad('not an object');
  if (typeof c.model?.name !== 'string' || !Number.isInteger(c.model.numClasses) || !Number.isInteger(c.model.inChannels)) throw bad('model needs name, numClasses and inChannels');
  const i = c.input;
  if (!i || ![i.channels, i.height, i.width].every((v) => Number.isInteger(v) && v >= 1)) throw bad('input needs channels, height and width');
  if (!nums(c.mean, i.channels) || !nums(c.std, i.channels)) throw bad(`mean and std need ${i.channels} numbers each`);
  if (!Array.isArray(c.classes) || !c.classes.every((x) => typeof x === 'string')) throw bad('classes must be a list of names');
  return c;
}

/** A card from a run's state (state.json, Trainer.state()); null when the state lacks a part (runs from before cards). */
export function cardOf(state: { config?: { model?: ModelSpec }; mean?: number[]; std?: number[]; classes?: string[]; input?: ModelCard['input'] }): ModelCard | null {
  const { config, mean, std, classes, input } = state;
  if (!config?.model || !mean || !std || !classes || !input) return null;
  return { model: modelConfig(config.model), input, mean, std, classes };
}

/** Where two model configs differ, field by field ("width: 0.125 in the file, 0.25 here"). */
export function configDifferences(a: ModelSpec, b: ModelSpec, labels: [string, string]): string[] {
  const x = modelConfig(a), y = modelConfig(b);
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])];
  return keys.filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]))
    .map((k) => `${k}: ${JSON.stringify(x[k]) ?? 'absent'} ${labels[0]}, ${JSON.stringify(y[k]) ?? 'absent'} ${labels[1]}`);
}

/**
 * Where a card and some data disagree: a different number of channels or classes, or another image
 * size for a model that takes one size only, are `errors`; other class names or image sizes are
 * `notes` (the model still runs).
 */
export function cardMismatch(card: ModelCard, data: { c: number; h: number; w: number; classes: readonly string[] }): { errors: string[]; notes: string[] } {
  const errors: string[] = [], notes: string[] = [];
  if (data.c !== card.input.channels) errors.push(`channels: ${card.input.channels} in the model, ${data.c} in the data`);
  if (data.classes.length !== card.classes.length) errors.push(`classes: ${card.classes.length} in the model (${card.classes.join(', ')}), ${data.classes.length} in the data (${data.classes.join(', ')})`);
  else if (data.classes.some((c, i) => c !== card.classes[i])) notes.push(`class names: ${card.classes.join(', ')} in the model, ${data.classes.join(', ')} in the data`);
  if (data.h !== card.input.height || data.w !== card.input.width) {
    (Array.isArray(card.model.inputSize) ? errors : notes).push(`image size: ${card.input.height}×${card.input.width} in the model, ${data.h}×${data.w} in the data`);
  }
  return { errors, notes };
}

export async function encodeWeights(store: ParamStore, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const entries: [string, SafeInput][] = [];
  for (const [name, t] of await store.read()) entries.push([name, t]);
  // One counter per BN layer, as torchvision keeps: each counts the batches that updated it.
  for (const [layer, bn] of store.batchNorm) {
    entries.push([`${layer}.num_batches_tracked`, { shape: [], data: BigInt64Array.of(BigInt(bn.batchesTracked)) }]);
  }
  return encodeSafetensors(entries, { format: 'pt', ...metadata });
}

/**
 * Loads weights into a model, strictly: every parameter and buffer must be present with the
 * model's shape, and nothing unknown may be left over (as load_state_dict(strict=True)). F16,
 * BF16 and F64 are converted. Nothing is written unless the whole file checks out. `model`, when
 * given, lets the error say how the file's own description differs from the model.
 */
export function decodeWeights(store: ParamStore, bytes: Uint8Array, source: string, model?: ModelSpec): Record<string, string> {
  const file = decodeSafetensors(bytes, source);
  const expected = new Map<string, readonly number[]>();
  for (const t of store.params.values()) expected.set(t.name, t.shape);
  for (const t of store.buffers.values()) expected.set(t.name, t.shape);
  const missing = [...expected.keys()].filter((n) => !file.tensors.has(n));
  const unexpected = [...file.tensors.keys()].filter((n) => !expected.has(n) && !n.endsWith('.num_batches_tracked'));
  const wrong: string[] = [];
  for (const [name, shape] of expected) {
    const t = file.tensors.get(name);
    if (t && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      wrong.push(`${name}: file [${t.shape.join(', ')}], model [${shape.join(', ')}]`);
    }
  }
  if (missing.length || unexpected.length || wrong.length) {
    const list = (label: string, xs: string[]) => (xs.length ? `\n  ${label} (${xs.length}): ${xs.slice(0, 8).join('; ')}${xs.length > 8 ? '; …' : ''}` : '');
    const card = (() => { try { return readCard(file.metadata, source); } catch { return null; } })();
    const why = card && model
      ? `the file holds ${card.model.name} (${configDifferences(card.model, model, ['in the file', 'here']).join('; ') || 'the same config'})`
      : 'check the model, --width, --stem, the number of classes and input channels';
    throw new Error(`${source}: the weights do not fit this model (${why})` +
      list('missing', missing) + list('unexpected', unexpected) + list('shape mismatch', wrong));
  }
  const values = new Map<string, Float32Array>();
  for (const name of expected.keys()) {
    const v = toFloat32(file.tensors.get(name)!, name);
    values.set(name, v);
  }
  for (const [name, v] of values) store.set(name, v);
  // A file without counters (saved by other tools) leaves them at 0.
  for (const [layer, bn] of store.batchNorm) {
    const t = file.tensors.get(`${layer}.num_batches_tracked`);
    bn.batchesTracked = t ? toFloat32(t, `${layer}.num_batches_tracked`)[0] : 0;
  }
  return file.metadata;
}

/** The card of a weights file without loading its tensors (null: the file has none). */
export function weightsCard(bytes: Uint8Array, source: string): ModelCard | null {
  return readCard(decodeSafetensors(bytes, source).metadata, source);
}

/**
 * The model a weights file describes, built and loaded: from the file's card, or from `fallback`
 * (state.json's config, the page's settings) for a file without one. A fallback that disagrees
 * with the card is an error that lists what differs.
 */
export function modelFromWeights(engine: Engine, bytes: Uint8Array, source: string, fallback?: { model: ModelSpec; from: string }): { model: Model; card: ModelCard | null } {
  const card = weightsCard(bytes, source);
  if (card && fallback) {
    const diff = configDifferences(card.model, fallback.model, ['in the file', `in ${fallback.from}`]);
    if (diff.length) throw new Error(`${source} describes another model than ${fallback.from}: ${diff.join('; ')}`);
  }
  const spec = card?.model ?? fallback?.model;
  if (!spec) throw new Error(`${source}: the file does not say which model it holds (no '${CARD_KEY}' metadata: saved by another tool or an older critdamp); give the model's config`);
  const model = createModel(engine, spec, 0);
  try {
    decodeWeights(model.store, bytes, source, spec);
  } catch (e) {
    model.destroy();
    throw e;
  }
  return { model, card };
}
