/**
 * Training checkpoints on disk, written atomically: a checkpoint is a directory
 * `<out>/checkpoints/epoch-NNNN/` holding model.safetensors (torchvision names), optimizer.safetensors
 * (per-parameter state under PyTorch's names: momentum_buffer, exp_avg, exp_avg_sq) and state.json
 * (schedule position, RNG seed, log position, run config). It is written under a temporary name,
 * flushed, then renamed; `latest` (itself replaced by rename) names the newest complete one. A crash
 * mid-write leaves the previous checkpoint and `latest` untouched.
 */
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParamStore } from '../nn/params';
import type { Optimizer } from '../optim/optimizer';
import { decodeSafetensors, encodeSafetensors, toFloat32, type SafeInput } from './safetensors';
import { cardMetadata, cardOf, decodeWeights, encodeWeights, modelFromWeights, type ModelCard } from './weights';
import type { Engine } from '../gpu/engine';
import type { Model, ModelSpec } from '../nn/model';

/** Writes bytes to path via a temporary file and rename (fsync'd). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

const STATE_NAMES: Record<string, string[]> = { sgd: ['momentum_buffer'], adam: ['exp_avg', 'exp_avg_sq'], adamw: ['exp_avg', 'exp_avg_sq'] };

export interface CheckpointState {
  epoch: number;
  step: number;
  [key: string]: unknown;
}

/**
 * A checkpoint's state.json, read and checked: an unreadable file, text that is not JSON, or a
 * missing or mistyped field is an error naming the file and the field (a damaged checkpoint must
 * not surface as `Unexpected token` or `reading 'seed'`).
 */
export async function readRunState<T extends CheckpointState>(dir: string): Promise<T> {
  const file = join(dir, 'state.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot be read (${(e as Error).message}); the checkpoint is incomplete`);
  }
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); the checkpoint is damaged: use an earlier one under checkpoints/`);
  }
  const bad = (field: string, want: string) => new Error(`${file}: ${field} is ${want}; the checkpoint is damaged or was not written by critdamp train`);
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (!obj(state)) throw bad('the file', 'not a JSON object');
  if (!int(state.epoch)) throw bad('epoch', 'missing or not a non-negative integer');
  if (!int(state.step)) throw bad('step', 'missing or not a non-negative integer');
  const config = state.config;
  if (config !== undefined) {
    if (!obj(config)) throw bad('config', 'not an object');
    if (!obj(config.model)) throw bad('config.model', 'missing');
    for (const k of ['numClasses', 'inChannels']) if (!int(config.model[k])) throw bad(`config.model.${k}`, 'missing or not an integer');
    // Options depend on the model (ResNet and VGG: width; the MLP: none); a width, where there is one, is a positive number.
    if (config.model.name !== undefined && typeof config.model.name !== 'string') throw bad('config.model.name', 'not a model name');
    if (config.model.width !== undefined && !(typeof config.model.width === 'number' && config.model.width > 0)) throw bad('config.model.width', 'not a positive number');
    if (!int(config.seed)) throw bad('config.seed', 'missing or not an integer');
    if (!int(config.epochs)) throw bad('config.epochs', 'missing or not an integer');
  }
  for (const k of ['mean', 'std']) {
    if (state[k] !== undefined && !(Array.isArray(state[k]) && (state[k] as unknown[]).every((x) => typeof x === 'number'))) throw bad(k, 'not a list of numbers');
  }
  return state as T;
}

export async function saveCheckpoint(outDir: string, store: ParamStore, opt: Optimizer, state: CheckpointState, keep = 2): Promise<string> {
  const root = join(outDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`;
  const tmp = join(root, `${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);

  const { meta, buffers } = await opt.saveState();
  const entries: [string, SafeInput][] = [];
  for (const seg of store.segments) {
    STATE_NAMES[opt.kind].forEach((s, k) => {
      entries.push([`${seg.name}.${s}`, { shape: [...store.param(seg.name).shape], data: buffers[k].subarray(seg.offset, seg.offset + seg.length) }]);
    });
  }
  const files: [string, Uint8Array | string][] = [
    // The weights describe themselves (model, input, normalisation, classes) when the state says.
    ['model.safetensors', await encodeWeights(store, { epoch: String(state.epoch), ...cardFields(state) })],
    ['optimizer.safetensors', encodeSafetensors(entries, { optimizer: JSON.stringify(meta) })],
    ['state.json', JSON.stringify(state, null, 1)],
  ];
  for (const [f, data] of files) {
    const fh = await open(join(tmp, f), 'w');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
  }
  const final = join(root, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await writeFileAtomic(join(root, 'latest'), name + '\n');
  // Keep the newest `keep` complete checkpoints, and drop what a killed write left behind.
  const names = await readdir(root);
  for (const d of names.filter((x) => /^epoch-\d+\.tmp-\d+$/.test(x))) await rm(join(root, d), { recursive: true, force: true });
  const all = names.filter((d) => /^epoch-\d+$/.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) await rm(join(root, d), { recursive: true, force: true });
  return final;
}

/**
 * The newest complete checkpoint under outDir (or the directory itself if it is one), or null:
 * the one `latest` names, or, when that pointer is missing, the newest epoch-N folder.
 */
export async function findCheckpoint(path: string): Promise<string | null> {
  try {
    await readFile(join(path, 'state.json'));
    return path;
  } catch { /* not a checkpoint directory itself */ }
  return (await listCheckpoints(path))[0] ?? null;
}

/**
 * A run's complete checkpoints, newest first: the one `latest` names, then the other epoch-N
 * folders by epoch (a resume falls back along this list past damaged ones).
 */
export async function listCheckpoints(outDir: string): Promise<string[]> {
  const root = join(outDir, 'checkpoints');
  let names: string[];
  try {
    names = (await readdir(root)).filter((d) => /^epoch-\d+$/.test(d)).sort().reverse();
  } catch {
    return [];
  }
  let latest = '';
  try { latest = (await readFile(join(root, 'latest'), 'utf8')).trim(); } catch { /* no pointer: by name only */ }
  if (names.includes(latest)) names = [latest, ...names.filter((n) => n !== latest)];
  return names.map((n) => join(root, n));
}

/**
 * Restores a trainer from the newest of a run's checkpoints that loads: weights, optimizer state
 * and the trainer's position (`restore`). A checkpoint that fails (damaged state.json, weights or
 * optimizer state, or a state the trainer refuses) is skipped, with the reason, for the next one.
 * Returns the checkpoint used (null when none loads) and what was skipped.
 */
export async function restoreNewest<T extends CheckpointState>(outDir: string, store: ParamStore, opt: Optimizer, restore: (state: T) => void):
  Promise<{ dir: string | null; state: T | null; skipped: string[] }> {
  const skipped: string[] = [];
  for (const dir of await listCheckpoints(outDir)) {
    try {
      const state = await readRunState<T>(dir);
      await loadCheckpoint(dir, store, opt);
      restore(state);
      return { dir, state, skipped };
    } catch (e) {
      skipped.push(`${dir} (${(e as Error).message})`);
    }
  }
  return { dir: null, state: null, skipped };
}

/** Restores weights, BN statistics and optimizer state; returns the saved training state. */
export async function loadCheckpoint(dir: string, store: ParamStore, opt: Optimizer | null): Promise<CheckpointState> {
  const read = async (f: string) => {
    try {
      return new Uint8Array(await readFile(join(dir, f)));
    } catch (e) {
      throw new Error(`checkpoint ${dir}: cannot read ${f} (${(e as Error).message})`);
    }
  };
  const state = await readRunState(dir);
  decodeWeights(store, await read('model.safetensors'), join(dir, 'model.safetensors'));
  if (opt) {
    const file = decodeSafetensors(await read('optimizer.safetensors'), join(dir, 'optimizer.safetensors'));
    const meta = JSON.parse(file.metadata.optimizer ?? 'null');
    if (!meta || meta.kind !== opt.kind) throw new Error(`checkpoint ${dir}: optimizer state is for ${meta?.kind ?? 'nothing'}, this run uses ${opt.kind}`);
    const buffers = STATE_NAMES[opt.kind].map(() => new Float32Array(store.length));
    for (const seg of store.segments) {
      STATE_NAMES[opt.kind].forEach((s, k) => {
        const t = file.tensors.get(`${seg.name}.${s}`);
        if (!t) throw new Error(`checkpoint ${dir}: optimizer.safetensors lacks ${seg.name}.${s}`);
        const v = toFloat32(t, `${seg.name}.${s}`);
        if (v.length !== seg.length) throw new Error(`checkpoint ${dir}: ${seg.name}.${s} has ${v.length} values, expected ${seg.length}`);
        buffers[k].set(v, seg.offset);
      });
    }
    opt.loadState(meta, buffers);
  }
  return state;
}

/** The card's metadata entries for a run state that has every part of one (else none). */
function cardFields(state: CheckpointState): Record<string, string> {
  const card = cardOf(state as Parameters<typeof cardOf>[0]);
  return card ? cardMetadata(card) : {};
}

/**
 * A checkpoint's model, rebuilt from its model.safetensors alone (the card in its metadata; for a
 * file written before cards, state.json's config) and loaded. A card and a state.json that
 * describe different models are an error listing what differs.
 */
export async function loadCheckpointModel(engine: Engine, dir: string, state?: CheckpointState): Promise<{ model: Model; card: ModelCard | null }> {
  const file = join(dir, 'model.safetensors');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new Error(`checkpoint ${dir}: cannot read model.safetensors (${(e as Error).message})`);
  }
  const spec = (state?.config as { model?: ModelSpec } | undefined)?.model;
  const r = modelFromWeights(engine, bytes, file, spec ? { model: spec, from: join(dir, 'state.json') } : undefined);
  const card = r.card ?? (state ? cardOf(state as Parameters<typeof cardOf>[0]) : null);
  return { model: r.model, card };
}

/** A weights file (model.safetensors, or one the page or PyTorch wrote) rebuilt as its card says. */
export async function loadWeightsFile(engine: Engine, path: string, fallback?: { model: ModelSpec; from: string }): Promise<{ model: Model; card: ModelCard | null }> {
  return modelFromWeights(engine, new Uint8Array(await readFile(path)), path, fallback);
}

export async function saveWeights(path: string, store: ParamStore, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, await encodeWeights(store, metadata));
}

export async function loadWeights(path: string, store: ParamStore): Promise<Record<string, string>> {
  return decodeWeights(store, new Uint8Array(await readFile(path)), path);
}

