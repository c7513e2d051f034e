// Datasets are uploaded once per engine: batchers (training, every evaluation) over the same
// Dataset share one GPU copy, freed when the last user lets go.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireEngine } from '../engine';
import { GpuBatcher, type BatcherOptions } from '../../src/data/batcher';
import { fitsResident, residentBytes, residentUsers } from '../../src/data/resident';
import { makeDataset, type Dataset } from '../../src/data/dataset';
import type { Engine } from '../../src/gpu/engine';

const DS: Dataset = makeDataset({
  name: 'shared', n: 20, c: 1, h: 4, w: 4, classes: ['a', 'b'],
  images: Uint8Array.from({ length: 20 * 16 }, (_, i) => (i * 7) % 256), labels: Uint8Array.from({ length: 20 }, (_, i) => i % 2),
});
const OPTS: BatcherOptions = { batchSize: 5, shuffle: false, augment: null, mean: [0.5], std: [0.25], seed: 0 };

/** Counts the bytes written with engine.upload while fn runs. */
async function uploadedBytes(e: Engine, fn: () => void | Promise<void>): Promise<number> {
  const upload = e.upload;
  let bytes = 0;
  e.upload = function (t, data) { bytes += data.length * 4; return upload.call(this, t, data); };
  try {
    await fn();
  } finally {
    e.upload = upload;
  }
  return bytes;
}

test('resident: a second batcher over the same dataset uploads no pixels; the last release frees the copy', async () => {
  const e = await requireEngine();
  const pixels = 20 * 16 + 20 * 4; // packed pixel bytes + u32 labels
  let a: GpuBatcher | null = null, b: GpuBatcher | null = null;
  const first = await uploadedBytes(e, () => { a = new GpuBatcher(e, DS, OPTS); });
  assert.ok(first >= pixels, `first batcher uploads the dataset (${first} bytes)`);
  assert.is(residentUsers(e, DS), 1);
  const second = await uploadedBytes(e, () => { b = new GpuBatcher(e, DS, OPTS); });
  assert.ok(second < pixels, `second batcher uploads only its own small tables (${second} bytes)`);
  assert.is(residentUsers(e, DS), 2);
  a!.destroy();
  assert.is(residentUsers(e, DS), 1, 'still held by b');
  b!.destroy();
  assert.is(residentUsers(e, DS), 0, 'freed with the last user');
  const again = await uploadedBytes(e, () => { new GpuBatcher(e, DS, OPTS).destroy(); });
  assert.ok(again >= pixels, 'uploaded afresh once freed');
  await e.sync();
});

test('resident: a streamed batcher takes no reference', async () => {
  const e = await requireEngine();
  const s = new GpuBatcher(e, DS, { ...OPTS, maxResidentBytes: 0 });
  assert.not.ok(s.resident);
  assert.is(residentUsers(e, DS), 0);
  s.destroy();
});

test('resident: fitsResident follows the budget and the device limits', async () => {
  const e = await requireEngine();
  assert.ok(fitsResident(e, DS));
  assert.not.ok(fitsResident(e, DS, 100), 'over a 100-byte budget');
  assert.ok(fitsResident(e, DS, residentBytes(DS)), 'exactly the budget');
});

test.run();
