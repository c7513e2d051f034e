import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CIFAR10_CLASSES, CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES } from '../../src/data/dataset';
import { parseCifarBatch } from '../../src/data/cifar';
import { loadDataset } from '../../src/data/load.node';
import { cifarBytes, errorOf, pixel, tempDir } from './helpers';

const TRAIN = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
// Labels per file: two records per training batch, three in the test batch.
const LABELS = [[[0], [9]], [[1], [2]], [[3], [4]], [[5], [6]], [[7], [8]]];
const TEST_LABELS = [[4], [0], [9]];

function writeCifar10(dir: string): void {
  mkdirSync(dir, { recursive: true });
  TRAIN.forEach((f, b) => writeFileSync(join(dir, f), cifarBytes(b, LABELS[b])));
  writeFileSync(join(dir, 'test_batch.bin'), cifarBytes(5, TEST_LABELS));
}

/** Every byte of image n must be pixel(file, record, c, y, x) at NCHW offset ((n·3 + c)·32 + y)·32 + x. */
function assertPixels(images: Uint8Array, n: number, file: number, record: number): void {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const got = images[((n * 3 + c) * 32 + y) * 32 + x];
        if (got !== pixel(file, record, c, y, x)) {
          assert.unreachable(`image ${n} (file ${file} record ${record}) at c=${c} y=${y} x=${x}: ${got} != ${pixel(file, record, c, y, x)}`);
        }
      }
    }
  }
}

test('cifar10: batches 1..5 then test_batch land at the right NCHW offsets with their labels', async () => {
  const t = tempDir('cifar10');
  try {
    writeCifar10(t.dir);
    const { train, test: tst } = await loadDataset('cifar10', { dir: t.dir });
    assert.equal([train.n, train.c, train.h, train.w], [10, 3, 32, 32]);
    assert.equal([...train.labels], [0, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(train.classes, [...CIFAR10_CLASSES]);
    for (let b = 0; b < 5; b++) for (let r = 0; r < 2; r++) assertPixels(train.images, b * 2 + r, b, r);
    assert.is(tst.n, 3);
    assert.equal([...tst.labels], [4, 0, 9]);
    for (let r = 0; r < 3; r++) assertPixels(tst.images, r, 5, r);
    // A hand-checked byte: image 1 (batch 1, record 1), green channel, row 2, column 5.
    assert.is(train.images[((1 * 3 + 1) * 32 + 2) * 32 + 5], (11 + 101 + 14 + 15) & 0xff);
  } finally { t.cleanup(); }
});

test('cifar10: dir may hold cifar-10-batches-bin, and gzipped batches are inflated', async () => {
  const t = tempDir('cifar10-parent');
  try {
    const inner = join(t.dir, 'cifar-10-batches-bin');
    writeCifar10(inner);
    writeFileSync(join(inner, 'test_batch.bin'), gzipSync(cifarBytes(5, TEST_LABELS)));
    const { train, test: tst } = await loadDataset('cifar10', { dir: t.dir });
    assert.is(train.n, 10);
    assert.equal([...tst.labels], [4, 0, 9]);
    assertPixels(tst.images, 2, 5, 2);
  } finally { t.cleanup(); }
});

test('cifar100: fine and coarse labels, records of 3074 bytes', async () => {
  const t = tempDir('cifar100');
  try {
    const dir = join(t.dir, 'cifar-100-binary');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train.bin'), cifarBytes(0, [[19, 99], [0, 0], [7, 42]]));
    writeFileSync(join(dir, 'test.bin'), cifarBytes(1, [[3, 57]]));
    const fine = await loadDataset('cifar100', { dir: t.dir });
    assert.equal([...fine.train.labels], [99, 0, 42]);
    assert.equal([...fine.test.labels], [57]);
    assert.is(fine.train.classes.length, 100);
    assert.is(fine.train.classes[99], 'worm');
    for (let r = 0; r < 3; r++) assertPixels(fine.train.images, r, 0, r);
    assertPixels(fine.test.images, 0, 1, 0);
    const coarse = await loadDataset('cifar100', { dir, labels: 'coarse' });
    assert.equal([...coarse.train.labels], [19, 0, 7]);
    assert.equal(coarse.train.classes, [...CIFAR100_COARSE_CLASSES]);
    assert.is(CIFAR100_CLASSES.length, 100);
    assert.is(new Set(CIFAR100_CLASSES).size, 100);
    assert.is(CIFAR100_COARSE_CLASSES.length, 20);
  } finally { t.cleanup(); }
});

test('cifar10: a truncated batch names the file and the record size', async () => {
  const t = tempDir('cifar10-trunc');
  try {
    writeCifar10(t.dir);
    writeFileSync(join(t.dir, 'data_batch_3.bin'), cifarBytes(2, [[1], [2]]).subarray(0, 5000));
    const msg = await errorOf(() => loadDataset('cifar10', { dir: t.dir }));
    assert.match(msg, 'data_batch_3.bin: size 5000 is not a multiple of the 3073-byte record');
    const empty = await errorOf(() => parseCifarBatch({ name: 'x.bin', bytes: new Uint8Array(0) }, 'cifar10'));
    assert.match(empty, 'x.bin: file is empty');
  } finally { t.cleanup(); }
});

test('cifar: a label out of range names the file, the record and the range', async () => {
  const bad10 = cifarBytes(0, [[3], [10]]);
  assert.match(await errorOf(() => parseCifarBatch({ name: 'data_batch_1.bin', bytes: bad10 }, 'cifar10')),
    'data_batch_1.bin: label 10 of record 1 (byte offset 3073) is out of range 0..9');
  const bad100 = cifarBytes(0, [[20, 5]]);
  assert.match(await errorOf(() => parseCifarBatch({ name: 'train.bin', bytes: bad100 }, 'cifar100-fine')),
    'train.bin: coarse label 20 of record 0 (byte offset 0) is out of range 0..19');
  const badFine = cifarBytes(0, [[2, 100]]);
  assert.match(await errorOf(() => parseCifarBatch({ name: 'train.bin', bytes: badFine }, 'cifar100-coarse')),
    'fine label 100 of record 0');
  // The CIFAR-10 reader given CIFAR-100 bytes (3074-byte records) is caught by the size.
  assert.match(await errorOf(() => parseCifarBatch({ name: 'train.bin', bytes: cifarBytes(0, [[1, 2], [3, 4], [5, 6]]) }, 'cifar10')),
    'not a multiple of the 3073-byte record');
});

test('cifar10: a missing batch is named; an empty folder says where it looked and what to do', async () => {
  const t = tempDir('cifar10-missing');
  try {
    mkdirSync(join(t.dir, 'partial'));
    writeFileSync(join(t.dir, 'partial', 'test_batch.bin'), cifarBytes(0, [[1]]));
    const partial = await errorOf(() => loadDataset('cifar10', { dir: join(t.dir, 'partial') }));
    assert.match(partial, /partial\/data_batch_1\.bin: missing/);
    mkdirSync(join(t.dir, 'empty'));
    const none = await errorOf(() => loadDataset('cifar10', { dir: join(t.dir, 'empty') }));
    assert.match(none, 'CIFAR-10 not found');
    assert.match(none, join(t.dir, 'empty', 'cifar-10-batches-bin'));
    assert.match(none, 'download: true');
    assert.match(none, '--data-dir DIR');
  } finally { t.cleanup(); }
});

test('cifar10: asking for a size other than 32×32 is refused', async () => {
  const t = tempDir('cifar10-size');
  try {
    writeCifar10(t.dir);
    const msg = await errorOf(() => loadDataset('cifar10', { dir: t.dir, size: 64 }));
    assert.match(msg, 'size 64×64 is not available; its images are 32×32');
    const ok = await loadDataset('cifar10', { dir: t.dir, size: [32, 32] });
    assert.is(ok.train.n, 10);
  } finally { t.cleanup(); }
});

test.run();
