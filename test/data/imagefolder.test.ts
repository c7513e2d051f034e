import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { classCounts } from '../../src/data/dataset';
import { loadImageFolder } from '../../src/data/imagefolder.node';
import { loadDataset } from '../../src/data/load.node';
import { errorOf, tempDir } from './helpers';

type Rgb = [number, number, number];

async function solid(path: string, rgb: Rgb, width = 40, height = 24, format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<void> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  const out = format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 100 }) : img.webp({ lossless: true });
  writeFileSync(path, await out.toBuffer());
}

/** Asserts image i is one colour per channel plane (NCHW). */
function assertSolid(images: Uint8Array, i: number, rgb: number[], h: number, w: number, tol = 0): void {
  const plane = h * w;
  for (let ch = 0; ch < rgb.length; ch++) {
    for (let p = 0; p < plane; p++) {
      const got = images[(i * rgb.length + ch) * plane + p];
      if (Math.abs(got - rgb[ch]) > tol) assert.unreachable(`image ${i} channel ${ch} pixel ${p}: ${got} != ${rgb[ch]}`);
    }
  }
}

const RED: Rgb = [200, 10, 30], GREEN: Rgb = [5, 180, 60], BLUE: Rgb = [0, 40, 250];

/** root/<class>/ with n solid images of the class colour each; classes are created out of order. */
async function writeFolder(root: string, perClass: number): Promise<void> {
  const classes: [string, Rgb][] = [['zebra', BLUE], ['apple', RED], ['Mango', GREEN]];
  for (const [name, rgb] of classes) {
    mkdirSync(join(root, name), { recursive: true });
    for (let k = 0; k < perClass; k++) await solid(join(root, name, `img${k}.png`), rgb);
  }
  writeFileSync(join(root, 'apple', 'notes.txt'), 'not an image');
  mkdirSync(join(root, '.cache'));
}

test('folder: classes sorted by name, solid colours decode exactly into NCHW at the asked size', async () => {
  const t = tempDir('folder');
  try {
    await writeFolder(t.dir, 5);
    const { train, test: tst } = await loadDataset('folder', { dir: t.dir, size: [8, 12], testFraction: 0.2, seed: 1 });
    assert.equal(train.classes, ['Mango', 'apple', 'zebra']); // code-unit order: uppercase first
    assert.equal([train.c, train.h, train.w], [3, 8, 12]);
    assert.equal(classCounts(train), [4, 4, 4]);
    assert.equal(classCounts(tst), [1, 1, 1]);
    const colour = [GREEN, RED, BLUE];
    for (const ds of [train, tst]) for (let i = 0; i < ds.n; i++) assertSolid(ds.images, i, colour[ds.labels[i]], 8, 12);
  } finally { t.cleanup(); }
});

test('folder: the split is seeded (same seed, same split; another seed, another split)', async () => {
  const t = tempDir('folder-seed');
  try {
    // Distinct greys per file so the split can be read back from the pixels.
    for (const cls of ['a', 'b']) {
      mkdirSync(join(t.dir, cls));
      for (let k = 0; k < 10; k++) await solid(join(t.dir, cls, `${k}.png`), [k * 20, k * 20, k * 20], 4, 4);
    }
    const held = async (seed: number) => {
      const { test: tst } = await loadImageFolder(t.dir, { size: 4, testFraction: 0.3, seed });
      assert.is(tst.n, 6);
      return Array.from({ length: tst.n }, (_, i) => `${tst.labels[i]}:${tst.images[i * 48] / 20}`).join(',');
    };
    const a = await held(7), b = await held(7), c = await held(8);
    assert.is(a, b);
    assert.is.not(a, c);
  } finally { t.cleanup(); }
});

test('folder: train/ and test/ subfolders, grayscale, jpeg and webp, contain on black', async () => {
  const t = tempDir('folder-split');
  try {
    for (const part of ['train', 'test']) {
      mkdirSync(join(t.dir, part, 'cat'), { recursive: true });
      mkdirSync(join(t.dir, part, 'dog'), { recursive: true });
    }
    await solid(join(t.dir, 'train', 'cat', 'a.jpg'), [128, 128, 128], 16, 16, 'jpeg');
    await solid(join(t.dir, 'train', 'dog', 'b.webp'), [255, 255, 255], 16, 16, 'webp');
    await solid(join(t.dir, 'test', 'dog', 'c.PNG'), [64, 64, 64], 32, 16); // 2:1, letterboxed
    const { train, test: tst } = await loadImageFolder(t.dir, { size: 8, channels: 1, fit: 'contain' });
    assert.equal(train.classes, ['cat', 'dog']);
    assert.equal([train.n, train.c, train.h, train.w, tst.n], [2, 1, 8, 8, 1]);
    assert.equal([...train.labels, ...tst.labels], [0, 1, 1]);
    assertSolid(train.images, 0, [128], 8, 8, 2); // jpeg: within 2 levels
    assertSolid(train.images, 1, [255], 8, 8);
    // 32×16 into 8×8 with contain: rows 2..5 are the image, rows 0..1 and 6..7 black.
    for (let y = 0; y < 8; y++) {
      const want = y >= 2 && y < 6 ? 64 : 0;
      for (let x = 0; x < 8; x++) assert.is(tst.images[y * 8 + x], want, `row ${y} col ${x}`);
    }
    mkdirSync(join(t.dir, 'test', 'bird'));
    assert.match(await errorOf(() => loadImageFolder(t.dir, { size: 8 })), `${join(t.dir, 'test')}: classes bird are not in`);
  } finally { t.cleanup(); }
});

test('folder: an unreadable image, an empty class and no classes are named', async () => {
  const t = tempDir('folder-bad');
  try {
    await writeFolder(t.dir, 2);
    writeFileSync(join(t.dir, 'apple', 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const msg = await errorOf(() => loadImageFolder(t.dir, { size: 8, concurrency: 2 }));
    assert.match(msg, `${join(t.dir, 'apple', 'broken.png')}: unreadable image`);
    const t2 = tempDir('folder-empty');
    try {
      mkdirSync(join(t2.dir, 'only'));
      assert.match(await errorOf(() => loadImageFolder(t2.dir)), `${join(t2.dir, 'only')}: class folder holds no images`);
      const t3 = tempDir('folder-none');
      try {
        assert.match(await errorOf(() => loadImageFolder(t3.dir)), `${t3.dir}: no class folders`);
        assert.match(await errorOf(() => loadImageFolder(join(t3.dir, 'nope'))), 'cannot read image folder');
        assert.match(await errorOf(() => loadImageFolder(t3.dir, { testFraction: 1 })), 'testFraction must be in [0, 1)');
        assert.match(await errorOf(() => loadDataset('folder', {})), 'pass it as dir');
      } finally { t3.cleanup(); }
    } finally { t2.cleanup(); }
  } finally { t.cleanup(); }
});

test.run();
