// The validation split: stratified and seeded, recorded exactly (a bitmap), applied back to the same
// images; and the selection rule every command uses — the held-out images, the training images when
// a run has none, the test images only when asked and then marked as leakage. Diagnosing on the
// held-out split never reads a test image: here the test set throws when touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { Rng } from '../../src/util/rng';
import { ResNet18 } from '../../src/nn/resnet';
import { attribute } from '../../src/attribution/attribute';
import { classCounts, decodeIndexSet, encodeIndexSet, stratifiedSplit, type Dataset } from '../../src/data/dataset';
import { applyHeldOut, makeHeldOut, selectionData } from '../../src/data/split';

function data(n: number, classes: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 64), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(classes);
    for (let p = 0; p < 64; p++) images[i * 64 + p] = (labels[i] * 40 + rng.int(60)) % 256;
  }
  return { name: `toy${seed}`, images, labels, n, c: 1, h: 8, w: 8, classes: Array.from({ length: classes }, (_, k) => `c${k}`) };
}

test('stratifiedSplit: round(f·count) of every class held out, seeded, disjoint and complete', () => {
  const ds = data(503, 5, 1);
  const { kept, held } = stratifiedSplit(ds, 0.1, 7);
  const counts = classCounts(ds);
  const heldCounts = new Array(5).fill(0);
  for (const i of held) heldCounts[ds.labels[i]]++;
  assert.equal(heldCounts, counts.map((c) => Math.round(0.1 * c)));
  assert.is(kept.length + held.length, 503);
  assert.is(new Set([...kept, ...held]).size, 503);
  assert.equal(stratifiedSplit(ds, 0.1, 7), { kept, held }, 'same seed, same split');
  assert.not.equal(stratifiedSplit(ds, 0.1, 8).held, held, 'another seed, another split');
  assert.throws(() => stratifiedSplit(ds, 1, 0), /fraction must be in \(0, 1\)/);
});

test('encodeIndexSet / decodeIndexSet round-trip; a bitmap of another size is refused', () => {
  const idx = [0, 3, 8, 9, 59_999];
  const bits = encodeIndexSet(idx, 60_000);
  assert.ok(bits.length < 10_100, `${bits.length} characters for 60,000 images`);
  assert.equal(decodeIndexSet(bits, 60_000), idx);
  assert.throws(() => decodeIndexSet(bits, 50_000), /does not cover 50000 images/);
  assert.throws(() => encodeIndexSet([10], 10), /10 is not in 0\.\.9/);
});

test('makeHeldOut / applyHeldOut: the recorded split gives back the same images; other data is refused', () => {
  const ds = data(200, 4, 2);
  const h = makeHeldOut(ds, 0.25, 3);
  const { train, val } = applyHeldOut(ds, h);
  const { kept, held } = stratifiedSplit(ds, 0.25, 3);
  assert.is(val.n, held.length);
  assert.is(train.n, kept.length);
  assert.equal(Array.from(val.labels), held.map((i) => ds.labels[i]));
  assert.equal(Array.from(val.images.subarray(0, 64)), Array.from(ds.images.subarray(held[0] * 64, held[0] * 64 + 64)));
  assert.throws(() => applyHeldOut(data(150, 4, 2), h), /made from 200 training images, but the data now has 150/);
});

test('selectionData: val when there is one, else train (said so), test only as leakage', () => {
  const train = data(40, 4, 4), val = data(10, 4, 5), tst = data(20, 4, 6);
  assert.is(selectionData({ train, val, test: tst }, 'val').data, val);
  const fallback = selectionData({ train, val: null, test: tst }, 'val');
  assert.is(fallback.data, train);
  assert.is(fallback.on, 'train');
  assert.match(fallback.note, /held out no validation images .* the 40 training images \(not the test images\)/);
  const leak = selectionData({ train, val, test: tst }, 'test');
  assert.is(leak.data, tst);
  assert.ok(leak.leakage);
  assert.match(leak.note, /LEAKAGE/);
  assert.throws(() => selectionData({ train, val, test: tst }, 'holdout' as 'val'), /--diagnose-on: 'holdout' is not val, train, test/);
});

test('attribute on the held-out split never touches a test image (a test set that throws when read)', async () => {
  const e = await requireEngine();
  const ds = data(120, 4, 9);
  const { train, val } = applyHeldOut(ds, makeHeldOut(ds, 0.25, 0));
  const poisoned = new Proxy(data(20, 4, 10), { get(target, key) {
    if (key === 'images' || key === 'labels') throw new Error('a test image was read');
    return Reflect.get(target, key);
  } });
  const sel = selectionData({ train, val, test: poisoned }, 'val');
  const model = new ResNet18(e, { numClasses: 4, inChannels: 1, stem: 'cifar', width: 1 / 16 }, 0);
  try {
    const a = await attribute(e, model, sel.data, { mean: [0.4], std: [0.25], k: 3 });
    assert.ok(a.samples > 0 && a.samples <= val.n);
    assert.is(a.evaluation.n, val.n);
  } finally {
    model.destroy();
  }
});

test.run();
