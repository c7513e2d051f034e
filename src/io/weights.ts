/**
 * Model weights as safetensors with torchvision's names: every parameter, the BN running
 * statistics, and `num_batches_tracked` (int64, as PyTorch stores it), so
 * `model.load_state_dict(safetensors.torch.load_file(path))` works on a torchvision resnet18 (with
 * `fc` sized to the classes, and conv1/maxpool replaced for the cifar stem), and back.
 * Browser-safe: bytes in, bytes out.
 */
import type { ParamStore } from '../nn/params';
import { decodeSafetensors, encodeSafetensors, toFloat32, type SafeInput } from './safetensors';

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
 * BF16 and F64 are converted. Nothing is written unless the whole file checks out.
 */
export function decodeWeights(store: ParamStore, bytes: Uint8Array, source: string): Record<string, string> {
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
    throw new Error(`${source}: the weights do not fit this model (check --width, --stem, the number of classes and input channels)` +
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
