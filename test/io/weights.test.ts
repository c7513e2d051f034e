// Model weights as safetensors: torchvision names and shapes, int64 num_batches_tracked, a round
// trip that restores the network exactly, and strict loading with clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { ResNet18 } from '../../src/nn/resnet';
import { decodeWeights, encodeWeights } from '../../src/io/weights';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors';

const cfg = { numClasses: 10, inChannels: 3, stem: 'imagenet' as const, width: 1 / 16 };

test('weights: torchvision names, shapes and dtypes; round trip restores every value', async () => {
  const e = await requireEngine();
  const a = new ResNet18(e, cfg, 1), b = new ResNet18(e, cfg, 2);
  a.store.batchNorm.forEach((bn, layer) => (bn.batchesTracked = layer === 'layer4.1.bn2' ? 17 : 3));
  const bytes = await encodeWeights(a.store);
  const file = decodeSafetensors(bytes, 'a.safetensors');
  assert.equal(file.tensors.get('conv1.weight')!.shape, [4, 3, 7, 7]);
  assert.equal(file.tensors.get('layer2.0.downsample.0.weight')!.shape, [8, 4, 1, 1]);
  assert.equal(file.tensors.get('fc.weight')!.shape, [10, 32]);
  assert.is(file.tensors.get('bn1.running_var')!.dtype, 'F32');
  const nbt = file.tensors.get('layer4.1.bn2.num_batches_tracked')!;
  assert.is(nbt.dtype, 'I64');
  assert.equal(nbt.shape, []);
  assert.is(new DataView(nbt.data.buffer, nbt.data.byteOffset).getBigInt64(0, true), 17n);
  assert.is(file.metadata.format, 'pt');
  // 62 parameters + 40 BN buffers + 20 counters, as torchvision's state_dict.
  assert.is(file.tensors.size, 62 + 40 + 20);
  decodeWeights(b.store, bytes, 'a.safetensors');
  const [wa, wb] = await Promise.all([a.store.read(), b.store.read()]);
  for (const [name, t] of wa) assert.equal(Array.from(wb.get(name)!.data), Array.from(t.data), name);
  assert.is(b.store.bn('layer4.1.bn2').batchesTracked, 17);
  assert.is(b.store.bn('bn1').batchesTracked, 3, 'each BN layer keeps its own count');
  a.store.destroy();
  b.store.destroy();
});

test('weights: a file for another model is refused, naming what is missing, extra or mis-shaped, and nothing is written', async () => {
  const e = await requireEngine();
  const small = new ResNet18(e, cfg, 1), other = new ResNet18(e, { ...cfg, numClasses: 5 }, 3);
  const before = await small.store.read();
  const wrong = await encodeWeights(other.store);
  assert.throws(() => decodeWeights(small.store, wrong, 'other.safetensors'),
    /other\.safetensors: the weights do not fit this model .*\n {2}shape mismatch \(2\): fc\.weight: file \[5, 32\], model \[10, 32\]/s);
  const f = decodeSafetensors(await encodeWeights(small.store), 'x');
  // The same file with bn1.bias left out and an unknown tensor added.
  const rebuilt = encodeSafetensors([...[...f.tensors].filter(([n]) => n !== 'bn1.bias' && !n.endsWith('num_batches_tracked'))
    .map(([n, t]) => [n, { shape: t.shape, data: new Float32Array(t.data.slice().buffer) }] as [string, { shape: number[]; data: Float32Array }]),
    ['extra.weight', { shape: [1], data: new Float32Array(1) }]]);
  assert.throws(() => decodeWeights(small.store, rebuilt, 'cut.safetensors'), /missing \(1\): bn1\.bias[\s\S]*unexpected \(1\): extra\.weight/);
  assert.throws(() => decodeWeights(small.store, wrong.subarray(0, 100), 'trunc.safetensors'), /trunc\.safetensors/);
  const after = await small.store.read();
  for (const [name, t] of before) assert.equal(Array.from(after.get(name)!.data), Array.from(t.data), `${name} untouched`);
  small.store.destroy();
  other.store.destroy();
});

test.run();
