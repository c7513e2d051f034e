// Gradient attribution on the GPU: its segment sums against float64 sums of the same gradient,
// the mean over batches equal to one big batch, and a known answer (a corrupted layer is named).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Rng } from '../../src/util/rng';
import { ResNet18 } from '../../src/nn/resnet';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { attribute, gradientSums } from '../../src/attribution/attribute';
import { correct } from '../../src/attribution/correct';
import { autoRgnFineTune } from '../../src/attribution/autorgn';
import { segmentSums } from '../../src/attribution/scores';
import type { Dataset, DatasetSplit } from '../../src/data/dataset';
import type { Engine } from '../../src/gpu/engine';

/** Four classes of 8×8 images: a bright quadrant, plus noise. */
function quadrants(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 64), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 4;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const q = (y < 4 ? 0 : 2) + (x < 4 ? 0 : 1);
      images[i * 64 + y * 8 + x] = Math.min(255, (q === labels[i] ? 140 : 50) + rng.int(90));
    }
  }
  return { name: `quadrants${seed}`, images, labels, n, c: 1, h: 8, w: 8, classes: ['tl', 'tr', 'bl', 'br'] };
}

const CONFIG: TrainConfig = {
  epochs: 3, batchSize: 16, seed: 5, model: { numClasses: 4, inChannels: 1, stem: 'cifar', width: 1 / 16 },
  optimizer: { kind: 'sgd', weightDecay: 5e-4 }, lr: { kind: 'cosine', lr: 0.05 }, momentum: { kind: 'physics' },
  augment: null, labelSmoothing: 0, logEvery: 100, evalBatchSize: 64,
};

async function trained(e: Engine, data: DatasetSplit): Promise<Trainer> {
  const t = Trainer.create(e, data, CONFIG);
  await t.fit();
  return t;
}

test('attribution: GPU segment sums equal float64 sums of the same gradient; batches add up to the mean', async () => {
  const e = await requireEngine();
  const ds = quadrants(40, 1);
  const model = new ResNet18(e, CONFIG.model, 3);
  const norm = { mean: [0.4], std: [0.2] };
  const [big] = await gradientSums(e, model, ds, false, { batchSize: 40, ...norm });
  const grads = await model.store.readGrads(), weights = await model.store.read();
  const flatG = new Float32Array(model.store.length), flatW = new Float32Array(model.store.length);
  for (const s of model.store.segments) {
    flatG.set(grads.get(s.name)!, s.offset);
    flatW.set(weights.get(s.name)!.data, s.offset);
  }
  const want = segmentSums(flatG, flatW, model.store.segments);
  for (const key of ['gg', 'ww', 'gw', 'n'] as const) {
    want[key].forEach((v, i) => assert.ok(Math.abs(big[key][i] - v) <= 1e-4 * Math.abs(v) + 1e-9, `${key}[${i}] (${model.store.segments[i].name}): ${big[key][i]} vs ${v}`));
  }
  const [batched] = await gradientSums(e, model, ds, false, { batchSize: 7, ...norm });
  big.gg.forEach((v, i) => assert.ok(Math.abs(batched.gg[i] - v) <= 1e-3 * v + 1e-12, `Σg² of ${model.store.segments[i].name}: batches of 7 ${batched.gg[i]} vs one batch ${v}`));
  model.destroy();
});

test('a corrupted layer of a trained network is named first, and retraining it alone recovers the accuracy; nothing else moves', async () => {
  const e = await requireEngine();
  const data = { train: quadrants(160, 2), test: quadrants(80, 3) };
  const t = await trained(e, data);
  const clean = await t.evaluate();
  // Scaled by 0.1: in eval mode BN normalises with the old running statistics, so the layer's
  // output collapses while its gradient keeps its size: ‖g‖/‖θ‖ grows tenfold.
  const target = 'layer2.0.conv1';
  const w = (await t.model.store.read()).get(`${target}.weight`)!.data;
  t.model.store.set(`${target}.weight`, w.map((v) => v * 0.1));
  t.model.store.setFrozen((n) => n.startsWith('fc.'));
  const snapshot = await t.model.store.read();
  const a = await attribute(e, t.model, data.test, { mean: t.mean, std: t.std, granularity: 'layer', k: 3, contrast: true });
  console.log(`    accuracy ${clean.accuracy} → ${a.evaluation.accuracy}; top: ${a.rows.slice(0, 3).map((r) => `${r.name} ${r.score.toExponential(2)}`).join(', ')}`);
  assert.ok(a.evaluation.accuracy < clean.accuracy - 0.1, 'the corruption costs accuracy');
  assert.is(a.problem[0], target);
  assert.is(a.samples, a.evaluation.misclassified.length);
  assert.is(a.contrast!.rows.length, a.rows.length);
  const after = await t.model.store.read();
  for (const [name, v] of snapshot) assert.equal(Array.from(after.get(name)!.data), Array.from(v.data), `${name} untouched by attribution`);
  assert.ok(!t.model.store.param('fc.weight').requiresGrad && t.model.store.param('conv1.weight').requiresGrad, 'freezing restored');

  const r = await correct(e, t.model, { layers: [a.problem[0]], granularity: 'layer', data, mean: t.mean, std: t.std, epochs: 2, lr: { kind: 'cosine', lr: 0.05 } });
  console.log(`    corrected ${r.layers}: ${r.before.errors} → ${r.after.errors} errors (fixed ${r.fixed}, broken ${r.broken}), ${(100 * r.share).toFixed(2)}% of parameters`);
  const lost = clean.accuracy - r.before.accuracy;
  assert.ok(r.after.accuracy - r.before.accuracy >= 0.5 * lost, `recovered ${r.after.accuracy - r.before.accuracy} of ${lost}`);
  assert.is(r.net, r.before.errors - r.after.errors);
  assert.ok(r.share > 0 && r.share < 0.1);
  const fixedUp = await t.model.store.read();
  for (const [name, v] of snapshot) {
    if (name.startsWith(`${target}.`)) continue;
    assert.equal(Array.from(fixedUp.get(name)!.data), Array.from(v.data), `${name} stayed bit-identical`);
  }
  assert.ok(!t.model.store.param('fc.weight').requiresGrad && t.model.store.bn('layer2.0.bn1').running === 'update', "the caller's freezing is back");
  const err = await attribute(e, t.model, data.test, { mean: t.mean, std: t.std, granularity: 'group', k: 9 }).catch((x: Error) => x.message);
  assert.match(String(err), /k must be an integer in 1\.\.7 \(the groups of this model\)/);
  const none = await correct(e, t.model, { layers: ['layer9'], granularity: 'group', data, mean: t.mean, std: t.std }).catch((x: Error) => x.message);
  assert.match(String(none), /no layer named layer9; valid: conv1, bn1, layer1/);

  // Auto-RGN, the control that picks layers by their gradients: everything trains, freezing comes back.
  const conv1 = (await t.model.store.read()).get('conv1.weight')!.data;
  const rgn = await autoRgnFineTune(e, t.model, { data, mean: t.mean, std: t.std, epochs: 1, lr: { kind: 'cosine', lr: 0.05 } });
  assert.is(rgn.share, 1);
  assert.ok(Number.isFinite(rgn.after.accuracy) && rgn.net === rgn.fixed - rgn.broken);
  assert.not.equal(Array.from((await t.model.store.read()).get('conv1.weight')!.data), Array.from(conv1), 'every layer trains under Auto-RGN');
  assert.ok(!t.model.store.param('fc.weight').requiresGrad, "the caller's freezing is back");
  t.destroy();
});

test('attribution: a model with no errors on the data says so', async () => {
  const e = await requireEngine();
  const ds = quadrants(12, 4);
  const model = new ResNet18(e, CONFIG.model, 1);
  // Logits: a zero fc weight and a bias that always picks class 0; every label 0.
  model.store.set('fc.weight', new Float32Array(model.store.param('fc.weight').size));
  model.store.set('fc.bias', Float32Array.from([5, 0, 0, 0]));
  const zeros = { ...ds, labels: new Uint8Array(ds.n) };
  const msg = await attribute(e, model, zeros, { mean: [0.4], std: [0.2] }).catch((x: Error) => x.message);
  assert.match(String(msg), /misclassifies none of the 12 samples/);
  model.destroy();
});

test.run();
