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

test('weights: the card — written and read back; modelFromWeights rebuilds the model from the bytes alone; misfits and damaged cards named', async () => {
  const e = await requireEngine();
  const { createModel } = await import('../../src/nn/registry');
  const { cardMetadata, cardMismatch, configDifferences, modelFromWeights, readCard } = await import('../../src/io/weights');
  const vgg = createModel(e, { name: 'vgg11_bn', numClasses: 3, inChannels: 1, width: 1 / 16 }, 4);
  const card = { model: vgg.config, input: { channels: 1, height: 20, width: 20 }, mean: [0.3], std: [0.2], classes: ['a', 'b', 'c'] };
  try {
    const bytes = await encodeWeights(vgg.store, cardMetadata(card));
    assert.equal(readCard(decodeSafetensors(bytes, 'v').metadata, 'v'), card);
    const { model, card: back } = modelFromWeights(e, bytes, 'v.safetensors');
    try {
      assert.equal(back, card);
      assert.equal(model.config, vgg.config);
      const [x, y] = await Promise.all([vgg.store.read(), model.store.read()]);
      for (const [name, t] of x) assert.equal(Array.from(y.get(name)!.data), Array.from(t.data), name);
    } finally {
      model.destroy();
    }
    assert.throws(() => modelFromWeights(e, bytes, 'v.safetensors', { model: { ...vgg.config, width: 0.125 }, from: 'state.json' }),
      /v\.safetensors describes another model than state\.json: width: 0\.0625 in the file, 0\.125 in state\.json/);
    // A ResNet-18 of the same classes cannot take the file: the error says which model the file holds.
    const r = new ResNet18(e, { numClasses: 3, inChannels: 1, stem: 'cifar', width: 1 / 16 }, 0);
    try {
      assert.throws(() => decodeWeights(r.store, bytes, 'v.safetensors', r.config),
        /v\.safetensors: the weights do not fit this model \(the file holds vgg11_bn \(name: "vgg11_bn" in the file, "resnet18" here; stem: absent in the file, "cifar" here\)\)\n  missing/);
    } finally {
      r.destroy();
    }
    assert.equal(cardMismatch(card, { c: 1, h: 20, w: 20, classes: ['a', 'b', 'x'] }), { errors: [], notes: ['class names: a, b, c in the model, a, b, x in the data'] });
    assert.equal(cardMismatch(card, { c: 3, h: 32, w: 32, classes: ['a', 'b'] }).errors, ['channels: 1 in the model, 3 in the data', 'classes: 3 in the model (a, b, c), 2 in the data (a, b)']);
    assert.equal(configDifferences({ numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 }, { name: 'resnet18', numClasses: 10, inChannels: 1, stem: 'cifar', width: 1 }, ['a', 'b']), [],
      'a config without a name is a ResNet-18');
    const damaged = encodeSafetensors([['w', { shape: [1], data: new Float32Array(1) }]], { critdamp: '{"model": {"name": "mlp"}}' });
    assert.throws(() => readCard(decodeSafetensors(damaged, 'd').metadata, 'd'), /d: the 'critdamp' metadata is damaged: model needs name, numClasses and inChannels/);
  } finally {
    vgg.destroy();
  }
});

test.run();
