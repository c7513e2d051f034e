import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_CLASSES, channelStats, classCounts } from '../../src/data/dataset';
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { loadDataset } from '../../src/data/load.node';
import { errorOf, idxBytes, idxImages, pixel, tempDir } from './helpers';
import { skip } from '../skip';

const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** A 5-train / 3-test IDX set of 4×6 images; gzip chooses .gz files. */
function writeIdx(dir: string, gzip: boolean): void {
  mkdirSync(dir, { recursive: true });
  const data = [idxImages(0, 5, 4, 6), idxBytes(0x801, [5], [9, 0, 3, 3, 7]), idxImages(1, 3, 4, 6), idxBytes(0x801, [3], [1, 2, 8])];
  FILES.forEach((f, k) => writeFileSync(join(dir, gzip ? f + '.gz' : f), gzip ? gzipSync(data[k]) : data[k]));
}

function assertImages(images: Uint8Array, n: number, seed: number, h: number, w: number): void {
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const got = images[(i * h + y) * w + x];
        if (got !== pixel(seed, i, 0, y, x)) assert.unreachable(`image ${i} y=${y} x=${x}: ${got} != ${pixel(seed, i, 0, y, x)}`);
      }
    }
  }
}

for (const gzip of [false, true]) {
  test(`idx: ${gzip ? 'gzipped' : 'raw'} files give c=1 images, header dims and labels`, async () => {
    const t = tempDir('idx');
    try {
      writeIdx(t.dir, gzip);
      const { train, test: tst } = await loadDataset('mnist', { dir: t.dir });
      assert.equal([train.n, train.c, train.h, train.w], [5, 1, 4, 6]);
      assert.equal([...train.labels], [9, 0, 3, 3, 7]);
      assertImages(train.images, 5, 0, 4, 6);
      assert.equal([tst.n, tst.c, tst.h, tst.w], [3, 1, 4, 6]);
      assert.equal([...tst.labels], [1, 2, 8]);
      assertImages(tst.images, 3, 1, 4, 6);
      assert.is(train.classes[9], '9');
    } finally { t.cleanup(); }
  });
}

test('idx: fashion-mnist found in <dir>/fashion-mnist with its class names', async () => {
  const t = tempDir('idx-fashion');
  try {
    writeIdx(join(t.dir, 'fashion-mnist'), true);
    const { train } = await loadDataset('fashion-mnist', { dir: t.dir });
    assert.is(train.n, 5);
    assert.equal(train.classes, [...FASHION_MNIST_CLASSES]);
    assert.is(train.classes[train.labels[0]], 'Ankle boot');
  } finally { t.cleanup(); }
});

test('idx: wrong magic names the file, both magics and the kind', async () => {
  const t = tempDir('idx-magic');
  try {
    writeIdx(t.dir, true);
    // A labels file where the images should be.
    writeFileSync(join(t.dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes(0x801, [5], [1, 2, 3, 4, 5])));
    const msg = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(msg, 'train-images-idx3-ubyte.gz: magic 0x00000801, expected 0x00000803 (images)');
    const lab = await errorOf(() => parseIdxLabels({ name: 'l', bytes: idxImages(0, 1, 2, 2) }, 10));
    assert.match(lab, 'l: magic 0x00000803, expected 0x00000801 (labels) (that is an images file)');
  } finally { t.cleanup(); }
});

test('idx: pixel count disagreeing with the header names both', async () => {
  const t = tempDir('idx-trunc');
  try {
    writeIdx(t.dir, false);
    const full = idxImages(0, 5, 4, 6);
    writeFileSync(join(t.dir, 'train-images-idx3-ubyte'), full.subarray(0, 16 + 50));
    const msg = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(msg, 'train-images-idx3-ubyte: header says 5 images of 4×6 but file holds 50 bytes of pixels (expected 120); truncated file?');
    const short = await errorOf(() => parseIdxImages({ name: 'img', bytes: full.subarray(0, 10) }));
    assert.match(short, 'img: 10 bytes is too short for an IDX images header (16 bytes)');
    const long = await errorOf(() => parseIdxImages({ name: 'img', bytes: new Uint8Array([...full, 0]) }));
    assert.match(long, 'file holds 121 bytes of pixels (expected 120)');
    const labs = await errorOf(() => parseIdxLabels({ name: 'lab', bytes: idxBytes(0x801, [4], [1, 2]) }, 10));
    assert.match(labs, 'lab: header says 4 labels but file holds 2 bytes of labels');
  } finally { t.cleanup(); }
});

test('idx: images/labels count mismatch and label out of range', async () => {
  const t = tempDir('idx-count');
  try {
    writeIdx(t.dir, false);
    writeFileSync(join(t.dir, 't10k-labels-idx1-ubyte'), idxBytes(0x801, [2], [1, 2]));
    const msg = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(msg, /t10k-images-idx3-ubyte holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels/);
    writeFileSync(join(t.dir, 't10k-labels-idx1-ubyte'), idxBytes(0x801, [3], [1, 12, 2]));
    const range = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(range, 't10k-labels-idx1-ubyte: label 12 of image 1 is out of range 0..9');
  } finally { t.cleanup(); }
});

test('idx: corrupt and truncated gzip name the file', async () => {
  const t = tempDir('idx-gzip');
  try {
    writeIdx(t.dir, true);
    const gz = gzipSync(idxImages(1, 3, 4, 6));
    writeFileSync(join(t.dir, 't10k-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 20));
    const trunc = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(trunc, 't10k-images-idx3-ubyte.gz: gzip data is corrupt or truncated');
    const garbled = Uint8Array.from(gz);
    garbled.fill(0xaa, 12, 40);
    writeFileSync(join(t.dir, 't10k-images-idx3-ubyte.gz'), garbled);
    const bad = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(bad, 't10k-images-idx3-ubyte.gz: gzip data is corrupt or truncated');
    // The browser-side parser is handed compressed bytes by mistake.
    assert.match(await errorOf(() => parseIdxImages({ name: 'x.gz', bytes: gz })), 'x.gz: data is still gzip-compressed');
  } finally { t.cleanup(); }
});

test('idx: missing dataset says where it looked and what to install; a missing file is named', async () => {
  const t = tempDir('idx-missing');
  try {
    const msg = await errorOf(() => loadDataset('fashion-mnist', { dir: t.dir }));
    assert.match(msg, 'Fashion-MNIST not found');
    assert.match(msg, join(t.dir, 'fashion-mnist'));
    assert.match(msg, 'apt-get install dataset-fashion-mnist');
    assert.match(msg, '--data-dir DIR');
    writeIdx(t.dir, false);
    rmSync(join(t.dir, 'train-labels-idx1-ubyte'));
    const one = await errorOf(() => loadDataset('mnist', { dir: t.dir }));
    assert.match(one, `${join(t.dir, 'train-labels-idx1-ubyte')}[.gz]: missing`);
  } finally { t.cleanup(); }
});

const SYSTEM = '/usr/share/datasets/fashion-mnist';
test('idx: the real Fashion-MNIST (found without a dir): 60000/10000 28×28, 6000 per class, known mean/std', async () => {
  if (!existsSync(join(SYSTEM, 'train-images-idx3-ubyte.gz'))) return skip(`Fashion-MNIST is not installed at ${SYSTEM} (apt-get install dataset-fashion-mnist)`);
  // Search from the defaults only: no CRITDAMP_DATA, an empty download cache.
  const t = tempDir('idx-real');
  const saved = { data: process.env.CRITDAMP_DATA, xdg: process.env.XDG_CACHE_HOME };
  delete process.env.CRITDAMP_DATA;
  process.env.XDG_CACHE_HOME = t.dir;
  try {
    const { train, test: tst } = await loadDataset('fashion-mnist');
    assert.equal([train.n, train.c, train.h, train.w], [60000, 1, 28, 28]);
    assert.equal([tst.n, tst.c, tst.h, tst.w], [10000, 1, 28, 28]);
    assert.equal(classCounts(train), new Array(10).fill(6000));
    assert.equal(classCounts(tst), new Array(10).fill(1000));
    // The first image of each split is an ankle boot (label 9).
    assert.equal([train.labels[0], tst.labels[0]], [9, 9]);
    // The widely quoted normalization constants of the Fashion-MNIST training set.
    const { mean, std } = channelStats(train);
    assert.ok(Math.abs(mean[0] - 0.2860) < 5e-4, `mean ${mean[0]}`);
    assert.ok(Math.abs(std[0] - 0.3530) < 5e-4, `std ${std[0]}`);
  } finally {
    if (saved.data === undefined) delete process.env.CRITDAMP_DATA; else process.env.CRITDAMP_DATA = saved.data;
    if (saved.xdg === undefined) delete process.env.XDG_CACHE_HOME; else process.env.XDG_CACHE_HOME = saved.xdg;
    t.cleanup();
  }
});

test.run();
