import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Dataset, CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES, channelStats, classCounts, concat, isGzip,
  makeDataset, subset,
} from '../../src/data/dataset';
import { errorOf } from './helpers';

/** n images of 2×2×3 (c=2) whose every byte of image i, channel ch is 10·i + ch. */
function tiny(n: number): Dataset {
  const images = new Uint8Array(n * 12);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < 2; ch++) images.fill(10 * i + ch, (i * 2 + ch) * 6, (i * 2 + ch + 1) * 6);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
  return makeDataset({ name: 'tiny', images, labels, n, c: 2, h: 2, w: 3, classes: ['a', 'b', 'c'] });
}

test('dataset: subset by indices, by count and by seeded count', () => {
  const ds = tiny(6);
  const s = subset(ds, [4, 1, 4]);
  assert.equal([s.n, s.c, s.h, s.w], [3, 2, 2, 3]);
  assert.equal([...s.labels], [1, 1, 1]);
  assert.equal([s.images[0], s.images[6], s.images[12], s.images[35]], [40, 41, 10, 41]);
  const first = subset(ds, 2);
  assert.equal([...first.images], [...ds.images.subarray(0, 24)]);
  const a = subset(ds, 4, 3), b = subset(ds, 4, 3);
  assert.equal([...a.images], [...b.images]);
  assert.is(new Set(Array.from({ length: 4 }, (_, i) => a.images[i * 12])).size, 4); // no repeats
});

test('dataset: subset and makeDataset reject bad input, naming the dataset', async () => {
  const ds = tiny(3);
  assert.match(await errorOf(() => subset(ds, [0, 3])), 'subset(tiny): index 3 at position 1 is not in 0..2');
  assert.match(await errorOf(() => subset(ds, 4)), 'subset(tiny): count 4 is not in 0..3');
  assert.match(await errorOf(() => makeDataset({ ...ds, labels: new Uint8Array(2) })), 'tiny: 3 images but 2 labels');
  assert.match(await errorOf(() => makeDataset({ ...ds, images: new Uint8Array(5) })), 'tiny: 5 pixel bytes, expected 3×2×2×3 = 36');
  assert.match(await errorOf(() => makeDataset({ ...ds, labels: Uint8Array.of(0, 3, 1) })),
    'tiny: label 3 of image 1 is out of range 0..2');
});

test('dataset: concat keeps order; shapes must agree', async () => {
  const ds = tiny(3);
  const j = concat('joined', [subset(ds, [2]), subset(ds, [0, 1])]);
  assert.is(j.name, 'joined');
  assert.equal([...j.labels], [2, 0, 1]);
  assert.equal([j.images[0], j.images[12], j.images[24]], [20, 0, 10]);
  const other = { ...tiny(1), name: 'other', h: 3, w: 2 };
  assert.match(await errorOf(() => concat('x', [ds, other])), 'concat(x): other is 2×3×2, expected 2×2×3');
});

test('dataset: channelStats is the per-channel mean and population std over [0, 1]', () => {
  // Channel 0 holds 0 and 255 in equal numbers: mean 0.5, std 0.5. Channel 1 is constant 51.
  const images = new Uint8Array(2 * 2 * 4);
  images.fill(0, 0, 4); images.fill(51, 4, 8); images.fill(255, 8, 12); images.fill(51, 12, 16);
  const ds = makeDataset({ name: 's', images, labels: new Uint8Array(2), n: 2, c: 2, h: 2, w: 2, classes: ['x'] });
  const { mean, std } = channelStats(ds);
  assert.equal(mean, [0.5, 0.2]);
  assert.ok(Math.abs(std[0] - 0.5) < 1e-12 && Math.abs(std[1]) < 1e-12, `std ${std}`);
  assert.equal(classCounts(tiny(7)), [3, 2, 2]);
});

test('dataset: class names and gzip magic', () => {
  assert.is(CIFAR10_CLASSES.length, 10);
  assert.is(CIFAR10_CLASSES[0], 'airplane');
  assert.is(FASHION_MNIST_CLASSES[9], 'Ankle boot');
  assert.equal(MNIST_CLASSES, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.ok(isGzip(Uint8Array.of(0x1f, 0x8b, 8)));
  assert.not.ok(isGzip(Uint8Array.of(0x1f)));
  assert.not.ok(isGzip(Uint8Array.of(0, 0, 8, 3)));
});

test.run();
